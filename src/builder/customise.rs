//! The customisation layer made by commands (`extraCommands`,
//! `fakeRootCommands`, `includeNixDB`), in a derivation of its own.
//!
//! The planned root (contents, accounts, directories) is made on disk in
//! `$out/root`, the commands run in it, and then every entry's mode and
//! owner are recorded in `$out/entries.json`, because the store keeps
//! neither: Nix resets modes and owners of what a build leaves. Under
//! `fakeRootCommands` the recording runs under the same fakeroot session,
//! so the owners that `chown` set are the ones recorded.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::emit::output::{self, OutputMode};
use crate::input::customisation::{ENTRIES_FILE, ROOT_DIR, Recorded, RecordedEntries};
use crate::plan::image_plan::ImagePlan;
use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// What the commands need from the Nix library.
pub struct Commands<'a> {
    pub shell: &'a str,
    pub path: &'a str,
    pub extra: &'a str,
    pub fake_root: &'a str,
    pub fakeroot: Option<&'a str>,
    /// `nix-store` and `sqlite3`, when the Nix database is made.
    pub nix_db: Option<(&'a str, &'a str)>,
}

/// Builds the customisation output at `out` from the planned root tree,
/// the closure (for the Nix database) and the commands.
pub fn build(
    plan: &ImagePlan,
    closure: &serde_json::Value,
    commands: &Commands,
    out: &Path,
) -> Result<()> {
    let root = out.join(ROOT_DIR);
    fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    if let Some(layer) = plan.customisation_layer() {
        layer.root.write_to(&root)?;
    }
    if let Some((nix_store, sqlite)) = commands.nix_db {
        make_nix_db(plan, closure, &root, nix_store, sqlite, commands)?;
    }
    if !commands.extra.is_empty() {
        run_shell(commands, &root, None, commands.extra, "extraCommands")?;
    }
    let state = out.join(".fakeroot-state");
    if !commands.fake_root.is_empty() {
        let fakeroot = commands
            .fakeroot
            .context("fakeRootCommands needs fakeroot; pass `pkgs` to the strata library")?;
        run_shell(
            commands,
            &root,
            Some((fakeroot, &state)),
            commands.fake_root,
            "fakeRootCommands",
        )?;
        // Record under the same fakeroot session: what chown set is seen.
        let status = Command::new(fakeroot)
            .arg("-i")
            .arg(&state)
            .arg("--")
            .arg(std::env::current_exe()?)
            .args(["builder", "record"])
            .env("PATH", commands.path)
            .status()
            .with_context(|| format!("cannot run {fakeroot}"))?;
        if !status.success() {
            bail!("recording the modes and owners under fakeroot failed ({status})");
        }
        fs::remove_file(&state).ok();
    } else {
        record_to_file(out, false)?;
    }
    Ok(())
}

/// Records `$out/root` into `$out/entries.json`, with owners when run
/// under fakeroot (by [`build`]).
pub fn record_to_file(out: &Path, owners: bool) -> Result<()> {
    let entries = record(&out.join(ROOT_DIR), owners)?;
    let json = serde_json::to_vec(&entries)?;
    output::write_file(&out.join(ENTRIES_FILE), OutputMode::InPlace, false, |w| {
        Ok(w.write_all(&json)?)
    })
}

/// Every entry below `root`, with its mode and owner as `lstat` reports
/// them. `lstat` from the C library, not a system call: fakeroot answers
/// it.
fn record(root: &Path, owners: bool) -> Result<RecordedEntries> {
    let mut entries = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let path = root.join(&relative);
        let stat = lstat(&path)?;
        if !relative.as_os_str().is_empty() {
            entries.insert(
                relative.to_string_lossy().into_owned(),
                Recorded {
                    mode: stat.st_mode & 0o7777,
                    owner: owners.then_some((stat.st_uid, stat.st_gid)),
                },
            );
        }
        if stat.st_mode & libc::S_IFMT == libc::S_IFDIR {
            for child in fs::read_dir(&path)? {
                stack.push(relative.join(child?.file_name()));
            }
        }
    }
    Ok(entries)
}

fn lstat(path: &Path) -> Result<libc::stat> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: a valid C string and a buffer of the right type.
    let result = unsafe { libc::lstat(c_path.as_ptr(), stat.as_mut_ptr()) };
    if result != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("cannot read {}", path.display()));
    }
    // SAFETY: lstat succeeded, so it filled the buffer.
    Ok(unsafe { stat.assume_init() })
}

/// Runs `script` with the shell in `root`, under fakeroot (the program,
/// and the file its session is saved to) when given.
fn run_shell(
    commands: &Commands,
    root: &Path,
    fakeroot: Option<(&str, &Path)>,
    script: &str,
    what: &str,
) -> Result<()> {
    let mut command = match fakeroot {
        // `-s`: the session's owners and modes are saved for the recording.
        Some((program, state)) => {
            let mut c = Command::new(program);
            c.arg("-s").arg(state).arg("--").arg(commands.shell);
            c
        }
        None => Command::new(commands.shell),
    };
    command
        .arg("-e")
        .arg("-c")
        .arg(script)
        .current_dir(root)
        .env("PATH", commands.path)
        .stdin(Stdio::null());
    let status = command
        .status()
        .with_context(|| format!("cannot run {what} with {}", commands.shell))?;
    if !status.success() {
        bail!("{what} failed ({status}); the image is not built");
    }
    Ok(())
}

/// One path of the exported closure, as `nix-store --load-db` wants it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Registration {
    path: String,
    nar_hash: String,
    nar_size: u64,
    references: Vec<String>,
}

/// A Nix database in `root` for the image's store paths, made by the
/// image's own Nix from the closure's registration, with the registration
/// times set to the image's mtime so that it is reproducible.
fn make_nix_db(
    plan: &ImagePlan,
    closure: &serde_json::Value,
    root: &Path,
    nix_store: &str,
    sqlite: &str,
    commands: &Commands,
) -> Result<()> {
    let records: Vec<Registration> = serde_json::from_value(closure.clone())
        .context("includeNixDB needs the closure with NAR hashes and sizes")?;
    let in_image: BTreeSet<&str> = plan
        .layers
        .iter()
        .flat_map(|l| l.paths.iter().map(|p| p.as_str()))
        .collect();
    let mut registration = String::new();
    for record in records
        .iter()
        .filter(|r| in_image.contains(r.path.as_str()))
    {
        registration.push_str(&format!(
            "{}\n{}\n{}\n\n{}\n",
            record.path,
            record.nar_hash,
            record.nar_size,
            record.references.len()
        ));
        for reference in &record.references {
            registration.push_str(reference);
            registration.push('\n');
        }
    }
    let mut child = Command::new(nix_store)
        .arg("--load-db")
        .env("NIX_REMOTE", format!("local?root={}", root.display()))
        .env("USER", "nobody")
        .env("PATH", commands.path)
        .stdin(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {nix_store}"))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(registration.as_bytes())?;
    let status = child.wait()?;
    if !status.success() {
        bail!("nix-store --load-db failed ({status})");
    }
    let db = root.join("nix/var/nix/db/db.sqlite");
    let status = Command::new(sqlite)
        .arg(&db)
        .arg(format!(
            "UPDATE ValidPaths SET registrationTime = {}",
            plan.spec.mtime.seconds()
        ))
        .status()
        .with_context(|| format!("cannot run {sqlite}"))?;
    if !status.success() {
        bail!("setting the registration times in {} failed", db.display());
    }
    // Space Nix keeps in reserve for a full disk (8 MiB of nothing), and
    // what it made for the build user and this process: none of it belongs
    // in the image, and the build user's name would make it differ.
    fs::remove_file(root.join("nix/var/nix/db/reserved")).ok();
    for per_process in [
        "nix/var/nix/gcroots/per-user",
        "nix/var/nix/profiles/per-user",
        "nix/var/nix/temproots",
    ] {
        let dir = root.join(per_process);
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("cannot remove {}", dir.display()))?;
        }
    }
    let gcroots = root.join("nix/var/nix/gcroots/docker");
    fs::create_dir_all(&gcroots)?;
    for content in &plan.spec.contents {
        let name = Path::new(content)
            .file_name()
            .context("a contents path has a name")?;
        symlink(content, gcroots.join(name))?;
    }
    Ok(())
}
