//! Pushing to a real registry (Debian's docker-registry on loopback), and
//! loading into dockerd and podman through their API sockets.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::engines::*;
use common::registry::*;
use common::*;

/// Builds a program of the push fixtures (`pushed.<image>.<program>`).
fn program(image: &str, attribute: &str, name: &str) -> PathBuf {
    let out = nix_build(&format!("pushed.{image}.{attribute}"));
    Path::new(&out).join("bin").join(name)
}

fn copy_to_registry(image: &str) -> PathBuf {
    program(image, "copyToRegistry", "copy-to-registry")
}

/// The manifest digest of an image stored as an archive: a push of the
/// same image must make that manifest.
fn manifest_digest(image: &str) -> String {
    let archive = nix_build(&format!("pushed.{image}-archive"));
    let index: serde_json::Value =
        serde_json::from_slice(&archive_file(Path::new(&archive), "index.json")).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

/// The cache of compressed digests the pushes of this test process share,
/// so that no push reads or fills the user's own.
fn shared_cache() -> &'static Path {
    static CACHE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    CACHE.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn skopeo_inspect(reference: &str, creds: Option<&str>) -> std::process::Output {
    require("skopeo");
    let mut command = Command::new("skopeo");
    command.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some(creds) = creds {
        command.args(["--creds", creds]);
    }
    output_of(command.arg(format!("docker://{reference}")))
}

fn push(program: &Path, args: &[&str]) -> std::process::Output {
    push_with_cache(program, args, shared_cache())
}

/// A push whose cache of compressed digests is in `cache`.
fn push_with_cache(program: &Path, args: &[&str], cache: &Path) -> std::process::Output {
    output_of(
        Command::new(program)
            .args(args)
            .env_remove("STRATA_REGISTRY_CREDS")
            .env("XDG_CACHE_HOME", cache),
    )
}

#[test]
fn a_pushed_image_is_pulled_and_run_and_an_app_change_sends_only_its_layers() {
    let registry = Registry::start(None);
    let v1 = format!("{}/app:v1", registry.address());
    let v2 = format!("{}/app:v2", registry.address());

    let first = push(&copy_to_registry("v1"), &[&v1]);
    assert_succeeded(&first, &["5 blobs uploaded"]);
    assert_eq!(
        registry.blob_uploads(),
        7,
        "3 layers, the config, and the bill of materials with its empty config"
    );

    // The registry holds exactly the manifest the description records.
    let manifest = skopeo_inspect(&v1, None);
    assert_succeeded(&manifest, &[]);
    let digest = format!("sha256:{}", sha256_hex(&manifest.stdout));
    assert_eq!(digest, manifest_digest("v1"));

    // Only the application changed: its layer, the customisation layer that
    // links it into /bin, and the config are sent; busybox and tree are not
    // (and v2's bill of materials).
    let second = push(&copy_to_registry("v2"), &[&v2]);
    assert_succeeded(&second, &["3 blobs uploaded", "2 already there"]);
    assert_eq!(registry.blob_uploads(), 7 + 3 + 1);

    // Pushing again sends nothing but the manifests.
    let again = push(&copy_to_registry("v2"), &[&v2]);
    assert_succeeded(&again, &["0 blobs uploaded"]);
    assert_eq!(registry.blob_uploads(), 11);

    // A registry on loopback is plain HTTP to dockerd too.
    let docker = DockerEngine::start();
    for (reference, expected) in [(&v1, "app v1"), (&v2, "app v2")] {
        run(Command::new("podman").args(["pull", "-q", "--tls-verify=false", reference]));
        assert_eq!(podman_run(reference, &[], &[]).trim(), expected);
        run(docker.docker().args(["pull", "-q", reference]));
    }
    let docker = Engine::Docker(docker);
    for (reference, expected) in [(&v1, "app v1"), (&v2, "app v2")] {
        assert_eq!(
            docker.run(reference, &[], &[]).trim(),
            expected,
            "in dockerd"
        );
    }
}

/// The digest of the manifest `reference` names in the registry.
fn pushed_manifest_digest(reference: &str) -> String {
    let manifest = skopeo_inspect(reference, None);
    assert_succeeded(&manifest, &[]);
    format!("sha256:{}", sha256_hex(&manifest.stdout))
}

#[test]
fn one_manifest_however_the_compressed_digests_are_found() {
    let registry = Registry::start(None);
    let program = copy_to_registry("v1");
    let stored = manifest_digest("v1");
    let reference = |repository: &str| format!("{}/{repository}:v1", registry.address());

    // A cold cache: every layer is compressed as it is uploaded.
    let cache = tempfile::tempdir().unwrap();
    let cold = push_with_cache(&program, &[&reference("cold")], cache.path());
    assert_succeeded(&cold, &["5 blobs uploaded"]);
    assert_eq!(pushed_manifest_digest(&reference("cold")), stored);

    // The cache, warm now, names the digests; another repository lacks the
    // blobs, so they are uploaded all the same.
    let warm = push_with_cache(&program, &[&reference("warm")], cache.path());
    assert_succeeded(&warm, &["5 blobs uploaded"]);
    assert_eq!(pushed_manifest_digest(&reference("warm")), stored);

    // No cache: the tag's own manifest names every layer's blob, so nothing
    // is compressed or sent.
    let empty = tempfile::tempdir().unwrap();
    let uploads = registry.blob_uploads();
    let derived = push_with_cache(&program, &[&reference("cold")], empty.path());
    assert_succeeded(&derived, &["0 blobs uploaded", "5 already there"]);
    assert_eq!(registry.blob_uploads(), uploads);
    assert_eq!(pushed_manifest_digest(&reference("cold")), stored);

    // A cache that names blobs the registry does not have: they are
    // compressed and uploaded, to the same manifest.
    let blobs = cache.path().join("strata/blobs");
    for entry in std::fs::read_dir(&blobs).unwrap() {
        let path = entry.unwrap().path();
        let mut recorded: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        recorded["digest"] =
            format!("sha256:{}", sha256_hex(path.to_str().unwrap().as_bytes())).into();
        std::fs::write(&path, recorded.to_string()).unwrap();
    }
    let misled = push_with_cache(&program, &[&reference("misled")], cache.path());
    assert_succeeded(&misled, &["5 blobs uploaded"]);
    assert_eq!(pushed_manifest_digest(&reference("misled")), stored);
}

#[test]
fn a_new_tag_learns_the_unchanged_layers_from_the_previous_versions_tag() {
    let registry = Registry::start(None);
    let v1 = format!("{}/app:v1", registry.address());
    let v2 = format!("{}/app:v2", registry.address());
    let first = push_with_cache(
        &copy_to_registry("v1"),
        &[&v1],
        tempfile::tempdir().unwrap().path(),
    );
    assert_succeeded(&first, &["5 blobs uploaded"]);

    // Version 2 keeps version 1's description as previousPlan; pushed to
    // a tag of its own with no cache, it learns from tag v1 what busybox's
    // and tree's layers compress to, and sends neither.
    let work = tempfile::tempdir().unwrap();
    let previous = work.path().join("app-v1.json");
    std::fs::copy(nix_build("pushed.v1.description"), &previous).unwrap();
    let mut build = nix_build_command("pushed.v2-after-v1.copyToRegistry");
    build.arg("--arg").arg("previousPlan").arg(&previous);
    let program = Path::new(run(&mut build).trim()).join("bin/copy-to-registry");
    let uploads = registry.blob_uploads();
    let second = push_with_cache(&program, &[&v2], tempfile::tempdir().unwrap().path());
    assert_succeeded(&second, &["3 blobs uploaded", "2 already there"]);
    assert_eq!(
        registry.blob_uploads(),
        uploads + 4,
        "and v2's bill of materials"
    );
}

#[test]
fn tls_is_verified_against_the_system_roots() {
    let (registry, certs) = Registry::start_tls();
    let ca = certs.path().join("ca.pem");
    let reference = format!("{}/tls:v1", registry.address());
    let program = copy_to_registry("v1");
    let untrusted = push(&program, &[&reference]);
    assert_failed(&untrusted, &["invalid peer certificate"]);
    // The system roots, with the test's CA added as OpenSSL's variable allows.
    let trusted = output_of(
        Command::new(&program)
            .arg(&reference)
            .env("SSL_CERT_FILE", &ca),
    );
    assert_succeeded(&trusted, &["5 blobs uploaded"]);
}

#[test]
fn a_zstd_image_is_pushed_and_runs() {
    let registry = Registry::start(None);
    let reference = format!("{}/zstd:test", registry.address());
    let pushed = push(&copy_to_registry("zstd"), &[&reference]);
    assert_succeeded(&pushed, &[]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&skopeo_inspect(&reference, None).stdout).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
    }
    run(Command::new("podman").args(["pull", "-q", "--tls-verify=false", &reference]));
    assert_eq!(podman_run(&reference, &[], &[]).trim(), "tree says hi");
}

/// A bcrypt htpasswd line for alice:secret.
fn htpasswd_line() -> String {
    require("htpasswd");
    run(Command::new("htpasswd").args(["-Bbn", "alice", "secret"]))
}

#[test]
fn basic_auth_credentials_from_flags_and_auth_files_and_wrong_ones_tag_nothing() {
    let registry = Registry::start(Some(&htpasswd_line()));
    let reference = format!("{}/private:v1", registry.address());
    let program = copy_to_registry("v1");

    let anonymous = push(&program, &[&reference]);
    assert_failed(&anonymous, &["asks for credentials"]);

    let wrong = push(&program, &["--creds", "alice:wrong", &reference]);
    assert_failed(&wrong, &["refused the credentials of user 'alice'"]);
    assert!(
        !stderr(&wrong).contains("wrong"),
        "the password is never printed"
    );
    assert!(
        !skopeo_inspect(&reference, Some("alice:secret"))
            .status
            .success(),
        "nothing may be tagged after a refused push"
    );

    let work = tempfile::tempdir().unwrap();
    let auth_file = work.path().join("auth.json");
    let encoded = run(Command::new("sh").args(["-c", "printf alice:secret | base64"]));
    std::fs::write(
        &auth_file,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#,
            registry.address(),
            encoded.trim()
        ),
    )
    .unwrap();
    let pushed = output_of(
        Command::new(&program)
            .arg(&reference)
            .env("REGISTRY_AUTH_FILE", &auth_file),
    );
    assert_succeeded(&pushed, &[]);
    assert!(
        skopeo_inspect(&reference, Some("alice:secret"))
            .status
            .success()
    );

    let flags = push(&program, &["--creds", "alice:secret", &reference]);
    assert_succeeded(&flags, &["0 blobs uploaded"]);
}

#[test]
fn a_push_to_a_stopped_registry_fails_clearly_and_completes_once_it_is_back() {
    let mut registry = Registry::start(None);
    let reference = format!("{}/restart:v1", registry.address());
    let program = copy_to_registry("v1");
    registry.stop();
    let failed = push(&program, &[&reference]);
    assert_failed(&failed, &["failed 5 times"]);
    registry.resume();
    let pushed = push(&program, &[&reference]);
    assert_succeeded(&pushed, &[]);
    assert!(skopeo_inspect(&reference, None).status.success());
}

/// What a proxy in front of the registry does besides forwarding.
#[derive(Clone, Copy)]
enum Rule {
    /// The first `errors` blob uploads get a 500 answer, the next `drops` a
    /// closed connection.
    Faults { errors: usize, drops: usize },
    /// Requests need a bearer token, which `/token` gives for alice:secret.
    Bearer,
}

const TOKEN: &str = "token-for-alice";

/// A proxy in front of the registry. Each connection carries one request
/// (the proxy asks for `Connection: close`), so every request is seen.
struct Proxy {
    port: u16,
    spoiled: Arc<AtomicUsize>,
}

impl Proxy {
    fn start(upstream: u16, rule: Rule) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let spoiled = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&spoiled);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || proxy_one(client, port, upstream, &counter, rule));
            }
        });
        Proxy { port, spoiled }
    }
}

fn answer(mut client: TcpStream, status: &str, headers: &str, body: &str) {
    let _ = client.write_all(
        format!(
            "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let _ = client.shutdown(Shutdown::Both);
}

fn proxy_one(client: TcpStream, port: u16, upstream: u16, spoiled: &AtomicUsize, rule: Rule) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut head = String::new();
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("authorization:") {
            authorization = Some(line["authorization:".len()..].trim().to_owned());
        } else if !lower.starts_with("connection:") {
            head += &line;
        }
    }
    match rule {
        Rule::Faults { errors, drops } => {
            if head.starts_with("PUT ") && head.contains("/blobs/uploads/") {
                let n = spoiled.fetch_add(1, Ordering::SeqCst);
                if n < errors {
                    return answer(client, "500 Internal Server Error", "", "injected");
                }
                if n < errors + drops {
                    let _ = client.shutdown(Shutdown::Both);
                    return;
                }
            }
        }
        Rule::Bearer => {
            use base64::Engine;
            let basic = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("alice:secret")
            );
            if head.starts_with("GET /token?") {
                spoiled.fetch_add(1, Ordering::SeqCst);
                let scoped = head.contains("scope=repository%3Abearer%3Apull%2Cpush")
                    && head.contains("service=test");
                return if authorization.as_deref() == Some(basic.as_str()) && scoped {
                    answer(client, "200 OK", "", &format!(r#"{{"token":"{TOKEN}"}}"#))
                } else {
                    answer(client, "401 Unauthorized", "", "bad credentials or scope")
                };
            }
            if authorization != Some(format!("Bearer {TOKEN}")) {
                let challenge = format!(
                    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test\",scope=\"repository:bearer:pull,push\"\r\n"
                );
                return answer(client, "401 Unauthorized", &challenge, "token needed");
            }
        }
    }
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
    server
        .write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
        .unwrap();
    let mut to_server = server.try_clone().unwrap();
    let forward = std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut to_server);
    });
    let mut client = client;
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = forward.join();
}

#[test]
fn bearer_token_challenges_are_answered_with_the_credentials() {
    let registry = Registry::start(None);
    let proxy = Proxy::start(registry.port, Rule::Bearer);
    let reference = format!("localhost:{}/bearer:v1", proxy.port);
    let program = copy_to_registry("v1");

    let wrong = push(&program, &["--creds", "alice:wrong", &reference]);
    assert_failed(&wrong, &["refused the credentials of user 'alice'"]);

    let pushed = push(&program, &["--creds", "alice:secret", &reference]);
    assert_succeeded(&pushed, &["5 blobs uploaded"]);
    assert!(
        proxy.spoiled.load(Ordering::SeqCst) >= 2,
        "tokens were asked for"
    );
    let direct = format!("{}/bearer:v1", registry.address());
    assert_eq!(
        sha256_hex(&skopeo_inspect(&direct, None).stdout),
        manifest_digest("v1").trim_start_matches("sha256:")
    );
}

#[test]
fn missing_blobs_are_mounted_from_another_repository_when_asked() {
    let registry = Registry::start(None);
    let first = format!("{}/team/one:v1", registry.address());
    let second = format!("{}/team/two:v1", registry.address());
    let program = copy_to_registry("v1");
    assert!(push(&program, &[&first]).status.success());
    let mounted = push(&program, &["--mount-from", "team/one", &second]);
    assert_succeeded(&mounted, &["0 blobs uploaded", "5 mounted"]);
    assert_eq!(
        registry.blob_uploads(),
        9,
        "the first push's 7 blobs, and the bill of materials and its empty config again"
    );
    run(Command::new("podman").args(["pull", "-q", "--tls-verify=false", &second]));
    assert_eq!(podman_run(&second, &[], &[]).trim(), "app v1");
}

#[test]
fn injected_server_errors_and_dropped_connections_are_retried() {
    let registry = Registry::start(None);
    let proxy = Proxy::start(
        registry.port,
        Rule::Faults {
            errors: 2,
            drops: 2,
        },
    );
    let reference = format!("localhost:{}/faults:v1", proxy.port);
    let pushed = push(&copy_to_registry("v1"), &[&reference]);
    assert_succeeded(&pushed, &["trying again"]);
    assert!(
        proxy.spoiled.load(Ordering::SeqCst) >= 5,
        "the faults were met"
    );
    let direct = format!("{}/faults:v1", registry.address());
    assert!(skopeo_inspect(&direct, None).status.success());

    // A registry that always fails: a clear error after the retries.
    let broken = Proxy::start(
        registry.port,
        Rule::Faults {
            errors: usize::MAX / 2,
            drops: 0,
        },
    );
    let reference = format!("localhost:{}/broken:v1", broken.port);
    let failed = push(&copy_to_registry("v1"), &[&reference]);
    assert_failed(&failed, &["failed 5 times", "500"]);
    let direct = format!("{}/broken:v1", registry.address());
    assert!(!skopeo_inspect(&direct, None).status.success());

    // The push that failed half-way (its upload sessions left open) is run
    // again, straight to the registry, and completes.
    let again = push(&copy_to_registry("v1"), &[&direct]);
    assert_succeeded(&again, &[]);
    assert!(skopeo_inspect(&direct, None).status.success());
}

#[test]
fn a_layer_that_no_longer_matches_its_digest_is_never_pushed() {
    // Nix never changes a store path; the test does, by hand, to one it made.
    let store_path = "/nix/store/22222222222222222222222222222222-changes-after-describe";
    let _ = std::fs::remove_dir_all(store_path);
    std::fs::create_dir_all(store_path).unwrap();
    std::fs::write(format!("{store_path}/data"), "as described").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let description = dir.path().join("description.json");
    run(Command::new(strata_binary())
        .args(["describe", "--name", "changing", "--closure"])
        .arg(closure_file(dir.path(), &[store_path]))
        .arg("-o")
        .arg(&description)
        .arg(store_path));
    std::fs::write(format!("{store_path}/data"), "changed later").unwrap();

    let registry = Registry::start(None);
    let reference = format!("{}/changing:v1", registry.address());
    let pushed = output_of(
        Command::new(strata_binary())
            .arg("push")
            .arg(&description)
            .arg(&reference),
    );
    std::fs::remove_dir_all(store_path).unwrap();
    assert_failed(
        &pushed,
        &["no longer matches its recorded digest", store_path],
    );
    assert!(!skopeo_inspect(&reference, None).status.success());
    // strata cut the upload short: the registry never got to judge the bytes
    // (it would have refused them as "digest invalid").
    let log = std::fs::read_to_string(registry.log_path()).unwrap();
    assert!(
        log.contains("client disconnected during blob PATCH"),
        "{log}"
    );
    assert!(!log.contains("digest invalid"), "{log}");
}

#[test]
fn copy_to_docker_daemon_and_copy_to_podman_load_into_dockerd_and_podman() {
    let service = PodmanService::start();
    let host = format!("unix://{}", service.socket.display());
    // Whether these were loaded before does not matter.
    output_of(Command::new("podman").args(["rmi", "-f", "app:v1", "app:v2"]));

    let docker = program("v1", "copyToDockerDaemon", "copy-to-docker-daemon");
    let loaded = output_of(Command::new(&docker).env("DOCKER_HOST", &host));
    assert_succeeded(&loaded, &["app:v1"]);
    assert_eq!(podman_run("app:v1", &[], &[]).trim(), "app v1");

    let podman = program("v2", "copyToPodman", "copy-to-podman");
    let loaded = output_of(Command::new(&podman).env("CONTAINER_HOST", &host));
    assert_succeeded(&loaded, &[]);
    assert_eq!(podman_run("app:v2", &[], &[]).trim(), "app v2");

    // The Docker Engine itself.
    let engine = DockerEngine::start();
    let loaded = output_of(Command::new(&docker).env("DOCKER_HOST", engine.host()));
    assert_succeeded(&loaded, &["app:v1"]);
    assert_eq!(
        Engine::Docker(engine).run("app:v1", &[], &[]).trim(),
        "app v1"
    );

    // No engine at the socket: a clear error.
    let missing = output_of(Command::new(&docker).env("DOCKER_HOST", "unix:///nonexistent.sock"));
    assert_failed(&missing, &["cannot connect to /nonexistent.sock"]);
}

/// The digest of what `reference` names in the registry.
fn registry_digest(reference: &str) -> String {
    let output = skopeo_inspect(reference, None);
    assert!(output.status.success(), "{}", stderr(&output));
    format!("sha256:{}", sha256_hex(&output.stdout))
}

/// The manifest digest an OCI layout's index names.
fn layout_manifest(dir: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn pull_image_fetches_by_digest_and_picks_the_platform_of_an_index() {
    let registry = Registry::start(None);
    let amd64 = format!("{}/app:v1", registry.address());
    assert_succeeded(&push(&copy_to_registry("v1"), &[&amd64]), &[]);
    // The same busybox for arm64, and an index of the two made by podman.
    let work = tempfile::tempdir().unwrap();
    let description = work.path().join("arm64.json");
    let busybox = nix_build("busybox");
    run(Command::new(strata_binary())
        .args(["describe", "--name", "app-arm", "--system", "aarch64-linux"])
        .args(["--contents", &busybox, "-o"])
        .arg(&description));
    let arm64 = format!("{}/app-arm:1", registry.address());
    assert_succeeded(
        &push(
            Path::new(strata_binary()),
            &["push", description.to_str().unwrap(), &arm64],
        ),
        &[],
    );
    let list = format!("strata-test-list-{}", registry.port);
    let index = format!("{}/multi:1", registry.address());
    run(Command::new("podman").args(["manifest", "create", &list]));
    for image in [&amd64, &arm64] {
        run(Command::new("podman")
            .args(["manifest", "add", "--tls-verify=false", &list])
            .arg(format!("docker://{image}")));
    }
    run(Command::new("podman")
        .args(["manifest", "push", "--all", "--tls-verify=false", &list])
        .arg(format!("docker://{index}")));
    run(Command::new("podman").args(["manifest", "rm", &list]));
    let index_digest = registry_digest(&index);
    let multi = format!("{}/multi@{index_digest}", registry.address());

    let pulled = |arch: &str| {
        let dir = work.path().join(arch);
        let output = output_of(
            Command::new(strata_binary())
                .args(["pull", &multi, "--arch", arch, "--tag", "pulled", "-o"])
                .arg(&dir),
        );
        (dir, output)
    };
    let (amd64_dir, output) = pulled("amd64");
    assert_succeeded(&output, &["pulled"]);
    assert_eq!(layout_manifest(&amd64_dir), manifest_digest("v1"));
    let (arm64_dir, output) = pulled("arm64");
    assert_succeeded(&output, &[]);
    assert_eq!(layout_manifest(&arm64_dir), registry_digest(&arm64));
    let (missing, output) = pulled("s390x");
    assert_failed(
        &output,
        &["has no image for linux/s390x", "linux/amd64", "linux/arm64"],
    );
    assert!(!missing.exists(), "a failed pull leaves nothing behind");

    // pullImage in Nix: a fixed-output derivation with the layout's hash,
    // byte for byte what the command pulled.
    let sha256 = run(Command::new("nix-hash")
        .args(["--type", "sha256", "--base32"])
        .arg(&amd64_dir));
    let nix_build_pull = |attribute: &str| {
        let mut command = nix_command("nix-build", "tests/nix/pull.nix", attribute);
        command
            .arg("--no-out-link")
            .args(["--argstr", "imageName"])
            .arg(format!("{}/multi", registry.address()))
            .args(["--argstr", "imageDigest", &index_digest])
            .args(["--argstr", "sha256", sha256.trim()]);
        run(&mut command).trim().to_owned()
    };
    let layout = nix_build_pull("pulled");
    let diff = output_of(Command::new("diff").arg("-r").arg(&layout).arg(&amd64_dir));
    assert!(
        diff.status.success(),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
    let image = nix_build_pull("on-pulled");
    podman_load(Path::new(&image));
    assert_eq!(
        podman_run("on-pulled:test", &[], &[]),
        "app v1\n",
        "the pulled image's Cmd, on its layers"
    );
}
