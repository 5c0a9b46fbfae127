//! Multi-platform images: amd64 and arm64 images (the arm64 one run by
//! qemu-user) and buildImageIndex over them, pushed to a real registry,
//! pulled per platform by podman and dockerd, copied whole by skopeo, and
//! taken as a base by fromImage and pullImage.

mod common;

use std::path::Path;
use std::process::Command;

use common::engines::*;
use common::registry::Registry;
use common::*;

/// The index an index archive's `index.json` names, and its digest.
fn archive_index(archive: &Path) -> (serde_json::Value, String) {
    let layout = json(&archive_file(archive, "index.json"));
    let entries = layout["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "index.json names one index: {layout}");
    assert_eq!(
        entries[0]["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{layout}"
    );
    let digest = entries[0]["digest"].as_str().unwrap().to_owned();
    let blob = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    (json(&archive_file(archive, &blob)), digest)
}

/// Each manifest's platform, `os/architecture[/variant]`, and digest.
fn platforms(index: &serde_json::Value) -> Vec<(String, String)> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut name = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(variant) = p["variant"].as_str() {
                name = format!("{name}/{variant}");
            }
            (name, m["digest"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The config of an oci-archive, as skopeo reads it.
fn oci_config(archive: &str) -> serde_json::Value {
    require("skopeo");
    json(
        run(Command::new("skopeo")
            .args(["inspect", "--config"])
            .arg(format!("oci-archive:{archive}")))
        .as_bytes(),
    )
}

/// Pulls `reference` for `arch` into podman and runs it: its `uname -m`.
fn podman_pull_and_run(reference: &str, arch: &str) -> String {
    run(Command::new("podman")
        .args(["pull", "-q", "--tls-verify=false", "--arch", arch])
        .arg(reference));
    podman_run(reference, &["--arch", arch], &[])
}

#[test]
fn an_arm64_binary_runs_here() {
    let arm64 = nix_build("platforms.arm64");
    let config = oci_config(&arm64);
    assert_eq!(config["architecture"], "arm64");
    let busybox = Path::new("/var/lib/strata-tests/busybox-arm64/bin/busybox");
    assert!(
        busybox.is_file(),
        "{} is missing: run scripts/install-deps",
        busybox.display()
    );
    assert_eq!(
        run(Command::new(busybox).args(["uname", "-m"])),
        "aarch64\n"
    );
}

#[test]
fn an_index_is_pushed_pulled_per_platform_copied_whole_and_tagged_only_when_complete() {
    let archive = nix_build("platforms.index");
    let (index, index_digest) = archive_index(Path::new(&archive));
    let built = platforms(&index);
    let names: Vec<&str> = built.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(names, ["linux/amd64", "linux/arm64"]);
    assert_eq!(
        index["annotations"]["org.opencontainers.image.description"],
        "busybox for two platforms"
    );
    // Built again, the same bytes.
    run(nix_build_command("platforms.index").arg("--check"));

    let registry = Registry::start(None);
    let reference = format!("{}/multi:1", registry.address());
    let push = nix_build("platforms.index.copyToRegistry");
    let pushed = output_of(Command::new(format!("{push}/bin/copy-to-registry")).arg(&reference));
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(
        stderr(&pushed).contains("6 blobs uploaded"),
        "{}",
        stderr(&pushed)
    );

    // The registry holds the index as built, with both platforms.
    let raw = skopeo_raw(&format!("docker://{reference}"));
    assert!(raw.status.success(), "{}", stderr(&raw));
    assert_eq!(format!("sha256:{}", sha256_hex(&raw.stdout)), index_digest);
    assert_eq!(platforms(&json(&raw.stdout)), built);

    // Each platform pulls its own image, which runs on it.
    assert_eq!(podman_pull_and_run(&reference, "arm64"), "aarch64\n");
    assert_eq!(podman_pull_and_run(&reference, "amd64"), "x86_64\n");

    // skopeo copies the index whole, out and back, digests unchanged.
    let work = tempfile::tempdir().unwrap();
    let layout = format!("oci:{}:multi", work.path().join("copied").display());
    for (from, to) in [
        (format!("docker://{reference}"), layout.clone()),
        (layout, format!("docker://{}/copied:1", registry.address())),
    ] {
        run(Command::new("skopeo")
            .args([
                "copy",
                "--all",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
            ])
            .args([&from, &to]));
    }
    let copied = skopeo_raw(&format!("docker://{}/copied:1", registry.address()));
    assert_eq!(
        copied.stdout, raw.stdout,
        "the index survives the round trip"
    );
    for (_, digest) in &built {
        let manifest = skopeo_raw(&format!("docker://{}/copied@{digest}", registry.address()));
        assert!(manifest.status.success(), "{}", stderr(&manifest));
    }

    // dockerd pulls its own platform.
    let engine = DockerEngine::start();
    run(engine.docker().args(["pull", "-q", &reference]));
    let docker = Engine::Docker(engine);
    assert_eq!(docker.run(&reference, &[], &[]), "x86_64\n");

    // A blob the registry refuses: the push fails and tags nothing.
    let description = nix_build("platforms.index.description");
    let damaged_archive = work.path().join("damaged.tar");
    let mut bytes = std::fs::read(&archive).unwrap();
    let arm64_layer = &json(&archive_file(
        Path::new(&archive),
        &format!("blobs/sha256/{}", built[1].1.trim_start_matches("sha256:")),
    ))["layers"][0]["digest"];
    let layer = archive_file(
        Path::new(&archive),
        &format!(
            "blobs/sha256/{}",
            arm64_layer.as_str().unwrap().trim_start_matches("sha256:")
        ),
    );
    let at = bytes
        .windows(layer.len())
        .position(|w| w == layer.as_slice())
        .expect("the layer is in the archive");
    bytes[at + layer.len() / 2] ^= 0xff;
    std::fs::write(&damaged_archive, bytes).unwrap();
    let mut damaged: serde_json::Value = json(&std::fs::read(&description).unwrap());
    damaged["layout"] = damaged_archive.to_str().unwrap().into();
    let damaged_description = work.path().join("damaged.json");
    std::fs::write(&damaged_description, damaged.to_string()).unwrap();
    let untagged = format!("{}/damaged:1", registry.address());
    let failed = output_of(
        Command::new(strata_binary())
            .arg("push")
            .arg(&damaged_description)
            .arg(&untagged),
    );
    assert_failed(
        &failed,
        &[&format!(
            "cannot push blob {}",
            arm64_layer.as_str().unwrap()
        )],
    );
    assert!(
        !skopeo_raw(&format!("docker://{untagged}")).status.success(),
        "a failed push leaves the tag unset"
    );
}

#[test]
fn copy_to_docker_daemon_and_copy_to_podman_load_the_hosts_platform() {
    let service = PodmanService::start();
    let host = format!("unix://{}", service.socket.display());
    output_of(Command::new("podman").args(["rmi", "-f", "multi:1"]));
    let podman = nix_build("platforms.index.copyToPodman");
    run(Command::new(format!("{podman}/bin/copy-to-podman")).env("CONTAINER_HOST", &host));
    assert_eq!(podman_run("multi:1", &[], &[]), "x86_64\n");

    let engine = DockerEngine::start();
    let docker = nix_build("platforms.index.copyToDockerDaemon");
    run(Command::new(format!("{docker}/bin/copy-to-docker-daemon"))
        .env("DOCKER_HOST", engine.host()));
    assert_eq!(Engine::Docker(engine).run("multi:1", &[], &[]), "x86_64\n");
}

#[test]
fn explain_names_each_platform_and_its_manifest() {
    let archive = nix_build("platforms.index");
    let (index, index_digest) = archive_index(Path::new(&archive));
    let description = nix_build("platforms.index.description");
    let text = run(Command::new(strata_binary())
        .args(["explain", "--plan"])
        .arg(&description));
    assert!(
        text.starts_with(&format!(
            "multi:1 ({index_digest}): an index of 2 platforms\n"
        )),
        "{text}"
    );
    for (platform, digest) in platforms(&index) {
        assert!(
            text.lines().any(|l| l
                .split_whitespace()
                .eq([platform.as_str(), digest.as_str()])),
            "{platform} {digest} missing:\n{text}"
        );
    }
    assert!(text.contains("busybox-arm64"), "{text}");
    let explained = json(
        run(Command::new(strata_binary())
            .args(["explain", "--json", "--plan"])
            .arg(&description))
        .as_bytes(),
    );
    assert_eq!(explained["digest"], index_digest.as_str());
    assert_eq!(explained["platforms"][1]["platform"], "linux/arm64");

    // Neither streamed nor compared with --since.
    let streamed = output_of(
        Command::new(strata_binary())
            .arg("stream")
            .arg(&description)
            .stdout(std::process::Stdio::piped()),
    );
    assert_failed(
        &streamed,
        &["is an index of images for linux/amd64, linux/arm64"],
    );
    assert!(streamed.stdout.is_empty());
    let since = output_of(
        Command::new(strata_binary())
            .args(["explain", "--plan"])
            .arg(&description)
            .arg("--since")
            .arg(&description),
    );
    assert_failed(&since, &["is an index"]);
}

#[test]
fn indexes_as_directories_of_images_of_every_format_and_untagged() {
    let dir = nix_build("platforms.indexDir");
    let raw = skopeo_raw(&format!("oci:{dir}"));
    assert!(raw.status.success(), "{}", stderr(&raw));
    let names: Vec<String> = platforms(&json(&raw.stdout))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(names, ["linux/amd64", "linux/arm64"]);

    // From a docker archive and an oci-dir: every digest checked by skopeo.
    let mixed = nix_build("platforms.mixedFormats");
    let work = tempfile::tempdir().unwrap();
    run(Command::new("skopeo")
        .args(["copy", "--all", &format!("oci-archive:{mixed}")])
        .arg(format!("oci:{}:copy", work.path().join("mixed").display())));

    // Without a tag: a hash of the images, named in the layout.
    let untagged = nix_build("platforms.untagged");
    let tag = run(nix_command(
        "nix-instantiate",
        "tests/nix/fixtures.nix",
        "platforms.untagged.imageTag",
    )
    .arg("--eval"));
    let tag = tag.trim().trim_matches('"');
    assert_eq!(tag.len(), 32, "{tag}");
    let layout = json(&archive_file(Path::new(&untagged), "index.json"));
    assert_eq!(
        layout["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        tag
    );
}

#[test]
fn a_variant_reaches_the_config() {
    let armv7 = nix_build("platforms.armv7");
    let config = oci_config(&armv7);
    assert_eq!(config["architecture"], "arm");
    assert_eq!(config["variant"], "v7");
}

#[test]
fn from_image_and_pull_image_take_the_platform_out_of_a_strata_index() {
    // fromImage = the index: the arm64 image's layers, under this one's.
    let image = nix_build("platforms.onIndex");
    let (index, _) = archive_index(Path::new(&nix_build("platforms.index")));
    let arm64 = json(&archive_file(
        Path::new(&nix_build("platforms.arm64")),
        "index.json",
    ));
    assert_eq!(
        arm64["manifests"][0]["digest"],
        index["manifests"][1]["digest"]
    );
    let base = oci_layer_digests(Path::new(&nix_build("platforms.arm64")));
    let layers = oci_layer_digests(Path::new(&image));
    assert_eq!(
        layers[..base.len()],
        base[..],
        "the base's layers come first"
    );
    podman_load(Path::new(&image));
    let listed = podman_run("on-index:1", &["--arch", "arm64"], &[]);
    assert!(listed.contains("busybox"), "{listed}");

    // pullImage from the registry the index was pushed to.
    let registry = Registry::start(None);
    let reference = format!("{}/multi:1", registry.address());
    let push = nix_build("platforms.index.copyToRegistry");
    run(Command::new(format!("{push}/bin/copy-to-registry")).arg(&reference));
    let index_digest = format!(
        "sha256:{}",
        sha256_hex(&skopeo_raw(&format!("docker://{reference}")).stdout)
    );
    let work = tempfile::tempdir().unwrap();
    let pulled = work.path().join("pulled");
    run(Command::new(strata_binary())
        .arg("pull")
        .arg(format!("{}/multi@{index_digest}", registry.address()))
        .args(["--arch", "arm64", "--tag", "pulled", "-o"])
        .arg(&pulled));
    let sha256 = run(Command::new("nix-hash")
        .args(["--type", "sha256", "--base32"])
        .arg(&pulled));
    let layout = run(nix_command("nix-build", "tests/nix/pull.nix", "pulled")
        .arg("--no-out-link")
        .args(["--argstr", "imageName"])
        .arg(format!("{}/multi", registry.address()))
        .args(["--argstr", "imageDigest", &index_digest])
        .args(["--argstr", "sha256", sha256.trim()])
        .args(["--argstr", "arch", "arm64"]));
    let pulled_index = json(&std::fs::read(Path::new(layout.trim()).join("index.json")).unwrap());
    assert_eq!(
        pulled_index["manifests"][0]["digest"], index["manifests"][1]["digest"],
        "pullImage picked the arm64 manifest out of strata's index"
    );
}

/// Building `attribute` fails, saying each of `said`.
fn assert_build_fails(attribute: &str, said: &[&str]) {
    let output = output_of(&mut nix_build_command(attribute));
    assert_failed(&output, said);
}

#[test]
fn bad_indexes_and_platforms_are_refused_naming_the_culprit() {
    assert_build_fails(
        "platforms.bad.samePlatform",
        &["multi.tar and /nix/store/", "are both for linux/amd64"],
    );
    assert_build_fails(
        "platforms.bad.differentNames",
        &["the images have different names (multi, other)"],
    );
    assert_build_fails(
        "platforms.bad.notAnImage",
        &["busybox is not an image of buildImage or buildLayeredImage"],
    );
    assert_build_fails("platforms.bad.stream", &["stream-multi is a stream"]);
    assert_build_fails(
        "platforms.bad.dockerFormat",
        &["format must be \"oci-archive\" or \"oci-dir\", not \"docker\""],
    );
    assert_build_fails(
        "platforms.bad.unknownArchitecture",
        &["unknown architecture 'arm65'"],
    );
    assert_build_fails(
        "platforms.bad.variantWithout",
        &["the architecture '386' has no variants, but `variant` is 'v7'"],
    );
    assert_build_fails(
        "platforms.bad.unknownVariant",
        &["'v9' is not a variant of 'arm'"],
    );
    assert!(
        !Path::new(&out_path_of("platforms.bad.samePlatform")).exists(),
        "a failed index leaves no output"
    );
    // What pullImage is asked for is checked before the registry is asked.
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("pulled");
    let pulled = output_of(
        Command::new(strata_binary())
            .args([
                "pull",
                &format!("localhost:1/multi@sha256:{}", "0".repeat(64)),
            ])
            .args(["--arch", "arm65", "-o"])
            .arg(&layout),
    );
    assert_failed(&pulled, &["unknown architecture 'arm65'"]);
    assert!(!layout.exists());
}
