//! Bad input gets a clear error that names the culprit, a non-zero exit, and
//! no output left behind. One test per case.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// Builds a fixture that must fail; checks that the message says
/// `expected` and that the derivation left no output.
fn assert_nix_build_fails(attribute: &str, expected: &[&str]) {
    let out = out_path_of(attribute);
    let output = output_of(&mut nix_build_command(attribute));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{attribute} built:\n{stderr}");
    for text in expected {
        assert!(
            stderr.contains(text),
            "the error of {attribute} does not say '{text}':\n{stderr}"
        );
    }
    assert!(!Path::new(&out).exists(), "{attribute} left {out} behind");
}

/// Runs strata, which must fail with a message saying each of `expected`.
fn assert_strata_fails(command: &mut Command, expected: &[&str]) {
    let output = output_of(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "strata succeeded:\n{stderr}");
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.starts_with("strata: error: "), "{stderr}");
    for text in expected {
        assert!(
            stderr.contains(text),
            "the error does not say '{text}':\n{stderr}"
        );
    }
}

#[test]
fn missing_attrs_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_strata_fails(
        Command::new(strata_binary())
            .args(["builder", "archive"])
            .current_dir(dir.path())
            .env_remove("NIX_ATTRS_JSON_FILE"),
        &[".attrs.json", "__structuredAttrs"],
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn malformed_attrs_file() {
    let dir = tempfile::tempdir().unwrap();
    let attrs = dir.path().join("attrs.json");
    fs::write(&attrs, "{\"outputs\": {\"out\": ").unwrap();
    assert_strata_fails(
        Command::new(strata_binary())
            .args(["builder", "archive"])
            .env("NIX_ATTRS_JSON_FILE", &attrs),
        &["attrs.json", "not valid JSON"],
    );
}

#[test]
fn attrs_without_the_exported_closure() {
    let dir = tempfile::tempdir().unwrap();
    let spec_source = dir.path().join("spec.json");
    fs::write(&spec_source, r#"{"name":"x","tag":"t"}"#).unwrap();
    let spec = run(Command::new("nix-store").arg("--add").arg(&spec_source));
    let spec = spec.trim();
    let out = dir.path().join("out");
    let attrs = dir.path().join("attrs.json");
    let json = serde_json::json!({
        "outputs": { "out": out },
        "specFile": spec,
        "system": "x86_64-linux",
    });
    fs::write(&attrs, json.to_string()).unwrap();
    assert_strata_fails(
        Command::new(strata_binary())
            .args(["builder", "archive"])
            .env("NIX_ATTRS_JSON_FILE", &attrs),
        &["exportReferencesGraph.closure", "no attribute `closure`"],
    );
    assert!(!out.exists());
}

#[test]
fn contents_that_are_not_store_paths() {
    assert_nix_build_fails(
        "bad.non-store-contents",
        &["'/etc' is not in the Nix store", "contents"],
    );
}

#[test]
fn too_few_layers() {
    assert_nix_build_fails("bad.max-layers", &["maxLayers is 1", "at least 2"]);
}

#[test]
fn invalid_image_name() {
    assert_nix_build_fails(
        "bad.upper-case-name",
        &["invalid image name 'Bad'", "lower case"],
    );
}

#[test]
fn invalid_image_tag() {
    assert_nix_build_fails("bad.bad-tag", &["invalid image tag 'v1:latest'", "':'"]);
}

#[test]
fn excluding_a_path_the_config_runs() {
    let busybox = nix_build("busybox");
    assert_nix_build_fails(
        "bad.excluded-command",
        &[
            "excludePaths would remove",
            &busybox,
            "the image config points to",
        ],
    );
}

/// Evaluates a fixture that must be refused before anything is built, with
/// a message saying `expected`.
fn assert_nix_eval_fails(attribute: &str, expected: &str) {
    let output = output_of(&mut nix_build_command(attribute));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{attribute} built:\n{stderr}");
    assert!(stderr.contains(expected), "{stderr}");
}

#[test]
fn layers_not_made_by_build_layer() {
    assert_nix_eval_fails(
        "bad.not-a-layer",
        "every entry of `layers` must come from buildLayer",
    );
}

#[test]
fn a_previous_plan_that_is_a_derivation() {
    assert_nix_eval_fails(
        "bad.previous-plan-derivation",
        "previousPlan must be a file, such as ./image-plan.json",
    );
}

#[test]
fn contents_that_collide() {
    let one = nix_build("clash-one");
    let two = nix_build("clash-two");
    assert_nix_build_fails("bad.collision", &["collide at /bin/clash", &one, &two]);
}

#[test]
fn store_path_missing_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let missing = "/nix/store/00000000000000000000000000000000-not-built";
    let out = dir.path().join("image.tar");
    assert_strata_fails(
        Command::new(strata_binary())
            .args(["build", "--name", "missing", "--closure"])
            .arg(closure_file(dir.path(), &[missing]))
            .arg("-o")
            .arg(&out),
        &[missing, "not on disk"],
    );
    assert!(!out.exists());
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the closure file remains"
    );
}

#[test]
fn special_file_in_a_store_path() {
    // Nix cannot put a fifo into the store, so the test makes one by hand.
    let store_path = "/nix/store/11111111111111111111111111111111-has-a-fifo";
    let _ = fs::remove_dir_all(store_path);
    fs::create_dir_all(format!("{store_path}/sub")).unwrap();
    fs::write(format!("{store_path}/a-file"), "data").unwrap();
    let fifo = format!("{store_path}/sub/fifo");
    run(Command::new("mkfifo").arg(&fifo));
    fs::set_permissions(store_path, fs::Permissions::from_mode(0o755)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("image.tar");
    let mut command = Command::new(strata_binary());
    command
        .args(["build", "--name", "fifo", "--closure"])
        .arg(closure_file(dir.path(), &[store_path]))
        .arg("-o")
        .arg(&out);
    let output = output_of(&mut command);
    fs::remove_dir_all(store_path).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains(&format!("{fifo} is a fifo")), "{stderr}");
    assert!(!out.exists(), "a partial archive was left behind");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the closure file remains"
    );
}

/// Runs `command` (given a closure file of busybox and an earlier plan) on
/// a missing plan file and on JSON that is not a plan: each must fail,
/// saying `also` and naming the file and what is wrong with it, and leave
/// no `output` behind.
fn assert_unreadable_plans_fail(
    command: impl Fn(&Path, &Path) -> Command,
    also: &[&str],
    output: Option<&Path>,
) {
    let busybox = nix_build("busybox");
    let dir = tempfile::tempdir().unwrap();
    let closure = closure_file(dir.path(), &[&busybox]);
    let not_a_plan = dir.path().join("notes.json");
    fs::write(&not_a_plan, "{\"layers\": 3}").unwrap();
    let missing = dir.path().join("missing.json");
    for (plan, culprit) in [(&missing, "cannot read"), (&not_a_plan, "is not a plan")] {
        let name = plan.to_string_lossy();
        let mut expected = vec![name.as_ref(), culprit];
        expected.extend(also);
        assert_strata_fails(&mut command(&closure, plan), &expected);
        assert!(
            output.is_none_or(|out| !out.exists()),
            "a partial output was left behind"
        );
    }
}

#[test]
fn a_previous_plan_that_is_missing_or_not_a_plan() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("image.tar");
    assert_unreadable_plans_fail(
        |closure, plan| {
            let mut command = Command::new(strata_binary());
            command
                .args(["build", "--name", "next", "--closure"])
                .arg(closure)
                .arg("--previous-plan")
                .arg(plan)
                .arg("-o")
                .arg(&out);
            command
        },
        &["previousPlan"],
        Some(&out),
    );
}

#[test]
fn an_earlier_plan_to_explain_against_that_is_missing_or_not_a_plan() {
    assert_unreadable_plans_fail(
        |closure, plan| {
            let mut command = Command::new(strata_binary());
            command
                .args(["explain", "--name", "next", "--closure"])
                .arg(closure)
                .arg("--since")
                .arg(plan);
            command
        },
        &[],
        None,
    );
}
