//! Measuring commands for the benchmarks: wall time and peak memory of a
//! child process, and the raw pass that stands for the hardware's limit.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct Measurement {
    pub wall: Duration,
    pub peak_rss_kib: u64,
}

/// Runs `command` to completion, returning its wall time and peak RSS.
pub fn measure(command: &mut Command) -> Measurement {
    let start = Instant::now();
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    reap(child, command, start, None)
}

/// As [`measure`], with the command's stdout read and thrown away, as a
/// pipe into a consumer would take it.
pub fn measure_drained(command: &mut Command) -> Measurement {
    command.stdout(std::process::Stdio::piped());
    let start = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let drain = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    reap(child, command, start, Some(drain))
}

/// Waits for `child` with `wait4`, which reports its peak RSS, then for the
/// thread draining its output; fails unless it exited with 0.
fn reap(
    child: std::process::Child,
    command: &Command,
    start: Instant,
    drain: Option<std::thread::JoinHandle<std::io::Result<u64>>>,
) -> Measurement {
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, which has not been waited for.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    if let Some(drain) = drain {
        drain.join().unwrap().unwrap();
    }
    let wall = start.elapsed();
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{command:?} failed with status {status}"
    );
    Measurement {
        wall,
        peak_rss_kib: usage.ru_maxrss as u64,
    }
}

/// Every regular file under `dir`.
pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files_under(&entry.path(), out);
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
}

/// The raw pass: read every listed file, hash it, write it out again, on
/// all threads; each thread has its own hasher and output file.
pub fn raw_pass(list: &Path, threads: usize) {
    let files: Vec<PathBuf> = fs::read_to_string(list)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    let out_dir = list.with_extension("raw-out");
    fs::create_dir_all(&out_dir).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        files.par_chunks(64).for_each_init(
            || {
                let index = rayon::current_thread_index().unwrap_or(0);
                let out = fs::File::create(out_dir.join(format!("out-{index}"))).unwrap();
                (
                    vec![0u8; 1 << 20],
                    Sha256::new(),
                    std::io::BufWriter::with_capacity(1 << 20, out),
                )
            },
            |(buffer, hasher, out), chunk| {
                for file in chunk {
                    let mut f = fs::File::open(file).unwrap();
                    loop {
                        let n = f.read(buffer).unwrap();
                        if n == 0 {
                            break;
                        }
                        hasher.update(&buffer[..n]);
                        out.write_all(&buffer[..n]).unwrap();
                    }
                }
                out.flush().unwrap();
            },
        );
    });
}

/// The median run, with the fastest and slowest wall times.
pub struct Summary {
    pub median: Measurement,
    pub fastest: Duration,
    pub slowest: Duration,
}

pub fn summarize(mut values: Vec<Measurement>) -> Summary {
    values.sort_by_key(|m| m.wall);
    let (fastest, slowest) = (values[0].wall, values[values.len() - 1].wall);
    Summary {
        median: values.swap_remove(values.len() / 2),
        fastest,
        slowest,
    }
}
