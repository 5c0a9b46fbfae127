//! The flake's outputs, evaluated and built with a stand-in for nixpkgs
//! (nixpkgs cannot be fetched here; see tests/nix/flake-outputs.nix).

mod common;

use std::process::Command;

use common::*;

fn flake_build(attribute: &str) -> std::process::Output {
    output_of(
        nix_command("nix-build", "tests/nix/flake-outputs.nix", attribute).arg("--no-out-link"),
    )
}

fn system() -> String {
    let system =
        run(Command::new("nix-instantiate").args(["--eval", "-E", "builtins.currentSystem"]));
    system.trim().trim_matches('"').to_owned()
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
    let manifest = archive_manifest(std::path::Path::new(archive.trim()));
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
