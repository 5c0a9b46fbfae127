//! Asking the local Nix store for a closure, when strata runs by hand.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::format::store_path::StorePath;
use crate::input::closure::{self, PathRecord};

/// The closure of `roots`, with NAR sizes and references, from
/// `nix-store --query --requisites` and `nix-store --dump-db`.
pub fn query_closure(roots: &[StorePath]) -> Result<Vec<PathRecord>> {
    if roots.is_empty() {
        return Ok(Vec::new());
    }
    let requisites = run_nix_store(
        ["--query", "--requisites"],
        roots.iter().map(StorePath::as_str),
    )?;
    let paths: Vec<&str> = requisites.lines().filter(|l| !l.is_empty()).collect();
    let registration = run_nix_store(["--dump-db"], paths.iter().copied())?;
    closure::parse_registration(&registration)
        .context("cannot read the output of nix-store --dump-db")
}

fn run_nix_store<'a>(
    options: impl IntoIterator<Item = &'a str>,
    paths: impl IntoIterator<Item = &'a str>,
) -> Result<String> {
    let mut command = Command::new("nix-store");
    command.args(options).args(paths);
    let output = command.output().context(
        "cannot run nix-store to find the closure; install Nix, or pass the closure with --closure FILE",
    )?;
    if !output.status.success() {
        bail!(
            "nix-store failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout).context("nix-store printed something that is not UTF-8")
}
