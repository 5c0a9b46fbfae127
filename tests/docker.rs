//! What only the Docker Engine does with strata's images, in a dockerd of
//! each test's own: `docker inspect` and `docker history`, a stream piped
//! into `docker load`, and `docker build` on a strata image. (The images run
//! in dockerd as in podman in the other tests.)

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::engines::*;
use common::*;

#[test]
fn docker_inspect_and_history_show_the_config_and_every_layer() {
    let archive = nix_build("images.shared-b");
    let docker = DockerEngine::start();
    run(docker.docker().arg("load").arg("-i").arg(&archive));
    let inspect = run(docker.docker().args(["inspect", "shared-b:test"]));
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let image = &inspect[0];
    let tree = nix_build("tree");
    assert_eq!(
        image["Config"]["Cmd"],
        serde_json::json!([
            "/bin/sh",
            "-c",
            format!("cat /etc/greeting; {tree}/bin/tree-hello")
        ])
    );
    let engine_arch = run(docker
        .docker()
        .args(["version", "--format", "{{.Server.Arch}}"]));
    assert_eq!(image["Architecture"], engine_arch.trim());
    assert_eq!(image["Os"], "linux");
    assert_eq!(image["Created"], "1970-01-01T00:00:01Z");
    let config = skopeo_config(Path::new(&archive));
    assert_eq!(image["RootFS"]["Layers"], config["rootfs"]["diff_ids"]);
    let layers = image["RootFS"]["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), layer_count(Path::new(&archive)));

    let history = run(docker.docker().args([
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        "shared-b:test",
    ]));
    let history: Vec<&str> = history.lines().collect();
    assert_eq!(history.len(), layers.len(), "{history:?}");
    let busybox = nix_build("busybox");
    assert_eq!(history[2], format!("strata: explicit layer 1: {busybox}"));
    assert!(
        history[1].starts_with("strata: explicit layer 2: ") && history[1].contains(&tree),
        "{history:?}"
    );
    assert!(
        history[0].starts_with("strata: customisation layer"),
        "{history:?}"
    );
}

#[test]
fn a_stream_piped_into_docker_load_runs() {
    let script = nix_build("uncompressed-streams.script");
    let docker = DockerEngine::start();
    let mut stream = Command::new(&script)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the stream script runs");
    let load = docker
        .docker()
        .arg("load")
        .stdin(stream.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(stream.wait().unwrap().success(), "{script} failed");
    assert!(
        load.status.success(),
        "docker load: {}",
        String::from_utf8_lossy(&load.stderr)
    );
    assert!(
        String::from_utf8_lossy(&load.stdout).contains("Loaded image: greet:latest"),
        "{}",
        String::from_utf8_lossy(&load.stdout)
    );
    assert_eq!(
        Engine::Docker(docker).run("greet:latest", &[], &["docker"]),
        "hello from strata, docker\n"
    );
}

#[test]
fn docker_build_runs_a_step_on_a_strata_image() {
    let archive = nix_build("images.busybox");
    let docker = DockerEngine::start();
    run(docker.docker().arg("load").arg("-i").arg(&archive));
    let context = tempfile::tempdir().unwrap();
    let mut dockerfile = fs::File::create(context.path().join("Dockerfile")).unwrap();
    writeln!(
        dockerfile,
        "FROM busybox:latest\n\
         RUN mkdir -p /srv && echo \"built on $(ls /bin/sh)\" > /srv/built\n\
         CMD [\"cat\", \"/srv/built\"]"
    )
    .unwrap();
    // The classic builder (DOCKER_BUILDKIT=0, as `docker()` sets it).
    run(docker
        .docker()
        .args(["build", "--network=none", "-t", "on-strata:built"])
        .arg(context.path()));
    assert_eq!(
        Engine::Docker(docker).run("on-strata:built", &[], &[]),
        "built on /bin/sh\n"
    );
}

#[test]
fn a_layer_that_changed_since_it_was_described_is_never_loaded() {
    // Nix never changes a store path; the test does, by hand, to one it made.
    let store_path = "/nix/store/33333333333333333333333333333333-changes-after-describe";
    let _ = fs::remove_dir_all(store_path);
    fs::create_dir_all(store_path).unwrap();
    fs::write(format!("{store_path}/data"), "as described").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let describe = |compressor: &str| {
        let description = dir.path().join(format!("{compressor}.json"));
        run(Command::new(strata_binary())
            .args(["describe", "--name", "changing", "--compressor", compressor])
            .arg("--closure")
            .arg(closure_file(dir.path(), &[store_path]))
            .arg("-o")
            .arg(&description)
            .arg(store_path));
        description
    };
    let descriptions = [describe("none"), describe("gz")];
    fs::write(format!("{store_path}/data"), "changed later").unwrap();

    let docker = DockerEngine::start();
    for description in &descriptions {
        let loaded = output_of(
            Command::new(strata_binary())
                .arg("docker-load")
                .arg(description)
                .arg("--socket")
                .arg(&docker.socket),
        );
        let stderr = String::from_utf8_lossy(&loaded.stderr);
        assert!(!loaded.status.success(), "{stderr}");
        assert!(
            stderr.contains("no longer matches its recorded digest") && stderr.contains(store_path),
            "{stderr}"
        );
        let streamed = output_of(Command::new(strata_binary()).arg("stream").arg(description));
        assert!(!streamed.status.success());
    }
    fs::remove_dir_all(store_path).unwrap();
    let images = run(docker.docker().args(["images", "-q", "changing"]));
    assert_eq!(images.trim(), "", "nothing was tagged");
}
