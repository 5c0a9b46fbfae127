//! Push time and bytes sent to a local registry (Debian's docker-registry on
//! loopback): a first push, and a push after an application-only change.
//!
//!   cargo bench --bench push -- [--paths 300] [--size 1GiB] [--files 50000]
//!
//! strata pushes from the image description, regenerating each layer from
//! the store. The baseline, measured in the same run on the same closure, is
//! the archive route: `strata build` writes the archive, then `skopeo copy
//! docker-archive:… docker://…` pushes it (skopeo too skips blobs the
//! registry has). Bytes sent are what the registry's storage grew by.

mod rng;
mod synthetic;

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    shape: synthetic::Shape,
    /// Accepted for `cargo bench`, which passes it
    #[arg(long, hide = true)]
    bench: bool,
}

/// The application: one store path of `bytes` random bytes, on top of the
/// generated closure's root.
fn write_app(store: &Path, version: u32, bytes: usize, seed: u64) -> String {
    let path = store.join(format!("{:0>32}-app-{version}", version));
    fs::create_dir_all(path.join("bin")).unwrap();
    let mut rng = rng::Rng::new(seed + u64::from(version));
    let data: Vec<u8> = (0..bytes / 8)
        .flat_map(|_| rng.next().to_le_bytes())
        .collect();
    fs::write(path.join("bin/app"), data).unwrap();
    path.display().to_string()
}

fn closure_with(
    store: &synthetic::Store,
    app: &str,
    app_bytes: u64,
    file: &Path,
) -> serde_json::Value {
    let mut records: Vec<serde_json::Value> = store
        .paths
        .iter()
        .map(|p| {
            serde_json::json!({
                "path": p.path,
                "narSize": p.bytes,
                "references": p.references.iter().map(|&r| store.paths[r].path.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    let root = store.paths.last().unwrap().path.clone();
    records.push(serde_json::json!({ "path": app, "narSize": app_bytes, "references": [root] }));
    fs::write(file, serde_json::to_string(&records).unwrap()).unwrap();
    serde_json::Value::Array(records)
}

struct Registry {
    child: Child,
    data: PathBuf,
    port: u16,
}

impl Registry {
    fn start(dir: &Path) -> Registry {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        fs::create_dir_all(dir).unwrap();
        let data = dir.join("registry");
        let config = dir.join("registry.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                data.display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is not installed: run scripts/install-deps");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { child, data, port }
    }

    /// Bytes of blobs the registry stores.
    fn stored(&self) -> u64 {
        fn walk(dir: &Path) -> u64 {
            fs::read_dir(dir).map_or(0, |entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let meta = e.metadata().unwrap();
                        if meta.is_dir() {
                            walk(&e.path())
                        } else {
                            meta.len()
                        }
                    })
                    .sum()
            })
        }
        walk(&self.data.join("docker/registry/v2/blobs"))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn timed(command: &mut Command) -> f64 {
    let started = Instant::now();
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed().as_secs_f64()
}

fn main() {
    let args = Args::parse();
    let work = tempfile::tempdir().unwrap();
    let shape = args.shape.clone();
    let store = synthetic::generate(work.path(), &shape).expect("cannot generate the closure");
    let app_bytes = 20 << 20;
    let strata = env!("CARGO_BIN_EXE_strata");
    let mut descriptions = Vec::new();
    let mut archives = Vec::new();
    for version in [1, 2] {
        let app = write_app(&store.store_dir, version, app_bytes, args.shape.seed);
        let closure = work.path().join(format!("closure-{version}.json"));
        closure_with(&store, &app, app_bytes as u64, &closure);
        for (kind, list) in [("describe", &mut descriptions), ("build", &mut archives)] {
            let out = work.path().join(format!("{kind}-{version}"));
            let mut command = Command::new(strata);
            command
                .args([kind, "--name", "bench", "--tag", &format!("v{version}")])
                .arg("--closure")
                .arg(&closure)
                .arg("--contents")
                .arg(&app)
                .arg("-o")
                .arg(&out)
                .env("NIX_STORE", &store.store_dir);
            list.push((timed(&mut command), out));
        }
    }

    println!(
        "Closure: {} store paths, {:.0} MiB, plus a {} MiB application; gzip layers.\n",
        store.paths.len() + 1,
        (store.total_bytes + app_bytes as u64) as f64 / f64::from(1 << 20),
        app_bytes >> 20
    );
    println!(
        "| push | strata: describe + push, seconds | MB sent | archive route: build + copy, seconds | MB sent |"
    );
    println!("|---|---:|---:|---:|---:|");
    let strata_registry = Registry::start(&work.path().join("a"));
    let skopeo_registry = Registry::start(&work.path().join("b"));
    for (version, label) in [(0, "first push"), (1, "after an application change")] {
        let before = strata_registry.stored();
        let seconds = timed(
            Command::new(strata)
                .arg("push")
                .arg(&descriptions[version].1)
                .arg(format!(
                    "localhost:{}/bench:v{}",
                    strata_registry.port,
                    version + 1
                ))
                .env("NIX_STORE", &store.store_dir),
        );
        let sent = strata_registry.stored() - before;

        let before = skopeo_registry.stored();
        let copy = timed(
            Command::new("skopeo")
                .args(["copy", "-q", "--dest-tls-verify=false"])
                .arg(format!("docker-archive:{}", archives[version].1.display()))
                .arg(format!(
                    "docker://localhost:{}/bench:v{}",
                    skopeo_registry.port,
                    version + 1
                )),
        );
        let skopeo_sent = skopeo_registry.stored() - before;
        let (build, describe) = (archives[version].0, descriptions[version].0);
        println!(
            "| {label} | {:.2} ({describe:.2} + {seconds:.2}) | {:.1} | {:.2} ({build:.2} + {copy:.2}) | {:.1} |",
            describe + seconds,
            sent as f64 / 1e6,
            build + copy,
            skopeo_sent as f64 / 1e6
        );
    }
}
