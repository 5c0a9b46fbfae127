//! Every example and fixture image, built by Nix with strata as the builder,
//! checked with the real consumers: skopeo (which verifies every digest),
//! umoci (whose unpacked root must be exactly the closure plus the
//! customisation root) and podman (load and run).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use common::engines::*;
use common::*;

/// Builds image `name` of the fixtures and checks it with skopeo and umoci.
/// `contents` are the fixture attributes linked into its root. Returns the
/// archive.
fn check_image(name: &str, contents: &[&str]) -> String {
    let archive = nix_build(&format!("images.{name}"));
    // skopeo reads the archive both as a Docker archive and as an OCI archive.
    check_unpacked(
        name,
        &[
            format!("docker-archive:{archive}"),
            format!("oci-archive:{archive}"),
        ],
        contents,
    );
    archive
}

/// Copies image `name` from each of `sources` with skopeo (which checks
/// every digest), then unpacks it with umoci and compares its root with the
/// closure and `contents`.
fn check_unpacked(name: &str, sources: &[String], contents: &[&str]) {
    let spec_file = nix_build(&format!("images.{name}.drvAttrs.specFile"));
    let contents: Vec<String> = contents.iter().map(|c| nix_build(c)).collect();
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("oci");
    for (i, source) in sources.iter().enumerate() {
        skopeo_copy(source, &layout, &format!("copy{i}"));
    }
    let rootfs = umoci_unpack(&layout, "copy0", &work.path().join("bundle"));
    assert_store_paths_match(&rootfs, &expected_store_paths(&spec_file));
    let content_refs: Vec<&str> = contents.iter().map(String::as_str).collect();
    assert_contents_linked(&rootfs, &content_refs);
}

/// Loads an archive or layout directory into podman; returns the name
/// podman gave the image.
fn podman_load_named(source: &str) -> String {
    let out = run(Command::new("podman").args(["load", "-i", source]));
    out.lines()
        .find_map(|l| l.strip_prefix("Loaded image: "))
        .unwrap_or_else(|| panic!("podman load printed no image name: {out}"))
        .trim()
        .to_owned()
}

#[test]
fn busybox_example_runs_a_shell() {
    let archive = check_image("busybox", &["busybox"]);
    in_every_engine(&[Path::new(&archive)], |engine| {
        let out = engine.run(
            "busybox:latest",
            &[],
            &["sh", "-c", "echo shell works; ls /bin/sh"],
        );
        assert_eq!(out, "shell works\n/bin/sh\n", "in {engine}");
    });
}

#[test]
fn script_example_runs_its_entrypoint() {
    let archive = check_image("script", &[]);
    in_every_engine(&[Path::new(&archive)], |engine| {
        assert_eq!(
            engine.run("greet:latest", &[], &[]),
            "hello from strata, nix\n",
            "in {engine}"
        );
        assert_eq!(
            engine.run("greet:latest", &[], &[&engine.to_string()]),
            format!("hello from strata, {engine}\n")
        );
    });
    let config = skopeo_config(Path::new(&archive));
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.description"],
        "prints a greeting"
    );
}

#[test]
fn web_example_serves_its_page() {
    let archive = check_image("web", &["busybox"]);
    let config = skopeo_config(Path::new(&archive));
    assert_eq!(
        config["config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
    let cmd: Vec<String> = config["config"]["Cmd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(cmd[0], "/bin/httpd");
    let script = format!(
        "{} & sleep 1; wget -qO- http://127.0.0.1:8080/",
        cmd.join(" ")
    );
    in_every_engine(&[Path::new(&archive)], |engine| {
        let page = engine.run("web:latest", &[], &["/bin/sh", "-c", &script]);
        assert_eq!(page, "<h1>served by a strata image</h1>\n", "in {engine}");
    });
}

#[test]
fn many_paths_example_keeps_to_its_layer_budget() {
    let archive = check_image("many-paths", &["busybox"]);
    let spec_file = nix_build("images.many-paths.drvAttrs.specFile");
    let paths = expected_store_paths(&spec_file).len();
    let layers = layer_count(Path::new(&archive));
    assert!(
        paths > 40,
        "the example has more store paths ({paths}) than layers"
    );
    assert!(
        layers <= 40,
        "maxLayers = 40, but the image has {layers} layers"
    );
    in_every_engine(&[Path::new(&archive)], |engine| {
        let out = engine.run("many-paths:latest", &[], &[]);
        assert_eq!(out, format!("{paths}\n119\n"), "in {engine}");
    });
}

#[test]
fn tree_fixture_keeps_every_awkward_entry() {
    // Long, deep and non-ASCII names, every kind of symlink, an empty
    // directory, a 110 MiB sparse file and hard links, compared entry by
    // entry by check_image.
    let archive = check_image("tree", &["busybox", "tree"]);
    let tree = nix_build("tree");
    in_every_engine(&[Path::new(&archive)], |engine| {
        assert_eq!(engine.run("tree:test", &[], &[]), "tree says hi\n");
        let out = engine.run(
            "tree:test",
            &[],
            &[
                "/bin/sh",
                "-c",
                &format!("cat {tree}/share/linked-b {tree}/share/relative-link"),
            ],
        );
        assert_eq!(
            out, "one file, two names\n#!/bin/sh\necho \"tree says hi\"\n",
            "in {engine}"
        );
    });
}

#[test]
fn build_image_makes_one_store_layer_and_a_root_layer() {
    let archive = check_image("single", &["busybox"]);
    let layers = layer_count(Path::new(&archive));
    assert_eq!(layers, 2);
    in_every_engine(&[Path::new(&archive)], |engine| {
        assert_eq!(engine.run("single:test", &[], &[]), "single layer\n");
    });
}

/// Runs a stream script into a file in `dir`.
fn streamed_to_file(script: &str, dir: &Path) -> std::path::PathBuf {
    let streamed = dir.join("streamed.tar");
    let status = Command::new(script)
        .stdout(fs::File::create(&streamed).unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "{script} failed");
    streamed
}

#[test]
fn stream_scripts_write_the_stored_archives_byte_for_byte() {
    for name in ["busybox", "script", "web", "many-paths"] {
        let archive = nix_build(&format!("images.{name}"));
        let work = tempfile::tempdir().unwrap();
        let streamed = streamed_to_file(&nix_build(&format!("streams.{name}")), work.path());
        assert!(
            fs::read(&streamed).unwrap() == fs::read(&archive).unwrap(),
            "the stream of {name}, told to compress with gz, differs from its archive"
        );
    }
}

#[test]
fn streams_carry_the_same_tars_uncompressed_by_default() {
    for name in ["busybox", "script", "web", "many-paths"] {
        let archive = nix_build(&format!("images.{name}"));
        let work = tempfile::tempdir().unwrap();
        let script = nix_build(&format!("uncompressed-streams.{name}"));
        let streamed = streamed_to_file(&script, work.path());
        assert_eq!(
            layer_media_types(streamed.to_str().unwrap()),
            BTreeSet::from(["application/vnd.oci.image.layer.v1.tar".to_owned()]),
            "{name}"
        );
        assert_eq!(
            skopeo_config(&streamed),
            skopeo_config(Path::new(&archive)),
            "{name}: the config names the same tars"
        );
        if name == "busybox" {
            in_every_engine(&[&streamed], |engine| {
                assert_eq!(
                    engine.run("busybox:latest", &[], &["echo", "loaded"]),
                    "loaded\n"
                );
            });
        }
    }
}

#[test]
fn image_tag_defaults_to_a_store_hash() {
    let tag = run(Command::new("nix-instantiate")
        .current_dir(repo())
        .args([
            "--eval",
            "--json",
            "tests/nix/fixtures.nix",
            "--arg",
            "strata",
        ])
        .arg(format!("builtins.storePath \"{}\"", strata_in_store()))
        .args(["-A", "images.untagged.imageTag"]));
    let tag: String = serde_json::from_str(&tag).unwrap();
    assert_eq!(tag.len(), 32);
    let archive = nix_build("images.untagged");
    let manifest = archive_manifest(Path::new(&archive));
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!([format!("untagged:{tag}")])
    );
}

#[test]
fn images_share_an_explicit_layer_byte_for_byte() {
    let a = check_image("shared-a", &["busybox"]);
    let b = check_image("shared-b", &["busybox", "etc-files"]);
    let (a_layers, b_layers) = (archive_layers(Path::new(&a)), archive_layers(Path::new(&b)));
    assert_eq!(
        a_layers[0], b_layers[0],
        "the shared base layer has one digest"
    );
    assert_ne!(a_layers[1], b_layers[1], "the second layers differ");
    assert_eq!(
        a_layers.len(),
        2,
        "the base layer, then the customisation layer"
    );
    assert_eq!(b_layers.len(), 3, "base, the stacked layer, customisation");
    in_every_engine(&[Path::new(&a), Path::new(&b)], |engine| {
        assert_eq!(engine.run("shared-a:test", &[], &[]), "image a\n");
        assert_eq!(
            engine.run("shared-b:test", &[], &[]),
            "hello from /etc\ntree says hi\n",
            "in {engine}"
        );
    });
}

#[test]
fn explain_tells_why_each_layer_holds_its_paths() {
    let plan = nix_build("images.shared-b.plan");
    let text = run(Command::new(strata_binary()).args(["explain", "--plan", &plan]));
    assert!(text.starts_with("shared-b:test: 3 layers"), "{text}");
    assert!(
        text.contains("layer 1 of 3") && text.contains("explicit layer 1"),
        "{text}"
    );
    assert!(text.contains("explicit layer 2"), "{text}");
    assert!(text.contains("customisation layer"), "{text}");
    let json = run(Command::new(strata_binary()).args(["explain", "--json", "--plan", &plan]));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let second = &json["layers"][1];
    let tree = nix_build("tree");
    assert_eq!(
        second["paths"][0][0],
        tree.as_str(),
        "the largest path first"
    );
    assert!(
        second["paths"][0][1].as_u64().unwrap() > 110 << 20,
        "the tree's sparse file counts"
    );
    assert!(second["size"].as_u64().unwrap() >= second["paths"][0][1].as_u64().unwrap());
    assert_eq!(second["root"], serde_json::json!(["/etc"]));
    let script = nix_build("streams.busybox");
    let from_script = run(Command::new(strata_binary()).args(["explain", "--plan", &script]));
    assert!(from_script.starts_with("busybox:latest"), "{from_script}");
}

/// The media types of the image's layers, from its OCI manifest.
fn layer_media_types(archive: &str) -> BTreeSet<String> {
    oci_manifest(Path::new(archive))["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["mediaType"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn layers_are_compressed_as_asked() {
    let gz = nix_build("images.busybox");
    assert_eq!(
        layer_media_types(&gz),
        BTreeSet::from(["application/vnd.oci.image.layer.v1.tar+gzip".to_owned()]),
        "gzip is the default"
    );
    let zstd = check_image("zstd", &["busybox", "tree"]);
    assert_eq!(
        layer_media_types(&zstd),
        BTreeSet::from(["application/vnd.oci.image.layer.v1.tar+zstd".to_owned()])
    );
    let plain = check_image("plain", &["busybox"]);
    assert_eq!(
        layer_media_types(&plain),
        BTreeSet::from(["application/vnd.oci.image.layer.v1.tar".to_owned()])
    );
    for engine in engines() {
        engine.load(Path::new(&plain));
        assert_eq!(engine.run("plain:test", &[], &[]), "uncompressed\n");
        match &engine {
            // Docker reads zstd layers from version 23 on, as README says.
            Engine::Docker(docker) if docker.major_version() < 23 => {
                let load = output_of(docker.docker().arg("load").arg("-i").arg(&zstd));
                let stderr = String::from_utf8_lossy(&load.stderr);
                assert!(
                    !load.status.success() && stderr.contains("invalid tar header"),
                    "docker {} loaded a zstd image: {stderr}",
                    docker.major_version()
                );
            }
            _ => {
                engine.load(Path::new(&zstd));
                assert_eq!(engine.run("zstd:test", &[], &[]), "tree says hi\n");
            }
        }
    }
    // The 110 MiB sparse file of the tree compresses to almost nothing.
    let size = |archive: &str| fs::metadata(archive).unwrap().len();
    assert!(size(&zstd) < 20 << 20, "{} bytes", size(&zstd));
    let config = skopeo_config(Path::new(&zstd));
    assert_eq!(
        config["rootfs"]["diff_ids"].as_array().unwrap().len(),
        layer_count(Path::new(&zstd))
    );
}

#[test]
fn a_zstd_stream_writes_its_archive_byte_for_byte() {
    let archive = nix_build("images.zstd");
    let script = nix_build("zstd-stream");
    let streamed = run_to_bytes(&mut Command::new(&script));
    assert!(streamed == fs::read(&archive).unwrap());
}

fn run_to_bytes(command: &mut Command) -> Vec<u8> {
    let output = output_of(command);
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn oci_archive_format_is_an_oci_layout_without_docker_manifest() {
    let archive = nix_build("images.oci-archive");
    check_unpacked(
        "oci-archive",
        &[format!("oci-archive:{archive}")],
        &["busybox"],
    );
    let names: Vec<String> = tar::Archive::new(fs::File::open(&archive).unwrap())
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"index.json".to_owned()) && names.contains(&"oci-layout".to_owned()));
    assert!(!names.contains(&"manifest.json".to_owned()), "{names:?}");
    let image = podman_load_named(&archive);
    assert_eq!(podman_run(&image, &[], &[]), "from an oci archive\n");
}

#[test]
fn oci_dir_format_is_an_oci_layout_directory() {
    let dir = nix_build("images.oci-dir");
    let root = Path::new(&dir);
    assert_eq!(
        fs::read(root.join("oci-layout")).unwrap(),
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("index.json")).unwrap()).unwrap();
    let entry = &index["manifests"][0];
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "test"
    );
    let source = "org.opencontainers.image.source";
    assert_eq!(entry["annotations"][source], "https://example.com/strata");
    let manifest_digest = entry["digest"].as_str().unwrap().replace("sha256:", "");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("blobs/sha256").join(manifest_digest)).unwrap())
            .unwrap();
    assert_eq!(
        manifest["annotations"][source],
        "https://example.com/strata"
    );
    let blobs: Vec<String> = fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        blobs.iter().all(|b| b.len() == 64),
        "only blobs named by digest: {blobs:?}"
    );
    check_unpacked("oci-dir", &[format!("oci:{dir}:test")], &["busybox"]);
    let image = podman_load_named(&dir);
    assert_eq!(podman_run(&image, &[], &[]), "from an oci directory\n");
}

#[test]
fn a_new_version_keeps_the_layers_of_the_previous_plan() {
    // As a user would: the plan of version 1, kept as a file.
    let work = tempfile::tempdir().unwrap();
    let plan_file = work.path().join("plan.json");
    fs::copy(nix_build("versioned.v1.plan"), &plan_file).unwrap();
    let with_plan = |attribute: &str| {
        let mut command = nix_build_command(attribute);
        command.arg("--arg").arg("previousPlan").arg(&plan_file);
        run(&mut command).trim().to_owned()
    };
    let v1 = nix_build("versioned.v1");
    let v2 = with_plan("versioned.v2");
    let read_plan = |path: &str| -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
    };
    let (plan1, plan2) = (
        read_plan(&plan_file.to_string_lossy()),
        read_plan(&with_plan("versioned.v2.plan")),
    );
    let names = |layer: &serde_json::Value| -> Vec<String> {
        layer["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap()[44..].to_owned())
            .collect()
    };
    let (layers1, layers2) = (
        plan1["layers"].as_array().unwrap(),
        plan2["layers"].as_array().unwrap(),
    );
    let (digests1, digests2) = (
        archive_layers(Path::new(&v1)),
        archive_layers(Path::new(&v2)),
    );
    // `explain --since` calls new exactly the layers whose digests version
    // 1 lacks.
    let explained = run(Command::new(strata_binary())
        .args([
            "explain",
            "--json",
            "--plan",
            &with_plan("versioned.v2.plan"),
            "--since",
        ])
        .arg(&plan_file));
    let explained: serde_json::Value = serde_json::from_str(&explained).unwrap();
    assert_eq!(explained["since"], "versioned:v1");
    let new: Vec<bool> = explained["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["new"].as_bool().unwrap())
        .collect();
    let lacked: Vec<bool> = digests2.iter().map(|d| !digests1.contains(d)).collect();
    assert_eq!(new, lacked);
    assert!(new.contains(&true) && new.contains(&false), "{new:?}");
    let text = run(Command::new(strata_binary())
        .args([
            "explain",
            "--plan",
            &with_plan("versioned.v2.plan"),
            "--since",
        ])
        .arg(&plan_file));
    let new_count = new.iter().filter(|&&n| n).count();
    assert!(
        text.contains(&format!(
            "new since versioned:v1: {new_count} of {} layers",
            new.len()
        )),
        "{text}"
    );
    assert!(
        text.contains(" (unchanged): ") && text.contains(" (new): "),
        "{text}"
    );

    // Every store layer of version 1 is where it was; all but the greeter's
    // are the same bytes.
    let store_layers1 = layers1.len() - 1;
    for (index, layer) in layers1[..store_layers1].iter().enumerate() {
        let (before, after) = (names(layer), names(&layers2[index]));
        let reason = layers2[index]["reason"].as_str().unwrap();
        if before == ["greeter-1"] {
            assert_eq!(after, ["greeter-2"]);
            assert_ne!(digests1[index], digests2[index]);
            assert!(reason.contains(", greeter-1 now greeter-2"), "{reason}");
        } else {
            assert_eq!(before, after);
            assert_eq!(
                digests1[index], digests2[index],
                "layer {index}: {before:?}"
            );
        }
        assert!(
            reason.starts_with("as in the previous plan (layer "),
            "{reason}"
        );
    }
    // What is new lies above them, and the plan file is in no layer.
    let mut added: Vec<String> = layers2[store_layers1..layers2.len() - 1]
        .iter()
        .inspect(|l| {
            let reason = l["reason"].as_str().unwrap();
            assert!(
                reason.starts_with("new since the previous plan: "),
                "{reason}"
            );
        })
        .flat_map(names)
        .collect();
    added.sort();
    assert_eq!(added, ["tool-0.1", "tool-lib-0.1"]);

    let spec_file = with_plan("versioned.v2.drvAttrs.specFile");
    let mut expected = expected_store_paths(&spec_file);
    let plan_copy: Vec<String> = expected
        .iter()
        .filter(|p| p.ends_with("-previous-plan.json"))
        .cloned()
        .collect();
    assert_eq!(plan_copy.len(), 1, "the spec refers to the plan's copy");
    expected.remove(&plan_copy[0]);
    skopeo_copy(
        &format!("docker-archive:{v2}"),
        &work.path().join("oci"),
        "v2",
    );
    let rootfs = umoci_unpack(&work.path().join("oci"), "v2", &work.path().join("bundle"));
    assert_store_paths_match(&rootfs, &expected);
    in_every_engine(&[Path::new(&v2)], |engine| {
        assert_eq!(engine.run("versioned:v2", &[], &[]), "greeter 2\n");
        assert_eq!(
            engine.run("versioned:v2", &[], &["/bin/tool"]),
            "words from the tool's library\n",
            "in {engine}"
        );
    });
}
