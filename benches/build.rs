//! Image build throughput: strata against the classic shell pipelines and
//! the hardware's limit, measured in the same run on the same generated
//! closure.
//!
//!   cargo bench --bench build -- [--paths 300] [--size 1GiB] [--files 50000] [--runs 3]
//!
//! Baselines:
//! - `tar -c … | sha256sum`: GNU tar over the same store paths, hashed.
//! - raw pass: every file read, hashed with sha256 and written out again,
//!   spread over all threads; no tar, no layering: what the disk and the CPU
//!   allow.
//! - `tar -c … | pigz` and `tar -c … | zstd -T0`: the same bytes compressed
//!   on all cores, against strata's gz and zstd layers.

#[allow(
    dead_code,
    reason = "shared with the loop benchmark, which uses all of it"
)]
mod measure;
mod rng;
mod synthetic;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Parser;

use measure::{Measurement, Summary, files_under, measure, raw_pass, summarize};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    shape: synthetic::Shape,
    /// Runs of each command; the median is reported
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Worker threads for strata and the raw pass (0: one per core)
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Where to generate the closure (default: a temporary directory)
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Internal: run the raw pass over the files listed in this file
    #[arg(long, hide = true)]
    raw_pass: Option<PathBuf>,
    /// Internal: only generate the closure into --work-dir
    #[arg(long, hide = true)]
    generate: bool,
    /// Accepted for `cargo bench`, which passes it
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let args = Args::parse();
    if let Some(list) = &args.raw_pass {
        raw_pass(list, args.threads);
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let work = args
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    if args.generate {
        generate(&args, &work);
        return;
    }
    let self_exe = std::env::current_exe().unwrap();
    let generation = measure(&mut args.shape.generate_command(&self_exe, &work)).wall;
    let summary = synthetic::read_summary(&work);
    let total_bytes = summary["bytes"].as_u64().unwrap();
    let (file_list, path_list) = (work.join("files"), work.join("paths"));
    let store_dir = work.join("store");
    let closure_file = work.join("closure.json");
    let threads = args.threads.to_string();
    let strata = |compressor: &str, archive: &Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
        command
            .args([
                "build",
                "--name",
                "bench",
                "--tag",
                "bench",
                "--compressor",
                compressor,
            ])
            .args(["--threads", &threads, "--closure"])
            .arg(&closure_file)
            .arg("-o")
            .arg(archive)
            .env("NIX_STORE", &store_dir)
            .stderr(std::process::Stdio::null());
        command
    };
    let tar_into = |consumer: &str| {
        let mut command = Command::new("bash");
        command.arg("-c").arg(format!(
            "set -o pipefail; tar -c -f - -C '{}' -T '{}' | {consumer}",
            store_dir.display(),
            path_list.display()
        ));
        command
    };
    let mut raw = Command::new(&self_exe);
    raw.args(["--threads", &threads, "--raw-pass"])
        .arg(&file_list);

    // What is measured: a name, the command, and the file whose size it
    // reports. The first three are the uncompressed comparison.
    let out = |name: &str| work.join(name);
    let zstd_threads = if args.threads == 0 {
        "-T0".to_owned()
    } else {
        format!("-T{}", args.threads)
    };
    let mut commands: Vec<(&str, Command, Option<PathBuf>)> = vec![
        (
            "strata build, uncompressed layers",
            strata("none", &out("none.tar")),
            Some(out("none.tar")),
        ),
        (
            "tar -c \\| sha256sum",
            tar_into("sha256sum > /dev/null"),
            None,
        ),
        ("raw pass: read + sha256 + write, all cores", raw, None),
        (
            "strata build, gz layers",
            strata("gz", &out("gz.tar")),
            Some(out("gz.tar")),
        ),
        (
            "tar -c \\| pigz (all cores)",
            tar_into(&format!(
                "pigz -6 -p {} > '{}'",
                cores_of(args.threads),
                out("pigz.out").display()
            )),
            Some(out("pigz.out")),
        ),
        (
            "strata build, zstd layers",
            strata("zstd", &out("zstd.tar")),
            Some(out("zstd.tar")),
        ),
        (
            "tar -c \\| zstd -3 -T0 (all cores)",
            tar_into(&format!(
                "zstd -q -3 {zstd_threads} -o '{}'",
                out("zstd.out").display()
            )),
            Some(out("zstd.out")),
        ),
    ];

    // Every command starts alike: earlier outputs removed and written back
    // (freeing a large file is costly and would be charged to whoever comes
    // next), the inputs in the page cache.
    let raw_out = file_list.with_extension("raw-out");
    let outputs: Vec<PathBuf> = commands.iter().filter_map(|(_, _, o)| o.clone()).collect();
    let settle = || {
        for output in &outputs {
            let _ = fs::remove_file(output);
        }
        let _ = fs::remove_dir_all(&raw_out);
        // SAFETY: sync has no preconditions.
        unsafe { libc::sync() };
    };
    measure(&mut commands[2].1);
    let mut results: Vec<Vec<Measurement>> = commands.iter().map(|_| Vec::new()).collect();
    let mut sizes: Vec<Option<u64>> = vec![None; commands.len()];
    // Two phases, each interleaved: the uncompressed comparison first, then
    // the compressors, whose long runs would otherwise disturb it.
    for phase in [0..3, 3..commands.len()] {
        for _ in 0..args.runs.max(1) {
            for i in phase.clone() {
                let (_, command, output) = &mut commands[i];
                settle();
                results[i].push(measure(command));
                sizes[i] = output.as_ref().map(|o| fs::metadata(o).unwrap().len());
            }
        }
    }
    settle();
    let summaries: Vec<Summary> = results.into_iter().map(summarize).collect();

    let mib = total_bytes as f64 / (1 << 20) as f64;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "closure: {} store paths, {} files, {:.0} MiB (generated in {:.1} s); {} threads on {} cores; median of {} runs",
        summary["paths"],
        summary["files"],
        mib,
        generation.as_secs_f64(),
        cores_of(args.threads),
        cores,
        args.runs.max(1)
    );
    println!();
    println!(
        "| command | wall (s), median | fastest–slowest (s) | MiB/s | peak RSS (MiB) | output (MiB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for ((name, _, _), (s, size)) in commands.iter().zip(summaries.iter().zip(&sizes)) {
        let wall = s.median.wall.as_secs_f64();
        let size = size.map_or("—".to_owned(), |b| {
            format!("{:.0}", b as f64 / (1 << 20) as f64)
        });
        println!(
            "| {name} | {wall:.2} | {:.2}–{:.2} | {:.0} | {:.1} | {size} |",
            s.fastest.as_secs_f64(),
            s.slowest.as_secs_f64(),
            mib / wall,
            s.median.peak_rss_kib as f64 / 1024.0,
        );
    }
    let (strata, tar, raw) = (&summaries[0], &summaries[1], &summaries[2]);
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    println!();
    for (which, pick) in [
        (
            "median",
            (|s: &Summary| s.median.wall) as fn(&Summary) -> Duration,
        ),
        ("fastest", |s: &Summary| s.fastest),
    ] {
        let speedup = pick(tar).as_secs_f64() / pick(strata).as_secs_f64();
        let to_limit = pick(strata).as_secs_f64() / pick(raw).as_secs_f64();
        println!(
            "{which} runs, uncompressed: {speedup:.2}x faster than tar | sha256sum (want >= 3): {}; {to_limit:.2}x the raw pass (want <= 1.5): {}",
            verdict(speedup >= 3.0),
            verdict(to_limit <= 1.5),
        );
    }
    let rss = strata.median.peak_rss_kib as f64 / 1024.0;
    println!(
        "peak RSS {rss:.1} MiB (want < 100): {}",
        verdict(rss < 100.0)
    );
}

/// The number of threads `--threads` stands for.
fn cores_of(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
}

/// Generates the closure into `work`, with the lists the baselines need.
fn generate(args: &Args, work: &Path) {
    let shape = args.shape.clone();
    let store = synthetic::generate(work, &shape).expect("cannot generate the closure");
    let mut files = Vec::new();
    files_under(&store.store_dir, &mut files);
    let paths: Vec<&str> = store.paths.iter().map(|p| p.path.as_str()).collect();
    synthetic::write_lists(work, &files, &paths).unwrap();
    let summary = serde_json::json!({
        "paths": store.paths.len(),
        "files": files.len(),
        "bytes": store.total_bytes,
    });
    fs::write(work.join("summary.json"), summary.to_string()).unwrap();
}
