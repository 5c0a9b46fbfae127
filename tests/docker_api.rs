//! `docker load` without a Docker engine: the archive goes to the Docker
//! Engine API's `POST /images/load`, which is all the docker CLI sends, as
//! served by `podman system service`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A `podman system service` on a socket of its own, stopped on drop.
struct DockerApi {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl DockerApi {
    fn start() -> Self {
        require("podman");
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start podman system service");
        let started = Instant::now();
        while !socket.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "podman system service did not create {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        DockerApi {
            child,
            socket,
            _dir: dir,
        }
    }

    /// `curl` to the API; returns the HTTP status and the body.
    fn request(&self, method: &str, path: &str, upload: Option<&Path>) -> (u16, String) {
        require("curl");
        let mut command = Command::new("curl");
        command
            .args(["--silent", "--show-error", "--unix-socket"])
            .arg(&self.socket)
            .args(["-X", method, "-w", "\n%{http_code}"]);
        if let Some(file) = upload {
            command
                .args(["-H", "Content-Type: application/x-tar", "--data-binary"])
                .arg(format!("@{}", file.display()));
        }
        let out = run(command.arg(format!("http://docker{path}")));
        let (body, status) = out.trim_end().rsplit_once('\n').unwrap();
        (status.parse().unwrap(), body.to_owned())
    }
}

impl Drop for DockerApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn docker_engine_api_loads_the_archive() {
    let archive = nix_build("images.script");
    let api = DockerApi::start();
    let (status, body) = api.request(
        "POST",
        "/v1.41/images/load?quiet=1",
        Some(Path::new(&archive)),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("greet:latest"), "{body}");
    let (status, body) = api.request("GET", "/v1.41/images/greet:latest/json", None);
    assert_eq!(status, 200, "{body}");
    let image: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        image["RepoTags"].to_string().contains("greet:latest"),
        "{body}"
    );
    assert_eq!(image["Config"]["Cmd"], serde_json::json!(["nix"]));
}
