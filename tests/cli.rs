//! strata by hand, outside any derivation.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn help_explains_every_subcommand() {
    let help = run(Command::new(strata_binary()).arg("--help"));
    for subcommand in ["build", "describe", "stream", "plan", "builder"] {
        assert!(
            help.contains(subcommand),
            "--help does not mention {subcommand}:\n{help}"
        );
    }
    let build = run(Command::new(strata_binary()).args(["build", "--help"]));
    for option in [
        "--spec",
        "--contents",
        "--max-layers",
        "--closure",
        "--output",
        "--threads",
    ] {
        assert!(
            build.contains(option),
            "build --help does not mention {option}:\n{build}"
        );
    }
}

#[test]
fn builds_from_store_paths_asking_nix_store_for_the_closure() {
    let busybox = nix_build("busybox");
    let tree = nix_build("tree");
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("by-hand.tar");
    let spec = dir.path().join("spec.json");
    fs::write(
        &spec,
        serde_json::json!({
            "name": "by-hand",
            "config": { "Cmd": [format!("{tree}/bin/tree-hello")], "Env": ["MODE=hand"] },
            "maxLayers": 3,
        })
        .to_string(),
    )
    .unwrap();
    run(Command::new(strata_binary())
        .arg("build")
        .arg("--spec")
        .arg(&spec)
        .args([
            "--tag",
            "v1",
            "--contents",
            &busybox,
            "--compressor",
            "zstd",
            "-o",
        ])
        .arg(&archive));
    let manifest = archive_manifest(&archive);
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["by-hand:v1"]));
    assert_eq!(layer_count(&archive), 3);
    let manifest = oci_manifest(&archive);
    for layer in manifest["layers"].as_array().unwrap() {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
    }
    let config = skopeo_config(&archive);
    assert_eq!(config["config"]["Env"], serde_json::json!(["MODE=hand"]));

    let layout = dir.path().join("oci");
    skopeo_copy(
        &format!("docker-archive:{}", archive.display()),
        &layout,
        "v1",
    );
    let rootfs = umoci_unpack(&layout, "v1", &dir.path().join("bundle"));
    let mut expected = expected_store_paths(&busybox);
    expected.extend(expected_store_paths(&tree));
    expected.insert(busybox.clone());
    expected.insert(tree.clone());
    assert_store_paths_match(&rootfs, &expected);
    assert_contents_linked(&rootfs, &[&busybox]);

    podman_load(&archive);
    assert_eq!(podman_run("by-hand:v1", &[], &[]), "tree says hi\n");
}

#[test]
fn describe_then_stream_gives_the_archive_build_gives() {
    let busybox = nix_build("busybox");
    let dir = tempfile::tempdir().unwrap();
    let image = |subcommand: &str, out: &Path| {
        run(Command::new(strata_binary())
            .args([
                subcommand,
                "--name",
                "streamed",
                "--contents",
                &busybox,
                "-o",
            ])
            .arg(out));
    };
    let archive = dir.path().join("built.tar");
    let description = dir.path().join("description.json");
    image("build", &archive);
    image("describe", &description);
    let streamed = dir.path().join("streamed.tar");
    let status = Command::new(strata_binary())
        .arg("stream")
        .arg(&description)
        .stdout(fs::File::create(&streamed).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(fs::read(&streamed).unwrap() == fs::read(&archive).unwrap());
}

#[test]
fn plan_prints_the_layers_without_writing_them() {
    let busybox = nix_build("busybox");
    let plan =
        run(Command::new(strata_binary()).args(["plan", "--name", "p", "--contents", &busybox]));
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let layers = plan["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["paths"], serde_json::json!([busybox]));
    assert!(layers[0]["reason"].as_str().unwrap().contains("busybox"));
    assert_eq!(layers[1]["paths"], serde_json::json!([]));
    let root = &layers[1]["root"];
    assert_eq!(root["bin"], "directory", "{root}");
    assert_eq!(
        root["bin/sh"]["symlink"],
        format!("{busybox}/bin/sh"),
        "{root}"
    );
}

#[test]
fn builds_explicit_layers_given_in_a_spec_by_hand() {
    let (busybox, tree) = (nix_build("busybox"), nix_build("tree"));
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    fs::write(
        &spec,
        serde_json::json!({
            "name": "layered-by-hand",
            "layers": [{ "deps": [tree] }],
            "contents": [busybox],
        })
        .to_string(),
    )
    .unwrap();
    let plan = run(Command::new(strata_binary())
        .arg("plan")
        .arg("--spec")
        .arg(&spec));
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(plan["layers"][0]["reason"], "explicit layer 1");
    assert_eq!(plan["layers"][0]["paths"], serde_json::json!([tree]));
}
