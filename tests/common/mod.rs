//! Shared helpers of the end-to-end tests: they drive the real tools (Nix,
//! skopeo, umoci, podman, dockerd) and fail loudly when one is missing.

#![allow(dead_code)] // each test binary uses its own subset

pub mod engines;
pub mod registry;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The repository, where `tests/nix/fixtures.nix` lives.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Panics with an install hint unless `tool` is on the PATH.
pub fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not installed, and this test needs it: run .ci/run (or apt-get install the package that provides it)"
    );
}

/// Runs `command`, panicking with its output when it fails.
pub fn run(command: &mut Command) -> String {
    let output = output_of(command);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

pub fn output_of(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// The strata binary under test, added to the Nix store (once per process).
pub fn strata_in_store() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        require("nix-store");
        let dir = tempfile::tempdir().unwrap();
        let package = dir.path().join("strata");
        fs::create_dir_all(package.join("bin")).unwrap();
        fs::copy(strata_binary(), package.join("bin/strata")).unwrap();
        run(Command::new("nix-store").arg("--add").arg(&package))
            .trim()
            .to_owned()
    })
}

/// The strata binary cargo built for these tests.
pub fn strata_binary() -> &'static str {
    env!("CARGO_BIN_EXE_strata")
}

/// `program` (nix-build, nix-instantiate) on attribute `attribute` of the
/// Nix file `file` (which takes the strata under test), offline.
pub fn nix_command(program: &str, file: &str, attribute: &str) -> Command {
    require(program);
    let mut command = Command::new(program);
    command
        .current_dir(repo())
        .arg(file)
        .arg("--arg")
        .arg("strata")
        .arg(format!("builtins.storePath \"{}\"", strata_in_store()))
        .args(["-A", attribute])
        .args(["--option", "substituters", ""]);
    command
}

/// `nix-build` of an attribute of the fixtures.
pub fn nix_build_command(attribute: &str) -> Command {
    let mut command = nix_command("nix-build", "tests/nix/fixtures.nix", attribute);
    command.arg("--no-out-link");
    command
}

/// Builds an attribute of the fixtures and returns its store path.
pub fn nix_build(attribute: &str) -> String {
    run(&mut nix_build_command(attribute)).trim().to_owned()
}

/// Loads an archive into podman.
pub fn podman_load(archive: &Path) {
    require("podman");
    run(Command::new("podman").arg("load").arg("-i").arg(archive));
}

/// `podman run` with the options this machine needs, returning stdout.
pub fn podman_run(image: &str, extra: &[&str], command: &[&str]) -> String {
    require("podman");
    require("runc");
    run(Command::new("podman")
        .args([
            "--runtime",
            "/usr/sbin/runc",
            "run",
            "--rm",
            "--network=none",
        ])
        .args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ])
        .args(extra)
        .arg(image)
        .args(command))
}

/// `skopeo copy` from `source` to an OCI layout at `dir` with tag `tag`;
/// skopeo checks every digest on the way.
pub fn skopeo_copy(source: &str, dir: &Path, tag: &str) {
    require("skopeo");
    run(Command::new("skopeo")
        .arg("copy")
        .arg(source)
        .arg(format!("oci:{}:{tag}", dir.display())));
}

/// The image config, as skopeo reads it from an archive.
pub fn skopeo_config(archive: &Path) -> serde_json::Value {
    require("skopeo");
    let text = run(Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("docker-archive:{}", archive.display())));
    serde_json::from_str(&text).expect("skopeo prints JSON")
}

/// Unpacks tag `tag` of the OCI layout `dir` with umoci; returns the rootfs.
pub fn umoci_unpack(dir: &Path, tag: &str, bundle: &Path) -> PathBuf {
    require("umoci");
    run(Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:{tag}", dir.display()))
        .arg(bundle));
    bundle.join("rootfs")
}

/// The store paths an image must hold: the closure of its spec file, less
/// the spec file itself.
pub fn expected_store_paths(spec_file: &str) -> BTreeSet<String> {
    let text = run(Command::new("nix-store").args(["--query", "--requisites", spec_file]));
    text.lines()
        .filter(|p| *p != spec_file)
        .map(str::to_owned)
        .collect()
}

/// Checks that `rootfs/nix/store` holds exactly `store_paths`, each
/// identical to the store's copy: same kinds, bytes, modes, link targets.
pub fn assert_store_paths_match(rootfs: &Path, store_paths: &BTreeSet<String>) {
    let in_image: BTreeSet<String> = fs::read_dir(rootfs.join("nix/store"))
        .expect("the image has /nix/store")
        .map(|e| format!("/nix/store/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    assert_eq!(
        &in_image, store_paths,
        "the image's /nix/store differs from the closure"
    );
    for path in store_paths {
        assert_same_tree(Path::new(path), &rootfs.join(path.trim_start_matches('/')));
    }
}

/// Compares two trees entry by entry, without following symlinks.
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    let e = fs::symlink_metadata(expected).unwrap();
    let a = fs::symlink_metadata(actual)
        .unwrap_or_else(|err| panic!("{} is missing from the image: {err}", actual.display()));
    assert_eq!(
        e.file_type(),
        a.file_type(),
        "{} has a different kind in the image",
        expected.display()
    );
    if e.file_type().is_symlink() {
        assert_eq!(
            fs::read_link(expected).unwrap(),
            fs::read_link(actual).unwrap()
        );
        return;
    }
    assert_eq!(
        e.permissions().mode() & 0o7777,
        a.permissions().mode() & 0o7777,
        "{} has a different mode in the image",
        expected.display()
    );
    assert_eq!(a.uid(), 0, "{} is not owned by root", actual.display());
    if e.is_dir() {
        let names = |dir: &Path| -> BTreeSet<_> {
            fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect()
        };
        let (en, an) = (names(expected), names(actual));
        assert_eq!(
            en,
            an,
            "{} lists different entries in the image",
            expected.display()
        );
        for name in en {
            assert_same_tree(&expected.join(&name), &actual.join(&name));
        }
    } else {
        assert_eq!(
            e.len(),
            a.len(),
            "{} has a different size",
            expected.display()
        );
        assert!(
            same_bytes(expected, actual),
            "{} has different bytes",
            expected.display()
        );
    }
}

pub fn same_bytes(a: &Path, b: &Path) -> bool {
    let (mut fa, mut fb) = (fs::File::open(a).unwrap(), fs::File::open(b).unwrap());
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = fa.read(&mut ba).unwrap();
        if n == 0 {
            return fb.read(&mut bb).unwrap() == 0;
        }
        if fb.read_exact(&mut bb[..n]).is_err() || ba[..n] != bb[..n] {
            return false;
        }
    }
}

/// Checks the customisation root: every entry of every contents path is
/// reachable at the same place under `/` of the image, either through a
/// symlink to it or inside a merged directory, and `/` has nothing else.
pub fn assert_contents_linked(rootfs: &Path, contents: &[&str]) {
    let mut top_level: BTreeSet<String> = BTreeSet::from(["nix".to_owned()]);
    for content in contents {
        for entry in fs::read_dir(content).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name == "nix-support" || name == "propagated-build-inputs" {
                continue;
            }
            assert_linked(rootfs, Path::new(content), Path::new(&name));
            top_level.insert(name);
        }
    }
    let actual: BTreeSet<String> = fs::read_dir(rootfs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        actual, top_level,
        "/ of the image holds other entries than the contents"
    );
}

/// `/relative` in the image must be the store's own copy of
/// `content/relative`, a symlink to it (or to where it leads), or, where it
/// is a directory, a directory whose entries are, recursively.
fn assert_linked(rootfs: &Path, content: &Path, relative: &Path) {
    let source = content.join(relative);
    let image_parent = Path::new("/").join(relative.parent().unwrap());
    let parent = resolve_in_root(rootfs, &image_parent)
        .unwrap_or_else(|| panic!("{} does not resolve in the image", image_parent.display()));
    let store_copy = rootfs.join(source.parent().unwrap().strip_prefix("/").unwrap());
    if parent == store_copy {
        return; // inside the content's own store path, compared elsewhere
    }
    let entry = parent.join(relative.file_name().unwrap());
    let meta = fs::symlink_metadata(&entry)
        .unwrap_or_else(|_| panic!("/{} is missing from the image", relative.display()));
    if meta.file_type().is_symlink() {
        assert!(
            !fs::symlink_metadata(&source).unwrap().is_dir(),
            "/{} is a link to the directory {}, not a directory of its own",
            relative.display(),
            source.display()
        );
        let target = fs::read_link(&entry).unwrap();
        assert!(
            target == source
                || fs::canonicalize(&target).is_ok_and(|t| fs::canonicalize(&source).unwrap() == t),
            "/{} links to {}, elsewhere than its contents path",
            relative.display(),
            target.display()
        );
    } else {
        assert!(
            meta.is_dir(),
            "/{} is neither a link nor a merged directory",
            relative.display()
        );
        assert!(fs::metadata(&source).unwrap().is_dir());
        for child in fs::read_dir(&source).unwrap() {
            assert_linked(rootfs, content, &relative.join(child.unwrap().file_name()));
        }
    }
}

/// Resolves `path` as a process chrooted at `root` would, following
/// symlinks (absolute targets from `root`).
pub fn resolve_in_root(root: &Path, path: &Path) -> Option<PathBuf> {
    let mut resolved = PathBuf::from("/");
    let mut pending: Vec<PathBuf> = path
        .components()
        .rev()
        .map(|c| PathBuf::from(c.as_os_str()))
        .collect();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.components().next()? {
            Component::RootDir => resolved = PathBuf::from("/"),
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => {
                let candidate = resolved.join(name);
                let on_disk = root.join(candidate.strip_prefix("/").unwrap());
                let meta = fs::symlink_metadata(&on_disk).ok()?;
                if meta.file_type().is_symlink() {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    let target = fs::read_link(&on_disk).ok()?;
                    for component in target.components().rev() {
                        pending.push(PathBuf::from(component.as_os_str()));
                    }
                    if target.is_absolute() {
                        pending.push(PathBuf::from("/"));
                    }
                } else {
                    resolved = candidate;
                }
            }
            Component::Prefix(_) => return None,
        }
    }
    Some(root.join(resolved.strip_prefix("/").unwrap()))
}

/// A file of the archive, by its name in the archive.
pub fn archive_file(archive: &Path, name: &str) -> Vec<u8> {
    let mut tar = tar::Archive::new(fs::File::open(archive).unwrap());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap() == Path::new(name) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            return bytes;
        }
    }
    panic!("{} has no {name}", archive.display());
}

/// The archive's OCI manifest, found through its index.
pub fn oci_manifest(archive: &Path) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&archive_file(archive, "index.json")).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap();
    let blob = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    serde_json::from_slice(&archive_file(archive, &blob)).unwrap()
}

/// The digests of the layers the archive's OCI manifest lists, bottom
/// first.
pub fn oci_layer_digests(archive: &Path) -> Vec<String> {
    oci_manifest(archive)["layers"]
        .as_array()
        .expect("the manifest lists layers")
        .iter()
        .map(|l| l["digest"].as_str().expect("a layer digest").to_owned())
        .collect()
}

/// The layers listed by the archive's Docker manifest.
pub fn archive_manifest(archive: &Path) -> serde_json::Value {
    serde_json::from_slice(&archive_file(archive, "manifest.json")).unwrap()
}

/// The out path a derivation would have, whether or not it was built.
pub fn out_path_of(attribute: &str) -> String {
    let drv = run(&mut nix_command(
        "nix-instantiate",
        "tests/nix/fixtures.nix",
        attribute,
    ));
    run(Command::new("nix-store").args(["--query", "--outputs", drv.trim()]))
        .trim()
        .to_owned()
}

/// The layer files the archive's Docker manifest lists, bottom first
/// (named by digest).
pub fn archive_layers(archive: &Path) -> Vec<String> {
    archive_manifest(archive)[0]["Layers"]
        .as_array()
        .expect("the manifest lists layers")
        .iter()
        .map(|l| l.as_str().expect("a layer file name").to_owned())
        .collect()
}

/// How many layers the archive's Docker manifest lists.
pub fn layer_count(archive: &Path) -> usize {
    archive_layers(archive).len()
}

/// A closure file (exportReferencesGraph's JSON) of `paths`, with no
/// references, in `dir`.
pub fn closure_file(dir: &Path, paths: &[&str]) -> PathBuf {
    let records: Vec<_> = paths
        .iter()
        .map(|p| serde_json::json!({ "path": p, "narSize": 1000, "references": [] }))
        .collect();
    let file = dir.join("closure.json");
    fs::write(&file, serde_json::to_string(&records).unwrap()).unwrap();
    file
}

/// A `podman system service` on a socket of its own (it serves the Docker
/// Engine API), stopped on drop.
pub struct PodmanService {
    child: std::process::Child,
    pub socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl PodmanService {
    pub fn start() -> PodmanService {
        require("podman");
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("podman.sock");
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start podman system service");
        let started = std::time::Instant::now();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "podman system service did not open {}",
                socket.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        PodmanService {
            child,
            socket,
            _dir: dir,
        }
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts that a command succeeded and that its stderr says each of `said`.
pub fn assert_succeeded(output: &std::process::Output, said: &[&str]) {
    assert!(output.status.success(), "{}", stderr(output));
    assert_said(output, said);
}

/// Asserts that a command failed and that its stderr says each of `said`.
pub fn assert_failed(output: &std::process::Output, said: &[&str]) {
    assert!(!output.status.success(), "{}", stderr(output));
    assert_said(output, said);
}

pub fn assert_said(output: &std::process::Output, said: &[&str]) {
    let text = stderr(output);
    for expected in said {
        assert!(text.contains(expected), "no {expected:?} in:\n{text}");
    }
}

/// Lower-case hex of the SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `bytes` as JSON, panicking with the start of them when they are not.
pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
        )
    })
}

/// `skopeo inspect --raw` of `reference`, plain HTTP allowed.
pub fn skopeo_raw(reference: &str) -> Output {
    require("skopeo");
    output_of(
        Command::new("skopeo")
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(reference),
    )
}
