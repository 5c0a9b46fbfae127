//! A real registry for the tests: Debian's docker-registry on loopback.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::{require, run};

/// A docker-registry serving on a free loopback port, stopped on drop.
pub struct Registry {
    child: Option<Child>,
    dir: tempfile::TempDir,
    host: &'static str,
    pub port: u16,
}

impl Registry {
    pub fn start(htpasswd: Option<&str>) -> Registry {
        Registry::start_on("127.0.0.1", htpasswd, "")
    }

    /// A registry serving HTTPS on 127.0.0.2 (not taken for local, so
    /// strata insists on TLS), with a certificate signed by a CA of its own;
    /// returns the directory that holds the CA's certificate, `ca.pem`.
    pub fn start_tls() -> (Registry, tempfile::TempDir) {
        require("openssl");
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().to_owned();
        let file = |name: &str| certs.join(name).display().to_string();
        let openssl = |args: &[&str]| {
            run(Command::new("openssl").args(args).current_dir(&certs));
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=strata test CA",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.2",
        ]);
        std::fs::write(
            certs.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.2\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        let tls = format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            file("cert.pem"),
            file("key.pem")
        );
        (Registry::start_on("127.0.0.2", None, &tls), dir)
    }

    pub fn start_on(host: &'static str, htpasswd: Option<&str>, http_extra: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}:{port}\n{http_extra}",
            dir.path().join("data").display()
        );
        if let Some(line) = htpasswd {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, line).unwrap();
            config += &format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                file.display()
            );
        }
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let mut registry = Registry {
            child: None,
            dir,
            host,
            port,
        };
        registry.resume();
        registry
    }

    /// Starts (again) the registry process, on the same port and storage.
    pub fn resume(&mut self) {
        require("docker-registry");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        self.child = Some(
            Command::new("docker-registry")
                .arg("serve")
                .arg(self.dir.path().join("config.yml"))
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("cannot start docker-registry"),
        );
        wait_for_port(self.host, self.port);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    /// How many blob uploads the registry has completed, from its access log.
    pub fn blob_uploads(&self) -> usize {
        std::fs::read_to_string(self.log_path())
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"PUT /v2/") && l.contains("/blobs/uploads/"))
            .filter(|l| l.contains("\" 201 "))
            .count()
    }

    pub fn address(&self) -> String {
        match self.host {
            "127.0.0.1" => format!("localhost:{}", self.port),
            host => format!("{host}:{}", self.port),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(host: &str, port: u16) {
    let started = Instant::now();
    while TcpStream::connect((host, port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing listens on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
