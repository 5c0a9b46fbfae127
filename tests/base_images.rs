//! Images on base images (`fromImage`): a base made from a plain root file
//! system by podman, saved in each format podman writes (and compressed
//! whole), and by dockerd, saved by `docker save`; and an image strata
//! built. The merged config is read back with skopeo, and the images run in
//! podman and in dockerd.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::engines::*;
use common::*;

/// The base in each form, made once per test process.
struct Bases {
    _dir: tempfile::TempDir,
    docker_archive: PathBuf,
    oci_archive: PathBuf,
    oci_dir: PathBuf,
    docker_archive_gz: PathBuf,
    docker_archive_zst: PathBuf,
}

/// The base's config, as `--change` instructions for `podman import` and
/// `docker import`.
const BASE_CONFIG: [&str; 7] = [
    "ENV PATH=/bin",
    "ENV BASE_ONLY=yes",
    "ENV SHARED=base",
    "WORKDIR /data",
    r#"CMD ["sh", "-c", "echo base command"]"#,
    "LABEL base.label=1",
    "EXPOSE 8080",
];

/// A busybox root with a directory of its own, as a tar in `dir`.
fn base_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    for sub in ["bin", "etc", "data"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static is installed");
    for applet in ["sh", "cat", "ls", "stat", "id", "touch"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    fs::write(root.join("etc/base-release"), "from the base\n").unwrap();
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:web:/var/www:/bin/false\n",
    )
    .unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\nwww:x:33:\n").unwrap();
    fs::create_dir(root.join("tmp")).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    let rootfs = dir.join("rootfs.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&rootfs)
        .arg("."));
    rootfs
}

/// The base root imported into podman with its config, and saved.
fn bases() -> &'static Bases {
    static BASES: OnceLock<Bases> = OnceLock::new();
    BASES.get_or_init(|| {
        require("podman");
        let dir = tempfile::tempdir().unwrap();
        let rootfs = base_rootfs(dir.path());
        let name = "localhost/strata-test-base:1";
        let mut import = Command::new("podman");
        import.arg("import");
        for change in BASE_CONFIG {
            import.args(["--change", change]);
        }
        run(import.arg(&rootfs).arg(name));
        let save = |format: &str, file: &str| {
            let path = dir.path().join(file);
            run(Command::new("podman")
                .args(["save", "--format", format, "-o"])
                .arg(&path)
                .arg(name));
            path
        };
        let docker_archive = save("docker-archive", "docker.tar");
        let compressed = |program: &str, file: &str| {
            let path = dir.path().join(file);
            let out = fs::File::create(&path).unwrap();
            let status = Command::new(program)
                .arg("-c")
                .arg(&docker_archive)
                .stdout(out)
                .status()
                .unwrap();
            assert!(status.success(), "{program} failed");
            path
        };
        Bases {
            oci_archive: save("oci-archive", "oci.tar"),
            oci_dir: save("oci-dir", "oci-dir"),
            docker_archive_gz: compressed("gzip", "docker.tar.gz"),
            docker_archive_zst: compressed("zstd", "docker.tar.zst"),
            docker_archive,
            _dir: dir,
        }
    })
}

/// `nix-build` of an attribute of tests/nix/base-images.nix on `base`.
fn build_on(base: &Path, attribute: &str) -> std::process::Output {
    let mut command = nix_command("nix-build", "tests/nix/base-images.nix", attribute);
    command
        .arg("--no-out-link")
        .arg("--arg")
        .arg("base")
        .arg(base);
    output_of(&mut command)
}

fn built_on(base: &Path, attribute: &str) -> String {
    let output = build_on(base, attribute);
    assert!(
        output.status.success(),
        "building {attribute} on {} failed:\n{}",
        base.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The layer digests of an image, as skopeo reads them.
fn layer_digests(transport: &str) -> Vec<String> {
    let text = run(Command::new("skopeo").args(["inspect", "--raw", transport]));
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_owned())
        .collect()
}

/// Builds `on-base` on `base` (read by skopeo as `transport`) and checks
/// its layers, its merged config and what it runs in each of `engines`.
fn check_on_base(base: &Path, transport: &str, engines: &[Engine]) {
    let expected = layer_digests(transport);
    let image = built_on(base, "on-base");
    let layers = layer_digests(&format!("oci-archive:{image}"));
    assert_eq!(
        &layers[..expected.len()],
        &expected[..],
        "the base's layers come first, byte for byte ({})",
        base.display()
    );
    assert_eq!(
        layers.len(),
        expected.len() + 2,
        "greeter and customisation"
    );

    let config = skopeo_config(Path::new(&image));
    let runtime = &config["config"];
    assert_eq!(
        runtime["Env"],
        serde_json::json!(["PATH=/bin", "BASE_ONLY=yes", "SHARED=image", "OWN=1"]),
        "Env merged by name, the image's value winning"
    );
    assert_eq!(runtime["WorkingDir"], "/data");
    assert_eq!(
        runtime["Cmd"],
        serde_json::json!(["sh", "-c", "echo base command"])
    );
    assert_eq!(runtime["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(
        runtime["Labels"],
        serde_json::json!({"base.label": "1", "image.label": "2"})
    );
    let base_config: serde_json::Value = serde_json::from_str(&run(Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(transport)))
    .unwrap();
    let base_history = base_config["history"].as_array().unwrap();
    let history = config["history"].as_array().unwrap();
    assert_eq!(
        &history[..base_history.len()],
        &base_history[..],
        "the base's history comes first"
    );
    assert_eq!(history.len(), layers.len());

    for engine in engines {
        engine.load(Path::new(&image));
        assert_eq!(
            engine.run("on-base:test", &[], &[]).trim(),
            "base command",
            "the base's Cmd runs in {engine}"
        );
        let out = engine.run(
            "on-base:test",
            &[],
            &[
                "sh",
                "-c",
                "pwd; echo $BASE_ONLY $SHARED $OWN; cat /etc/base-release; greet; stat -c '%a %n' /bin /tmp; cat /etc/passwd; stat -c %U /tmp/greeter",
            ],
        );
        assert_eq!(
            out,
            "/data\nyes image 1\nfrom the base\ngreetings, SHARED=image\n755 /bin\n1777 /tmp\n\
             root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:web:/var/www:/bin/false\n\
             alice:x:1000:1000::/home/alice:/bin/sh\nwww\n",
            "on {}, in {engine}",
            base.display()
        );
    }
}

#[test]
fn images_on_every_form_of_a_foreign_base_inherit_its_layers_and_config() {
    let bases = bases();
    let docker = format!("docker-archive:{}", bases.docker_archive.display());
    let cases = [
        (&bases.docker_archive, docker.clone()),
        (&bases.docker_archive_gz, docker.clone()),
        (&bases.docker_archive_zst, docker),
        (
            &bases.oci_archive,
            format!("oci-archive:{}", bases.oci_archive.display()),
        ),
        (&bases.oci_dir, format!("oci:{}", bases.oci_dir.display())),
    ];
    let engines = engines();
    for (base, transport) in cases {
        check_on_base(base, &transport, &engines);
    }
}

#[test]
fn an_image_on_a_base_saved_by_docker_runs_in_every_engine() {
    let docker = DockerEngine::start();
    let dir = tempfile::tempdir().unwrap();
    let rootfs = base_rootfs(dir.path());
    let mut import = docker.docker();
    import.arg("import");
    for change in BASE_CONFIG {
        import.args(["--change", change]);
    }
    run(import.arg(&rootfs).arg("strata-test-base:docker"));
    let saved = dir.path().join("docker-saved.tar");
    run(docker
        .docker()
        .args(["save", "-o"])
        .arg(&saved)
        .arg("strata-test-base:docker"));
    let transport = format!("docker-archive:{}", saved.display());
    check_on_base(
        &saved,
        &transport,
        &[Engine::Podman, Engine::Docker(docker)],
    );
}

#[test]
fn directories_commands_make_in_the_base_keep_its_modes() {
    let image = built_on(&bases().docker_archive, "commands-on-base");
    in_every_engine(&[Path::new(&image)], |engine| {
        assert_eq!(
            engine.run("commands-on-base:test", &[], &[]),
            "1777 /tmp\n755 /tmp/made\n755 /etc\n",
            "in {engine}"
        );
    });
}

#[test]
fn a_stream_on_a_base_writes_the_stored_archive_byte_for_byte() {
    let base = &bases().oci_archive;
    let archive = built_on(base, "on-base");
    let script = built_on(base, "on-base-stream");
    let streamed = output_of(&mut Command::new(&script));
    assert!(
        streamed.status.success(),
        "{}",
        String::from_utf8_lossy(&streamed.stderr)
    );
    assert!(
        streamed.stdout == fs::read(&archive).unwrap(),
        "the stream differs from the archive"
    );
}

#[test]
fn an_image_on_a_strata_image_keeps_its_store_paths_out_of_new_layers() {
    let base = nix_build("images.plain");
    let image = built_on(Path::new(&base), "on-strata-image");
    let base_layers = layer_digests(&format!("oci-archive:{base}"));
    let layers = layer_digests(&format!("oci-archive:{image}"));
    assert_eq!(&layers[..base_layers.len()], &base_layers[..]);
    assert_eq!(
        layers.len(),
        base_layers.len() + 2,
        "only the greeter and the customisation layer are new: busybox is the base's"
    );
    let config = skopeo_config(Path::new(&image));
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::Value::Null,
        "an Entrypoint of its own drops the base's Cmd"
    );
    in_every_engine(&[Path::new(&image)], |engine| {
        assert_eq!(
            engine.run("on-strata-image:test", &[], &[]),
            "greetings, SHARED=\n",
            "/bin/greet beside the base's /bin/sh, in {engine}"
        );
    });
}

#[test]
fn bad_base_images_are_clear_errors() {
    let bases = bases();
    let cases = [
        ("bad.not-an-image", "is not a container image"),
        ("bad.other-architecture", "is for linux/amd64"),
        ("bad.too-many-layers", "2 base image layers"),
    ];
    for (attribute, message) in cases {
        let output = build_on(&bases.docker_archive, attribute);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{attribute} built");
        assert!(stderr.contains(message), "{attribute}: {stderr}");
    }
    let junk = tempfile::tempdir().unwrap();
    let file = junk.path().join("junk.tar.gz");
    fs::write(&file, b"\x1f\x8b not really gzip").unwrap();
    let output = build_on(&file, "on-base");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("junk.tar.gz is not a container image"),
        "{stderr}"
    );
}

#[test]
fn from_image_name_and_tag_choose_one_image_of_an_archive_of_several() {
    // podman's archive of two images, as `docker save a b` writes one.
    let work = tempfile::tempdir().unwrap();
    for image in ["images.busybox", "images.web"] {
        podman_load(Path::new(&nix_build(image)));
    }
    let several = work.path().join("several.tar");
    run(Command::new("podman")
        .args([
            "save",
            "--multi-image-archive",
            "--format",
            "docker-archive",
            "-o",
        ])
        .arg(&several)
        .args([
            "docker.io/library/busybox:latest",
            "docker.io/library/web:latest",
        ]));
    let image = built_on(&several, "chosen-in-several");
    let layers = |archive: &Path| -> Vec<String> {
        skopeo_config(archive)["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_owned())
            .collect()
    };
    let web = layers(Path::new(&nix_build("images.web")));
    assert_eq!(
        layers(Path::new(&image))[..web.len()],
        web[..],
        "web's layers first"
    );
    // Without a name, the archive's images are named in the error.
    let output = build_on(&several, "on-base");
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("holds 2 images") && said.contains("give fromImageName"),
        "{said}"
    );
}

#[test]
fn merge_images_puts_every_image_in_one_archive_with_shared_layers_once() {
    let merged = built_on(&bases().docker_archive, "merged");
    let manifest = archive_manifest(Path::new(&merged));
    let entries = manifest.as_array().unwrap();
    let tags: Vec<&str> = entries
        .iter()
        .flat_map(|e| e["RepoTags"].as_array().unwrap())
        .map(|t| t.as_str().unwrap())
        .collect();
    let plain = archive_manifest(Path::new(&nix_build("images.plain")))[0]["RepoTags"][0]
        .as_str()
        .unwrap()
        .to_owned();
    for tag in [
        "localhost/strata-test-base:1",
        "busybox:latest",
        "web:latest",
        &plain,
    ] {
        assert!(tags.contains(&tag), "{tag} not in {tags:?}");
    }
    // Each layer once, though two images list busybox's.
    let listed: Vec<&str> = entries
        .iter()
        .flat_map(|e| e["Layers"].as_array().unwrap())
        .map(|l| l.as_str().unwrap())
        .collect();
    let distinct: BTreeSet<&str> = listed.iter().copied().collect();
    assert!(distinct.len() < listed.len(), "the inputs share a layer");
    let mut archive = tar::Archive::new(fs::File::open(&merged).unwrap());
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        if entry.header().entry_type() == tar::EntryType::Regular {
            files.push(entry.path().unwrap().to_string_lossy().into_owned());
        }
    }
    for layer in &distinct {
        assert_eq!(files.iter().filter(|f| f == layer).count(), 1, "{layer}");
    }
    // Both engines load every image with its tag, and run them.
    in_every_engine(&[Path::new(&merged)], |engine| {
        for tag in &tags {
            assert_eq!(
                engine.run(tag, &["--entrypoint", "/bin/sh"], &["-c", "echo loaded"]),
                "loaded\n",
                "{tag} in {engine}"
            );
        }
    });
    // Two inputs with one tag, and an input that is no docker-archive.
    let twice = build_on(&bases().docker_archive, "bad.tag-twice");
    let said = String::from_utf8_lossy(&twice.stderr);
    assert!(
        !twice.status.success() && said.contains("both hold an image tagged web:latest"),
        "{said}"
    );
    let oci = build_on(&bases().docker_archive, "bad.oci-archive");
    let said = String::from_utf8_lossy(&oci.stderr);
    assert!(
        !oci.status.success() && said.contains("has no manifest.json"),
        "{said}"
    );
}
