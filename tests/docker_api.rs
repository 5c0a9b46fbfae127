//! `docker load` as the Docker Engine API sees it: the archive goes to
//! `POST /images/load`, which is all the docker CLI sends, as served by
//! dockerd and by `podman system service`.

mod common;

use std::path::Path;
use std::process::Command;

use common::engines::*;
use common::*;

/// `curl` to the API on `socket`; returns the HTTP status and the body.
fn request(socket: &Path, method: &str, path: &str, upload: Option<&Path>) -> (u16, String) {
    require("curl");
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--show-error", "--unix-socket"])
        .arg(socket)
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

fn assert_api_loads(socket: &Path, archive: &Path, engine: &str) {
    let (status, body) = request(socket, "POST", "/v1.41/images/load?quiet=1", Some(archive));
    assert_eq!(status, 200, "{engine}: {body}");
    assert!(body.contains("greet:latest"), "{engine}: {body}");
    let (status, body) = request(socket, "GET", "/v1.41/images/greet:latest/json", None);
    assert_eq!(status, 200, "{engine}: {body}");
    let image: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        image["RepoTags"].to_string().contains("greet:latest"),
        "{engine}: {body}"
    );
    assert_eq!(
        image["Config"]["Cmd"],
        serde_json::json!(["nix"]),
        "{engine}"
    );
}

#[test]
fn docker_engine_api_loads_the_archive() {
    let archive = nix_build("images.script");
    let podman = PodmanService::start();
    assert_api_loads(&podman.socket, Path::new(&archive), "podman");
    let docker = DockerEngine::start();
    assert_api_loads(&docker.socket, Path::new(&archive), "dockerd");
}
