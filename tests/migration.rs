//! What a rename from nixpkgs' dockerTools keeps: the stream script's
//! `--repo_tag`, `passthru.stream` and `isExe`, `.override`, and the
//! VM-only arguments accepted with a warning.

mod common;

use std::process::{Command, Stdio};

use common::*;

/// Runs the stream script `script` with `args`; its stdout.
fn stream(script: &str, args: &[&str]) -> Vec<u8> {
    let output = output_of(Command::new(script).args(args).stdout(Stdio::piped()));
    assert!(output.status.success(), "{}", stderr(&output));
    output.stdout
}

#[test]
fn the_stream_script_takes_repo_tag_and_names_the_image_so() {
    let script = nix_build("images.web.stream");
    let work = tempfile::tempdir().unwrap();
    for (args, name) in [
        (&["-t", "renamed:7"][..], "renamed:7"),
        (
            &["--repo_tag", "registry.example.com/team/web:8"][..],
            "registry.example.com/team/web:8",
        ),
    ] {
        let archive = work.path().join("web.tar");
        std::fs::write(&archive, stream(&script, args)).unwrap();
        let manifest = archive_manifest(&archive);
        assert_eq!(manifest[0]["RepoTags"], serde_json::json!([name]));
        podman_load(&archive);
        run(Command::new("podman").args(["image", "exists", name]));
    }
    let bad = output_of(
        Command::new(&script)
            .args(["-t", "Not:A:Name"])
            .stdout(Stdio::piped()),
    );
    assert_failed(&bad, &["--repo_tag Not:A:Name is not NAME:TAG"]);
    assert!(bad.stdout.is_empty(), "nothing is streamed");
}

#[test]
fn build_layered_image_has_its_stream_and_the_stream_is_an_executable() {
    // passthru.stream writes what streamLayeredImage of the same arguments
    // writes.
    let from_passthru = stream(&nix_build("images.web.stream"), &[]);
    let from_function = stream(&nix_build("uncompressed-streams.web"), &[]);
    assert_eq!(sha256_hex(&from_passthru), sha256_hex(&from_function));
    let is_exe = run(nix_command(
        "nix-instantiate",
        "tests/nix/fixtures.nix",
        "uncompressed-streams.web.isExe",
    )
    .arg("--eval"));
    assert_eq!(is_exe.trim(), "true");
}

#[test]
fn the_vm_only_arguments_are_accepted_with_a_warning() {
    let output = output_of(&mut nix_build_command("vmArguments"));
    assert_succeeded(
        &output,
        &[
            "strata: `diskSize` does nothing: strata builds images without a VM",
            "strata: `buildVMMemorySize` does nothing",
        ],
    );
}

#[test]
fn every_image_function_is_overridable() {
    let image = nix_build("overridden.image");
    let manifest = archive_manifest(std::path::Path::new(&image));
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["web:overridden"])
    );
    let config = skopeo_config(std::path::Path::new(&image));
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!(["OVERRIDDEN=yes"])
    );
    let streamed = stream(&nix_build("overridden.stream"), &[]);
    let archive = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(archive.path(), streamed).unwrap();
    assert_eq!(
        archive_manifest(archive.path())[0]["RepoTags"],
        serde_json::json!(["overridable:streamed"])
    );
}
