//! The container engines images are run in: podman, and a Docker Engine
//! (`dockerd`) of the test's own, with Debian's `docker` client.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{podman_load, podman_run, require, run};

/// Debian's Docker client, which speaks the API of its dockerd.
pub const DOCKER_CLIENT: &str = "/usr/bin/docker";

/// How long dockerd may take to answer.
const DOCKERD_START: Duration = Duration::from_secs(90);
/// How long dockerd may take to stop before it is killed.
const DOCKERD_STOP: Duration = Duration::from_secs(30);

/// A dockerd with its own data, state and socket in a temporary directory,
/// stopped by its pid on drop. overlay2 first, vfs where overlay2 fails.
pub struct DockerEngine {
    child: Child,
    dir: tempfile::TempDir,
    pub socket: PathBuf,
}

impl DockerEngine {
    pub fn start() -> DockerEngine {
        require("dockerd");
        assert!(
            Path::new(DOCKER_CLIENT).is_file(),
            "{DOCKER_CLIENT} is not installed, and this test needs it: run .ci/run (or apt-get install docker.io)"
        );
        let mut logs = String::new();
        for driver in ["overlay2", "vfs"] {
            match DockerEngine::start_with(driver) {
                Ok(engine) => return engine,
                Err(log) => logs.push_str(&format!("\n--- dockerd with {driver}:\n{log}")),
            }
        }
        panic!("dockerd did not start:{logs}");
    }

    /// Starts dockerd with the storage driver `driver`; its log on failure.
    fn start_with(driver: &str) -> Result<DockerEngine, String> {
        let dir = tempfile::Builder::new()
            .prefix("dockerd")
            .tempdir()
            .unwrap();
        let socket = dir.path().join("docker.sock");
        let log_path = dir.path().join("dockerd.log");
        let log = fs::File::create(&log_path).unwrap();
        let child = Command::new("dockerd")
            .arg("--data-root")
            .arg(dir.path().join("data"))
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            .args(["--storage-driver", driver])
            .args(["--bridge=none", "--iptables=false", "--ip-forward=false"])
            .arg("--ip-masq=false")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run dockerd: {e}"));
        let mut engine = DockerEngine { child, dir, socket };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = engine.child.try_wait() {
                let log = fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("exited ({status}):\n{log}"));
            }
            let ping = engine
                .docker()
                .args(["version", "--format", "{{.Server.Version}}"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if ping.is_ok_and(|s| s.success()) {
                return Ok(engine);
            }
            if started.elapsed() > DOCKERD_START {
                let log = fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("no answer in {DOCKERD_START:?}:\n{log}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The `docker` client, talking to this engine.
    pub fn docker(&self) -> Command {
        let mut command = Command::new(DOCKER_CLIENT);
        command
            .env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.dir.path().join("client"))
            .env("DOCKER_BUILDKIT", "0");
        command
    }

    /// The major version of the engine (20 for 20.10.24).
    pub fn major_version(&self) -> u32 {
        let version = run(self
            .docker()
            .args(["version", "--format", "{{.Server.Version}}"]));
        version
            .split('.')
            .next()
            .and_then(|major| major.trim().parse().ok())
            .unwrap_or_else(|| panic!("dockerd gave no version: {version}"))
    }

    /// `unix://` and the socket, as `DOCKER_HOST` takes it.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Signals the process of `pid_file`, if it names one that runs.
    fn signal(pid_file: &Path, signal: libc::c_int) {
        if let Some(pid) = fs::read_to_string(pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<libc::pid_t>().ok())
        {
            // SAFETY: kill(2) takes any pid and signal; it changes no memory.
            unsafe { libc::kill(pid, signal) };
        }
    }
}

impl Drop for DockerEngine {
    fn drop(&mut self) {
        let pid_file = self.dir.path().join("dockerd.pid");
        DockerEngine::signal(&pid_file, libc::SIGTERM);
        let stopping = Instant::now();
        while self.child.try_wait().ok().flatten().is_none() {
            if stopping.elapsed() > DOCKERD_STOP {
                let _ = self.child.kill();
                let _ = self.child.wait();
                // Its containerd outlives a killed dockerd.
                let containerd = self.dir.path().join("exec/containerd/containerd.pid");
                DockerEngine::signal(&containerd, libc::SIGKILL);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// An engine to load images into and run them in.
pub enum Engine {
    Podman,
    Docker(DockerEngine),
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Engine::Podman => "podman",
            Engine::Docker(_) => "docker",
        })
    }
}

/// podman, and a dockerd started for the caller.
pub fn engines() -> [Engine; 2] {
    [Engine::Podman, Engine::Docker(DockerEngine::start())]
}

impl Engine {
    /// Loads an archive (`docker load`, `podman load`).
    pub fn load(&self, archive: &Path) {
        match self {
            Engine::Podman => podman_load(archive),
            Engine::Docker(engine) => {
                run(engine.docker().arg("load").arg("-i").arg(archive));
            }
        }
    }

    /// Runs `image` (with `extra` options, then `command`) with no network,
    /// removed when it ends; returns its stdout.
    pub fn run(&self, image: &str, extra: &[&str], command: &[&str]) -> String {
        match self {
            Engine::Podman => podman_run(image, extra, command),
            Engine::Docker(engine) => run(engine
                .docker()
                .args(["run", "--rm", "--network=none"])
                .args(extra)
                .arg(image)
                .args(command)),
        }
    }
}

/// Loads `archives` into podman and into a dockerd of its own, then runs
/// `check` on each engine.
pub fn in_every_engine(archives: &[&Path], check: impl Fn(&Engine)) {
    for engine in engines() {
        for archive in archives {
            engine.load(archive);
        }
        check(&engine);
    }
}
