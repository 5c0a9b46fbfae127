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
    let image = |subcommand: &str, compressor: Option<&str>, out: &Path| {
        let mut command = Command::new(strata_binary());
        command.args([subcommand, "--name", "streamed", "--contents", &busybox]);
        if let Some(compressor) = compressor {
            command.args(["--compressor", compressor]);
        }
        run(command.arg("-o").arg(out));
    };
    let stream = |description: &Path| {
        let output = output_of(Command::new(strata_binary()).arg("stream").arg(description));
        assert!(output.status.success(), "{output:?}");
        output.stdout
    };
    // Told how to compress, the stream is the archive, byte for byte.
    let archive = dir.path().join("built.tar");
    let description = dir.path().join("description.json");
    image("build", None, &archive);
    image("describe", Some("gz"), &description);
    assert!(stream(&description) == fs::read(&archive).unwrap());
    // Not told, it carries the same tars uncompressed.
    image("describe", None, &description);
    let uncompressed = dir.path().join("uncompressed.tar");
    fs::write(&uncompressed, stream(&description)).unwrap();
    let (kept, streamed) = (oci_manifest(&archive), oci_manifest(&uncompressed));
    for (kept, streamed) in kept["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(streamed["layers"].as_array().unwrap())
    {
        assert_eq!(
            kept["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(
            streamed["mediaType"],
            "application/vnd.oci.image.layer.v1.tar"
        );
    }
    assert_eq!(
        skopeo_config(&archive)["rootfs"],
        skopeo_config(&uncompressed)["rootfs"],
        "the same tars"
    );
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

/// A closure file of `paths` (no references) with their NAR hashes and
/// sizes, as exportReferencesGraph writes it.
fn closure_with_hashes(dir: &Path, paths: &[&str]) -> std::path::PathBuf {
    let records: Vec<serde_json::Value> = paths
        .iter()
        .map(|path| {
            let query = |what: &str| {
                run(Command::new("nix-store").args(["--query", what, path]))
                    .trim()
                    .to_owned()
            };
            serde_json::json!({
                "path": path,
                "narHash": query("--hash"),
                "narSize": query("--size").parse::<u64>().unwrap(),
                "references": [],
            })
        })
        .collect();
    let file = dir.join("closure.json");
    fs::write(&file, serde_json::to_string(&records).unwrap()).unwrap();
    file
}

#[test]
fn a_new_version_takes_unchanged_layers_from_the_previous_description_unread() {
    let (busybox, tree) = (nix_build("busybox"), nix_build("tree"));
    let dir = tempfile::tempdir().unwrap();
    let closure = closure_with_hashes(dir.path(), &[&busybox, &tree]);
    let describe = |out: &Path, previous: Option<&Path>| -> serde_json::Value {
        let mut command = Command::new(strata_binary());
        command
            .args(["describe", "--name", "versions", "--contents", &busybox])
            .args(["--contents", &tree, "--closure"])
            .arg(&closure);
        if let Some(previous) = previous {
            command.arg("--previous-plan").arg(previous);
        }
        run(command.arg("-o").arg(out));
        serde_json::from_slice(&fs::read(out).unwrap()).unwrap()
    };
    let v1 = describe(&dir.path().join("v1.json"), None);
    let layers = v1["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3, "busybox, tree, customisation");
    assert!(
        layers[..2].iter().all(|l| l["source"].is_string()),
        "{layers:?}"
    );
    let v2 = describe(
        &dir.path().join("v2.json"),
        Some(&dir.path().join("v1.json")),
    );
    assert_eq!(v2["layers"], v1["layers"]);

    // A previous description that lies about a layer: its diff_id is taken
    // unread, and the stream that regenerates the layer finds it out.
    let mut lying = v1.clone();
    let lie = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    lying["layers"][0]["diffId"] = lie.into();
    let lying_file = dir.path().join("lying.json");
    fs::write(&lying_file, lying.to_string()).unwrap();
    let v2 = describe(&dir.path().join("v2-lied-to.json"), Some(&lying_file));
    assert_eq!(v2["layers"][0]["diffId"], lie);
    let streamed = output_of(
        Command::new(strata_binary())
            .arg("stream")
            .arg(dir.path().join("v2-lied-to.json")),
    );
    let stderr = String::from_utf8_lossy(&streamed.stderr);
    assert!(!streamed.status.success());
    assert!(
        stderr.contains("layer 1 no longer matches its recorded digest")
            && stderr.contains(&busybox),
        "{stderr}"
    );
    let end = &streamed.stdout[streamed.stdout.len().saturating_sub(4096)..];
    assert!(
        !String::from_utf8_lossy(end).contains("manifest.json"),
        "the stream stopped before the archive's index"
    );
}
