//! A synthetic Nix store for benchmarks: store paths in a temporary store
//! directory, with a dependency graph and file contents from a seed, and the
//! closure as `exportReferencesGraph` would export it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::rng::Rng;

/// The shape of a generated closure, as the benchmarks take it on their
/// command lines.
#[derive(Clone, Debug, clap::Args)]
pub struct Shape {
    /// Store paths in the closure
    #[arg(long, default_value_t = 300)]
    pub paths: usize,
    /// Bytes in the closure (suffixes K, M, G, KiB, MiB, GiB)
    #[arg(long = "size", default_value = "1GiB", value_parser = parse_size)]
    pub bytes: u64,
    /// Files in the closure
    #[arg(long, default_value_t = 50_000)]
    pub files: usize,
    /// Seed of the generated closure
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// One generated store path.
pub struct GeneratedPath {
    pub path: String,
    pub references: Vec<usize>,
    pub bytes: u64,
}

pub struct Store {
    pub store_dir: PathBuf,
    pub paths: Vec<GeneratedPath>,
    pub total_bytes: u64,
}

const NIXBASE32: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Tiers of a typical closure: a few core libraries everything uses, shared
/// libraries, applications, and one root (the image's environment).
fn tier_of(index: usize, paths: usize) -> usize {
    let core = (paths / 30).max(1);
    let libs = paths / 3;
    match index {
        i if i < core => 0,
        i if i < core + libs => 1,
        i if i + 1 < paths => 2,
        _ => 3,
    }
}

/// Generates the store under `root`.
pub fn generate(root: &Path, shape: &Shape) -> std::io::Result<Store> {
    let store_dir = root.join("store");
    fs::create_dir_all(&store_dir)?;
    let mut rng = Rng::new(shape.seed);

    // Contents are slices of two pools: random bytes (like compressed data
    // and machine code) and text (like scripts and docs).
    let random_pool: Vec<u8> = (0..(8 << 20) / 8)
        .flat_map(|_| rng.next().to_le_bytes())
        .collect();
    let words = [
        "lib", "nix", "store", "the", "function", "return", "data", "0x1f", "config", "\n",
    ];
    let mut text_pool = Vec::with_capacity(4 << 20);
    while text_pool.len() < (4 << 20) {
        text_pool.extend_from_slice(words[rng.below(words.len() as u64) as usize].as_bytes());
        text_pool.push(b' ');
    }

    // Sizes: many small files, and a few large ones holding about half
    // of the bytes.
    let large = (shape.files / 1000).max(1);
    let small = shape.files - large;
    let small_budget = shape.bytes / 2;
    let mut sizes: Vec<u64> = (0..small)
        .map(|_| {
            let scale = 1u64 << rng.below(6);
            (small_budget / small as u64) * scale / 16 + rng.below(512)
        })
        .collect();
    let small_total: u64 = sizes.iter().sum();
    let large_each = shape.bytes.saturating_sub(small_total) / large as u64;
    sizes.extend((0..large).map(|_| large_each));

    // Files go to paths with a skew: low-numbered paths (core and shared
    // libraries) hold more.
    let mut per_path: Vec<Vec<u64>> = vec![Vec::new(); shape.paths];
    for (i, size) in sizes.into_iter().enumerate() {
        let a = rng.below(shape.paths as u64);
        let b = rng.below(shape.paths as u64);
        let target = if i >= small {
            rng.below((shape.paths / 4).max(1) as u64)
        } else {
            a.min(b)
        };
        per_path[target as usize].push(size);
    }

    let mut paths = Vec::with_capacity(shape.paths);
    let mut total_bytes = 0;
    for (index, files) in per_path.iter().enumerate() {
        let hash: String = (0..32)
            .map(|_| NIXBASE32[rng.below(32) as usize] as char)
            .collect();
        let tier = tier_of(index, shape.paths);
        let path = store_dir.join(format!("{hash}-pkg{index}-t{tier}"));
        let mut references = Vec::new();
        let core = (shape.paths / 30).max(1);
        match tier {
            0 => {}
            1 => references.push(rng.below(core as u64) as usize),
            2 => {
                for _ in 0..3 {
                    references.push(core + rng.below((index - core) as u64) as usize);
                }
                references.push(rng.below(core as u64) as usize);
            }
            _ => references.extend(0..index),
        }
        references.sort_unstable();
        references.dedup();
        let mut bytes = 0;
        for (n, size) in files.iter().enumerate() {
            let dir = path.join(["bin", "lib", "share/doc", "share/data", "etc"][n % 5]);
            fs::create_dir_all(&dir)?;
            let pool: &[u8] = if n % 3 == 0 { &random_pool } else { &text_pool };
            let mut file = fs::File::create(dir.join(format!("file-{n}")))?;
            let mut left = *size as usize;
            while left > 0 {
                let start = rng.below((pool.len() / 2) as u64) as usize;
                let chunk = left.min(pool.len() - start);
                file.write_all(&pool[start..start + chunk])?;
                left -= chunk;
            }
            bytes += size;
        }
        fs::create_dir_all(&path)?;
        total_bytes += bytes;
        paths.push(GeneratedPath {
            path: path.to_string_lossy().into_owned(),
            references,
            bytes,
        });
    }

    write_closure(&root.join("closure.json"), &paths)?;
    Ok(Store {
        store_dir,
        paths,
        total_bytes,
    })
}

/// Writes the closure in the structured `exportReferencesGraph` format.
pub fn write_closure(file: &Path, paths: &[GeneratedPath]) -> std::io::Result<()> {
    let records: Vec<serde_json::Value> = paths
        .iter()
        .map(|p| {
            serde_json::json!({
                "path": p.path,
                "narHash": stand_in_nar_hash(&p.path),
                "narSize": p.bytes,
                "references": p.references.iter().map(|&r| &paths[r].path).collect::<Vec<_>>(),
            })
        })
        .collect();
    fs::write(file, serde_json::to_vec(&records)?)
}

/// Writes the lists the baselines read into `work`: `files`, one file a
/// line, and `paths`, the base names of `store_paths` (for `tar -C store -T`).
pub fn write_lists(work: &Path, files: &[PathBuf], store_paths: &[&str]) -> std::io::Result<()> {
    let lines =
        |items: &mut dyn Iterator<Item = String>| items.map(|l| l + "\n").collect::<String>();
    fs::write(
        work.join("files"),
        lines(&mut files.iter().map(|f| f.display().to_string())),
    )?;
    fs::write(
        work.join("paths"),
        lines(&mut store_paths.iter().map(|p| {
            Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })),
    )
}

/// A NAR hash for a generated path: unique to the path, as a real one is
/// to a path's contents, which generated paths never share.
pub fn stand_in_nar_hash(path: &str) -> String {
    use sha2::Digest;
    format!("sha256:{:x}", sha2::Sha256::digest(path.as_bytes()))
}

/// A size such as `1GiB`, `300M` or `4096` (bytes).
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit '{other}'")),
    };
    Ok(number * factor)
}
