//! The flake's outputs, evaluated and built with a stand-in for nixpkgs
//! (nixpkgs cannot be fetched here; see tests/nix/nixpkgs.nix): the flake's
//! package is built from the source nix/package.nix names, and the images
//! of the checks are made by it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use common::*;

/// The toolchain directory and the cargo home the stand-in's
/// `buildRustPackage` builds with; the crate cache is filled first, for
/// every platform Cargo.lock names, as `cargo vendor` needs.
fn rust_toolchain() -> &'static (PathBuf, PathBuf) {
    static TOOLCHAIN: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    TOOLCHAIN.get_or_init(|| {
        let cargo = Path::new(env!("CARGO"));
        let toolchain = cargo.parent().expect("cargo is in a directory").to_owned();
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
            .expect("neither CARGO_HOME nor HOME is set");
        run(Command::new(cargo)
            .args(["fetch", "--locked", "--quiet", "--manifest-path"])
            .arg(repo().join("Cargo.toml"))
            .env("CARGO_HOME", &cargo_home));
        (toolchain, cargo_home)
    })
}

/// `program` on attribute `attribute` of tests/nix/flake-outputs.nix,
/// offline, building as the user who owns the toolchain.
fn flake_command(program: &str, attribute: &str) -> Command {
    require(program);
    let (toolchain, cargo_home) = rust_toolchain();
    let mut command = Command::new(program);
    command
        .current_dir(repo())
        .arg("tests/nix/flake-outputs.nix")
        .arg("--argstr")
        .arg("toolchain")
        .arg(toolchain)
        .arg("--argstr")
        .arg("cargoHome")
        .arg(cargo_home)
        .args(["-A", attribute])
        .args(["--option", "substituters", ""])
        .args(["--option", "build-users-group", ""]);
    command
}

fn flake_build(attribute: &str) -> Output {
    output_of(flake_command("nix-build", attribute).arg("--no-out-link"))
}

fn system() -> String {
    let system =
        run(Command::new("nix-instantiate").args(["--eval", "-E", "builtins.currentSystem"]));
    system.trim().trim_matches('"').to_owned()
}

/// Every file below `dir`, relative to it.
fn files_below(dir: &Path) -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(dir).unwrap();
                files.insert(relative.to_string_lossy().into_owned());
            }
        }
    }
    files
}

/// The entry files of the bench targets, as Cargo sees them.
fn bench_entries() -> Vec<String> {
    let metadata = run(Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--offline",
            "--format-version",
            "1",
        ])
        .current_dir(repo()));
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    let targets = metadata["packages"][0]["targets"].as_array().unwrap();
    let entries: Vec<String> = targets
        .iter()
        .filter(|t| t["kind"] == serde_json::json!(["bench"]))
        .map(|t| {
            let path = Path::new(t["src_path"].as_str().unwrap());
            path.strip_prefix(repo())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert!(!entries.is_empty(), "Cargo.toml declares no bench target");
    entries
}

#[test]
fn package_builds_from_its_own_source_and_nothing_more() {
    let system = system();
    let package = format!("packages.{system}.default");
    let output = flake_build(&package);
    assert!(
        output.status.success(),
        "the flake's package does not build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out = String::from_utf8(output.stdout).unwrap();
    let help = run(Command::new(Path::new(out.trim()).join("bin/strata")).arg("--help"));
    assert!(help.contains("Usage: strata"), "{help}");

    // The source is the manifest, the lock file, src/ and the files Cargo
    // needs for the bench targets: editing docs, tests or the benchmarks'
    // modules leaves the package as it is.
    let src = run(flake_command("nix-instantiate", &format!("{package}.src"))
        .args(["--eval", "--read-write-mode"]));
    let src = src.trim().trim_matches('"');
    let mut expected: BTreeSet<String> = ["Cargo.toml", "Cargo.lock"].map(String::from).into();
    expected.extend(
        files_below(&repo().join("src"))
            .iter()
            .map(|f| format!("src/{f}")),
    );
    expected.extend(bench_entries());
    assert_eq!(files_below(Path::new(src)), expected);
}

#[test]
fn flake_checks_build_every_example_and_the_reproducibility_check() {
    let system = system();
    for check in ["busybox", "script", "web", "many-paths", "reproducible"] {
        let output = flake_build(&format!("checks.{system}.{check}"));
        assert!(
            output.status.success(),
            "check {check} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn reproducibility_check_fails_when_two_builds_differ() {
    let output = flake_build("unreproducible");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("two builds of clock differ"), "{stderr}");
}

#[test]
fn overlay_provides_the_library() {
    let output = flake_build("overlayImage");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let archive = String::from_utf8(output.stdout).unwrap();
    let manifest = archive_manifest(Path::new(archive.trim()));
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["from-overlay:test"])
    );
}

#[test]
fn flake_lock_pins_nixpkgs_for_the_flake_input() {
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("flake.lock")).unwrap()).unwrap();
    let nixpkgs = &lock["nodes"]["nixpkgs"];
    assert_eq!(lock["version"], 7);
    assert_eq!(nixpkgs["locked"]["type"], "github");
    assert_eq!(nixpkgs["locked"]["rev"].as_str().unwrap().len(), 40);
    let flake = std::fs::read_to_string(repo().join("flake.nix")).unwrap();
    let original = &nixpkgs["original"];
    let url = format!(
        "github:{}/{}/{}",
        original["owner"].as_str().unwrap(),
        original["repo"].as_str().unwrap(),
        original["ref"].as_str().unwrap()
    );
    assert!(flake.contains(&url), "flake.nix does not ask for {url}");
}
