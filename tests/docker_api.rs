//! `docker load` without a Docker engine: the archive goes to the Docker
//! Engine API's `POST /images/load`, which is all the docker CLI sends, as
//! served by `podman system service`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// `curl` to the API of `api`; returns the HTTP status and the body.
fn request(api: &PodmanService, method: &str, path: &str, upload: Option<&Path>) -> (u16, String) {
    require("curl");
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--show-error", "--unix-socket"])
        .arg(&api.socket)
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

#[test]
fn docker_engine_api_loads_the_archive() {
    let archive = nix_build("images.script");
    let api = PodmanService::start();
    let (status, body) = request(
        &api,
        "POST",
        "/v1.41/images/load?quiet=1",
        Some(Path::new(&archive)),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("greet:latest"), "{body}");
    let (status, body) = request(&api, "GET", "/v1.41/images/greet:latest/json", None);
    assert_eq!(status, 200, "{body}");
    let image: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        image["RepoTags"].to_string().contains("greet:latest"),
        "{body}"
    );
    assert_eq!(image["Config"]["Cmd"], serde_json::json!(["nix"]));
}
