//! The loop a user runs all day: build the image, change the application,
//! build and push again, stream it into an engine, keep an archive. All
//! against baselines measured in the same run on the same generated closure.
//!
//!   cargo bench --bench loop -- [--paths 300] [--size 1GiB] [--files 50000] [--runs 3]
//!
//! The closure is the `build` benchmark's, with a 20 MiB application on
//! top, at version 1 and then 2 (another store path). "Build" is what the
//! Nix builder runs (`strata describe` for the description derivation of
//! `streamLayeredImage` and the `copyTo*` scripts, `strata build` for
//! `buildLayeredImage`); Nix's own part is not measured. Pushes go to
//! Debian's `docker-registry` on loopback, every case to repositories of
//! its own; a cold cache is an empty `$XDG_CACHE_HOME`.
//!
//! Baselines:
//! - raw pass: every file of the closure read, hashed with sha256 and
//!   written out again, on all cores;
//! - the changed layers alone: describing and pushing an image of the
//!   application alone to an empty repository, cold cache: hashing,
//!   compressing and uploading what changed, and nothing else;
//! - `tar -c | sha256sum` of the closure's store paths;
//! - single-stream gzip: `tar -c` of the store paths into one zlib stream
//!   at level 6, by the encoder strata uses (as each layer was compressed
//!   before layers were split into blocks).

mod measure;
mod registry;
mod rng;
mod synthetic;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Parser;

use measure::{Measurement, Summary, files_under, measure, measure_drained, raw_pass, summarize};
use registry::Registry;

/// The application's size.
const APP_BYTES: usize = 20 << 20;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    shape: synthetic::Shape,
    /// Runs of each step; the median is reported
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where to generate the closure (default: a temporary directory)
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Internal: run the raw pass over the files listed in this file
    #[arg(long, hide = true)]
    raw_pass: Option<PathBuf>,
    /// Internal: compress stdin to stdout as one gzip stream
    #[arg(long, hide = true)]
    gzip_stream: bool,
    /// Internal: only generate the closure into --work-dir
    #[arg(long, hide = true)]
    generate: bool,
    /// Accepted for `cargo bench`, which passes it
    #[arg(long, hide = true)]
    bench: bool,
}

/// What each step is measured as; a row of the results.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Step {
    RawPass,
    ChangedAlone,
    TarSha256,
    SingleStreamGzip,
    FirstDescribe,
    FirstPush,
    Describe,
    PushWarm,
    PushColdSameTag,
    DescribePrevious,
    PushPreviousWarm,
    PushPreviousColdNewTag,
    Stream,
    BuildGz,
}

impl Step {
    const ALL: [Step; 14] = [
        Step::RawPass,
        Step::ChangedAlone,
        Step::TarSha256,
        Step::SingleStreamGzip,
        Step::FirstDescribe,
        Step::FirstPush,
        Step::Describe,
        Step::PushWarm,
        Step::PushColdSameTag,
        Step::DescribePrevious,
        Step::PushPreviousWarm,
        Step::PushPreviousColdNewTag,
        Step::Stream,
        Step::BuildGz,
    ];

    fn label(self) -> &'static str {
        match self {
            Step::RawPass => "baseline: raw pass (read + sha256 + write, all cores)",
            Step::ChangedAlone => "baseline: the changed layers alone (describe + push)",
            Step::TarSha256 => "baseline: `tar -c \\| sha256sum`",
            Step::SingleStreamGzip => "baseline: `tar -c` into one gzip stream",
            Step::FirstDescribe => "first build: describe v1",
            Step::FirstPush => "first push of v1, cold cache",
            Step::Describe => "after the change: describe v2",
            Step::PushWarm => "push v2, warm cache, new tag",
            Step::PushColdSameTag => "push v2, cold cache, the tag holding v1",
            Step::DescribePrevious => "describe v2 with `previousPlan`",
            Step::PushPreviousWarm => "push it, warm cache, new tag",
            Step::PushPreviousColdNewTag => "push it, cold cache, new tag",
            Step::Stream => "stream v2 into a pipe",
            Step::BuildGz => "`buildLayeredImage` of v2, gz",
        }
    }
}

fn main() {
    let args = Args::parse();
    if let Some(list) = &args.raw_pass {
        raw_pass(list, 0);
        return;
    }
    if args.gzip_stream {
        gzip_stream();
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let work = args
        .work_dir
        .clone()
        .unwrap_or_else(|| temp.path().to_owned());
    if args.generate {
        generate(&args.shape, &work);
        return;
    }
    let self_exe = std::env::current_exe().unwrap();
    measure(&mut args.shape.generate_command(&self_exe, &work));
    let summary = synthetic::read_summary(&work);
    let registry = Registry::start(&work.join("registry"));
    let bench = Bench {
        work: work.clone(),
        self_exe,
        registry: format!("localhost:{}", registry.port),
    };

    let mut results: Vec<(Step, Measurement, Option<f64>)> = Vec::new();
    for run in 0..args.runs.max(1) {
        bench.run(run, &mut results);
    }
    bench.settle();
    report(&summary, args.runs.max(1), results);
}

struct Bench {
    work: PathBuf,
    self_exe: PathBuf,
    /// `host:port` of the registry.
    registry: String,
}

impl Bench {
    fn file(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    /// strata with the generated store as its store.
    fn strata(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
        command
            .env("NIX_STORE", self.file("store"))
            .stderr(Stdio::null());
        command
    }

    /// `strata describe` of the closure `{closure}.json`, with the
    /// application `{closure}.app` names as its contents.
    fn describe(&self, closure: &str, tag: &str, previous: Option<&Path>, out: &Path) -> Command {
        let mut command = self.strata();
        command
            .args(["describe", "--name", "bench", "--tag", tag, "--closure"])
            .arg(self.file(&format!("{closure}.json")))
            .arg("--contents")
            .arg(fs::read_to_string(self.file(&format!("{closure}.app"))).unwrap())
            .arg("-o")
            .arg(out);
        if let Some(previous) = previous {
            command.arg("--previous-plan").arg(previous);
        }
        command
    }

    /// `strata push` of `description` to `repository:tag`, with `cache` as
    /// its cache; what it reports goes to `log`.
    fn push(&self, description: &Path, destination: &str, cache: &Path, log: &Path) -> Command {
        let mut command = self.strata();
        command
            .arg("push")
            .arg(description)
            .arg(format!("{}/{destination}", self.registry))
            .env("XDG_CACHE_HOME", cache)
            .stderr(fs::File::create(log).unwrap());
        command
    }

    /// An empty cache directory, or one holding what `template` holds.
    fn cache(&self, name: &str, template: Option<&Path>) -> PathBuf {
        let dir = self.file(name);
        let _ = fs::remove_dir_all(&dir);
        match template {
            Some(template) => {
                let status = Command::new("cp")
                    .arg("-a")
                    .arg(template)
                    .arg(&dir)
                    .status()
                    .unwrap();
                assert!(status.success(), "cannot copy the cache {template:?}");
            }
            None => fs::create_dir_all(&dir).unwrap(),
        }
        dir
    }

    /// Runs `command` unmeasured, as the setup of a step.
    fn prepare(&self, command: &mut Command) {
        measure(command);
    }

    /// Measures a push, with the megabytes it reports it uploaded.
    fn measure_push(&self, command: &mut Command, log: &Path) -> (Measurement, Option<f64>) {
        let measurement = measure(command);
        let text = fs::read_to_string(log).unwrap();
        let uploaded = text
            .split("blobs uploaded (")
            .nth(1)
            .and_then(|rest| rest.split(" MB)").next())
            .and_then(|mb| mb.parse().ok());
        assert!(
            uploaded.is_some(),
            "the push did not report what it sent: {text}"
        );
        (measurement, uploaded)
    }

    /// Large outputs removed and the page cache written back, so that no
    /// step pays for another's files.
    fn settle(&self) {
        for name in ["v2.tar", "gzip-stream.out"] {
            let _ = fs::remove_file(self.file(name));
        }
        let _ = fs::remove_dir_all(self.file("files").with_extension("raw-out"));
        // SAFETY: sync has no preconditions.
        unsafe { libc::sync() };
    }

    fn tar_into(&self, consumer: &str) -> Command {
        let mut command = Command::new("bash");
        command.arg("-c").arg(format!(
            "set -o pipefail; tar -c -f - -C '{}' -T '{}' | {consumer}",
            self.file("store").display(),
            self.file("paths").display()
        ));
        command
    }

    /// One run of every step, each in repositories and caches of its own.
    fn run(&self, run: usize, results: &mut Vec<(Step, Measurement, Option<f64>)>) {
        let mut record = |step: Step, (m, mb): (Measurement, Option<f64>)| {
            results.push((step, m, mb));
        };
        let log = self.file("push.log");
        let repo = |case: &str| format!("r{run}-{case}");

        self.settle();
        let mut raw = Command::new(&self.self_exe);
        raw.arg("--raw-pass").arg(self.file("files"));
        record(Step::RawPass, (measure(&mut raw), None));

        // The changed layers alone: the application's image, from nothing.
        self.settle();
        let alone = self.file("alone.json");
        let cache = self.cache("cache-alone", None);
        let describe = measure(&mut self.describe("app-2", "v2", None, &alone));
        let (push, mb) = self.measure_push(
            &mut self.push(&alone, &format!("{}:v2", repo("alone")), &cache, &log),
            &log,
        );
        let both = Measurement {
            wall: describe.wall + push.wall,
            peak_rss_kib: describe.peak_rss_kib.max(push.peak_rss_kib),
        };
        record(Step::ChangedAlone, (both, mb));

        self.settle();
        record(
            Step::TarSha256,
            (measure(&mut self.tar_into("sha256sum > /dev/null")), None),
        );
        self.settle();
        let gzip = format!(
            "'{}' --gzip-stream > '{}'",
            self.self_exe.display(),
            self.file("gzip-stream.out").display()
        );
        record(
            Step::SingleStreamGzip,
            (measure(&mut self.tar_into(&gzip)), None),
        );

        // The first build and push; the cache it leaves is the warm one.
        self.settle();
        let v1 = self.file("v1.json");
        let first = self.cache("cache-first", None);
        record(
            Step::FirstDescribe,
            (
                measure(&mut self.describe("closure-1", "v1", None, &v1)),
                None,
            ),
        );
        let first_repo = repo("first");
        record(
            Step::FirstPush,
            self.measure_push(
                &mut self.push(&v1, &format!("{first_repo}:v1"), &first, &log),
                &log,
            ),
        );
        let warm = self.file(&format!("cache-warm-{run}"));
        let _ = fs::remove_dir_all(&warm);
        fs::rename(&first, &warm).unwrap();
        // Another repository holding v1, its blobs mounted from the first.
        let holding_v1 = |case: &str, tag: &str| {
            let destination = format!("{}:{tag}", repo(case));
            let cache = self.cache("cache-setup", Some(&warm));
            self.prepare(
                self.push(&v1, &destination, &cache, &log)
                    .args(["--mount-from", &first_repo]),
            );
        };

        // After the change, without `previousPlan`.
        self.settle();
        let v2 = self.file("v2.json");
        record(
            Step::Describe,
            (
                measure(&mut self.describe("closure-2", "v2", None, &v2)),
                None,
            ),
        );
        holding_v1("warm", "v1");
        let cache = self.cache("cache-step", Some(&warm));
        record(
            Step::PushWarm,
            self.measure_push(
                &mut self.push(&v2, &format!("{}:v2", repo("warm")), &cache, &log),
                &log,
            ),
        );
        holding_v1("same-tag", "latest");
        let cache = self.cache("cache-step", None);
        record(
            Step::PushColdSameTag,
            self.measure_push(
                &mut self.push(&v2, &format!("{}:latest", repo("same-tag")), &cache, &log),
                &log,
            ),
        );

        // After the change, with v1's description as `previousPlan`.
        self.settle();
        let v2_previous = self.file("v2-previous.json");
        record(
            Step::DescribePrevious,
            (
                measure(&mut self.describe("closure-2", "v2", Some(&v1), &v2_previous)),
                None,
            ),
        );
        holding_v1("previous-warm", "v1");
        let cache = self.cache("cache-step", Some(&warm));
        record(
            Step::PushPreviousWarm,
            self.measure_push(
                &mut self.push(
                    &v2_previous,
                    &format!("{}:v2", repo("previous-warm")),
                    &cache,
                    &log,
                ),
                &log,
            ),
        );
        holding_v1("previous-cold", "v1");
        let cache = self.cache("cache-step", None);
        record(
            Step::PushPreviousColdNewTag,
            self.measure_push(
                &mut self.push(
                    &v2_previous,
                    &format!("{}:v2", repo("previous-cold")),
                    &cache,
                    &log,
                ),
                &log,
            ),
        );

        self.settle();
        let mut stream = self.strata();
        stream.arg("stream").arg(&v2);
        record(Step::Stream, (measure_drained(&mut stream), None));

        self.settle();
        let mut build = self.strata();
        build
            .args([
                "build",
                "--name",
                "bench",
                "--tag",
                "v2",
                "--compressor",
                "gz",
            ])
            .arg("--closure")
            .arg(self.file("closure-2.json"))
            .arg("--contents")
            .arg(fs::read_to_string(self.file("closure-2.app")).unwrap())
            .arg("-o")
            .arg(self.file("v2.tar"));
        record(Step::BuildGz, (measure(&mut build), None));
        let _ = fs::remove_dir_all(&warm);
    }
}

/// Prints the table and the targets.
fn report(
    summary: &serde_json::Value,
    runs: usize,
    results: Vec<(Step, Measurement, Option<f64>)>,
) {
    let mut by_step: Vec<(Step, Summary, Option<f64>)> = Vec::new();
    for step in Step::ALL {
        let mut sent = None;
        let values: Vec<Measurement> = results
            .iter()
            .filter(|(s, _, _)| *s == step)
            .map(|(_, m, mb)| {
                sent = sent.or(*mb);
                m.clone()
            })
            .collect();
        by_step.push((step, summarize(values), sent));
    }
    let seconds = |step: Step| {
        by_step
            .iter()
            .find(|(s, _, _)| *s == step)
            .unwrap()
            .1
            .median
            .wall
            .as_secs_f64()
    };
    let mib = summary["bytes"].as_u64().unwrap() as f64 / f64::from(1 << 20);
    println!(
        "closure: {} store paths, {} files, {mib:.0} MiB, plus a {} MiB application; {} cores; median of {runs} runs",
        summary["paths"],
        summary["files"],
        APP_BYTES >> 20,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    println!();
    println!("| step | wall (s), median | fastest–slowest (s) | MB uploaded | peak RSS (MiB) |");
    println!("|---|---:|---:|---:|---:|");
    for (step, s, sent) in &by_step {
        println!(
            "| {} | {:.2} | {:.2}–{:.2} | {} | {:.1} |",
            step.label(),
            s.median.wall.as_secs_f64(),
            s.fastest.as_secs_f64(),
            s.slowest.as_secs_f64(),
            sent.map_or("—".to_owned(), |mb| format!("{mb:.1}")),
            s.median.peak_rss_kib as f64 / 1024.0,
        );
    }

    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let (raw, alone) = (seconds(Step::RawPass), seconds(Step::ChangedAlone));
    println!();
    for (what, push) in [
        ("warm cache", Step::PushWarm),
        ("cold cache, same tag", Step::PushColdSameTag),
    ] {
        let ratio = (seconds(Step::Describe) + seconds(push)) / (raw + alone);
        println!(
            "after a change, describe + push ({what}): {ratio:.2}x (raw pass + changed layers alone), want <= 1.5: {}",
            verdict(ratio <= 1.5)
        );
    }
    for (what, push) in [
        ("warm cache", Step::PushPreviousWarm),
        ("cold cache, new tag", Step::PushPreviousColdNewTag),
    ] {
        let total = seconds(Step::DescribePrevious) + seconds(push);
        let allowed = 0.5 + 1.5 * alone;
        println!(
            "with previousPlan, describe + push ({what}): {:.2}x (0.5 s + 1.5x changed layers alone), want <= 1: {}",
            total / allowed,
            verdict(total <= allowed)
        );
    }
    let describe = seconds(Step::Describe) / raw;
    println!(
        "describe: {describe:.2}x the raw pass, want <= 1.3: {}",
        verdict(describe <= 1.3)
    );
    let stream = seconds(Step::Stream);
    let faster = seconds(Step::TarSha256) / stream;
    println!(
        "stream: {:.2}x the raw pass, want <= 1.5: {}; {faster:.2}x faster than tar | sha256sum, want >= 5: {}",
        stream / raw,
        verdict(stream / raw <= 1.5),
        verdict(faster >= 5.0)
    );
    let gzip = seconds(Step::SingleStreamGzip) / seconds(Step::BuildGz);
    println!(
        "buildLayeredImage with gz: {gzip:.2}x faster than single-stream gzip, want >= 1.8: {}",
        verdict(gzip >= 1.8)
    );
    let strata_peak = by_step
        .iter()
        .filter(|(step, _, _)| *step >= Step::FirstDescribe)
        .map(|(_, s, _)| s.median.peak_rss_kib)
        .max()
        .unwrap() as f64
        / 1024.0;
    println!(
        "peak RSS of strata's steps: {strata_peak:.1} MiB, want < 100: {}",
        verdict(strata_peak < 100.0)
    );
}

/// Compresses stdin to stdout as one gzip stream at level 6.
fn gzip_stream() {
    let mut encoder = flate2::write::GzEncoder::new(
        std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock()),
        flate2::Compression::new(6),
    );
    std::io::copy(&mut std::io::stdin().lock(), &mut encoder).unwrap();
    encoder.finish().unwrap().flush().unwrap();
}

/// Generates the closure, the application at versions 1 and 2, and the
/// lists the baselines read.
fn generate(shape: &synthetic::Shape, work: &Path) {
    let store = synthetic::generate(work, shape).expect("cannot generate the closure");
    let closure: Vec<serde_json::Value> =
        serde_json::from_slice(&fs::read(work.join("closure.json")).unwrap()).unwrap();
    let root = store.paths.last().unwrap().path.clone();
    let mut app_path = String::new();
    for version in [1u64, 2] {
        let app = store
            .store_dir
            .join(format!("{version:0>32}-app-{version}"));
        fs::create_dir_all(app.join("bin")).unwrap();
        let mut rng = rng::Rng::new(shape.seed + version);
        let bytes: Vec<u8> = (0..APP_BYTES / 8)
            .flat_map(|_| rng.next().to_le_bytes())
            .collect();
        fs::write(app.join("bin/app"), bytes).unwrap();
        let app = app.display().to_string();
        let record = |references: Vec<String>| {
            serde_json::json!({
                "path": app,
                "narHash": synthetic::stand_in_nar_hash(&app),
                "narSize": APP_BYTES,
                "references": references,
            })
        };
        let mut with_app = closure.clone();
        with_app.push(record(vec![root.clone()]));
        let write = |name: &str, records: &[serde_json::Value]| {
            fs::write(
                work.join(format!("{name}.json")),
                serde_json::to_vec(records).unwrap(),
            )
            .unwrap();
            fs::write(work.join(format!("{name}.app")), &app).unwrap();
        };
        write(&format!("closure-{version}"), &with_app);
        if version == 2 {
            write("app-2", &[record(Vec::new())]);
            app_path = app.clone();
        }
    }
    let mut files = Vec::new();
    for path in &store.paths {
        files_under(Path::new(&path.path), &mut files);
    }
    files.push(PathBuf::from(format!("{app_path}/bin/app")));
    let mut paths: Vec<&str> = store.paths.iter().map(|p| p.path.as_str()).collect();
    paths.push(&app_path);
    synthetic::write_lists(work, &files, &paths).unwrap();
    let summary = serde_json::json!({
        "paths": store.paths.len() + 1,
        "files": files.len(),
        "bytes": store.total_bytes + APP_BYTES as u64,
    });
    fs::write(work.join("summary.json"), summary.to_string()).unwrap();
}
