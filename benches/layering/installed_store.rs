//! Installed Debian packages as a store of real files: each store path of a
//! package set becomes a directory holding its packages' files, hard-linked
//! (or copied) from where dpkg installed them, and strata describes real
//! images of it, so that their layers' digests can be compared.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::ValueEnum;
use strata::emit::description::ImageDescription;
use strata::input::closure::PathRecord;
use strata::input::spec::LayeringStrategy;

use crate::layering::package_sets::Universe;
use crate::layering::reship::new_paths;
use crate::rng::Rng;

/// A store of real files for images of Debian package sets.
pub struct BuiltStore {
    /// Where the store directory and the images' files are.
    work: PathBuf,
    files: FileLists,
    /// The bytes of the store paths made so far, by their `/nix/store` path.
    sizes: BTreeMap<String, u64>,
    /// Images described so far, which numbers their files.
    described: Cell<usize>,
}

/// An image as strata describes it: its description file, and each layer's
/// digest, size and store paths.
#[derive(Clone)]
pub struct Described {
    pub file: PathBuf,
    pub layers: Vec<(String, u64, BTreeSet<String>)>,
}

impl BuiltStore {
    /// An empty store under `work`.
    pub fn new(work: &Path) -> Self {
        BuiltStore {
            work: work.to_owned(),
            files: FileLists::installed(),
            sizes: BTreeMap::new(),
            described: Cell::new(0),
        }
    }

    fn store_dir(&self) -> PathBuf {
        self.work.join("store")
    }

    /// The closure of `universe` in this store, each path made on first use
    /// and sized by its files.
    pub fn closure(&mut self, universe: &Universe) -> Vec<PathRecord> {
        let store = self.store_dir();
        let in_store = |path: &str| format!("{}/{}", store.display(), &path["/nix/store/".len()..]);
        let records: Vec<PathRecord> = universe
            .closure()
            .into_iter()
            .filter(|r| !r.path.ends_with("image-spec.json"))
            .collect();
        for record in &records {
            if self.sizes.contains_key(&record.path) {
                continue;
            }
            let dir = PathBuf::from(in_store(&record.path));
            let versioned = &record.path["/nix/store/".len() + 33..];
            let package = &universe.packages[versioned.rsplit_once('-').unwrap().0];
            let bytes = if package.members.is_empty() {
                fill_generated(&dir, package.size, package.version.into())
            } else {
                self.files.fill(&dir, &package.members)
            };
            self.sizes.insert(record.path.clone(), bytes.max(512));
        }
        records
            .into_iter()
            .map(|r| PathRecord {
                nar_hash: None,
                nar_size: Some(self.sizes[&r.path]),
                path: in_store(&r.path),
                references: r.references.iter().map(|p| in_store(p)).collect(),
            })
            .collect()
    }

    /// What `v2` cannot avoid sending: its paths that `v1` lacks, in one
    /// layer (nothing when there are none).
    pub fn minimum(&self, v1: &[PathRecord], v2: &[PathRecord]) -> u64 {
        let new: Vec<PathRecord> = new_paths(v1, v2)
            .into_iter()
            .map(|r| PathRecord {
                nar_hash: None,
                references: Vec::new(),
                ..r.clone()
            })
            .collect();
        if new.is_empty() {
            return 0;
        }
        // Two layers at most: the store paths', and none for customisation.
        self.describe(&new, LayeringStrategy::Single, 2, None)
            .layers[0]
            .1
    }

    /// The image of `closure` as strata describes it, uncompressed, in
    /// `budget` layers, keeping the plan of the `previous` description.
    pub fn describe(
        &self,
        closure: &[PathRecord],
        strategy: LayeringStrategy,
        budget: usize,
        previous: Option<&Path>,
    ) -> Described {
        let records: Vec<serde_json::Value> = closure
            .iter()
            .map(|r| serde_json::json!({"path": r.path, "narSize": r.nar_size, "references": r.references}))
            .collect();
        let number = self.described.replace(self.described.get() + 1);
        let closure_file = self.work.join(format!("closure-{number}.json"));
        let file = self.work.join(format!("description-{number}.json"));
        fs::write(&closure_file, serde_json::to_vec(&records).unwrap()).unwrap();
        let layering = strategy.to_possible_value().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
        command
            .args(["describe", "--name", "debian", "--compressor", "none"])
            .args(["--layering", layering.get_name()])
            .args(["--max-layers", &budget.to_string()])
            .arg("--closure")
            .arg(&closure_file)
            .arg("-o")
            .arg(&file)
            .env("NIX_STORE", self.store_dir());
        if let Some(previous) = previous {
            command.arg("--previous-plan").arg(previous);
        }
        let output = command.output().expect("cannot run strata describe");
        assert!(
            output.status.success(),
            "strata describe failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let description = ImageDescription::read(&file).expect("strata wrote a description");
        let layers = description
            .layers
            .iter()
            .zip(&description.plan.layers)
            .map(|(layer, planned)| {
                (
                    layer.diff_id.to_string(),
                    layer.size,
                    planned.paths.iter().map(|p| p.to_string()).collect(),
                )
            })
            .collect();
        Described { file, layers }
    }
}

const DPKG_INFO: &str = "/var/lib/dpkg/info";

/// The file lists of the installed packages, by package name.
struct FileLists {
    lists: BTreeMap<String, PathBuf>,
}

impl FileLists {
    /// Reads dpkg's directory of file lists (`name.list` or
    /// `name:arch.list`).
    fn installed() -> Self {
        let entries =
            fs::read_dir(DPKG_INFO).unwrap_or_else(|e| panic!("cannot read {DPKG_INFO}: {e}"));
        let mut lists = BTreeMap::new();
        for entry in entries {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            if let Some(stem) = file.strip_suffix(".list") {
                let name = stem.split(':').next().unwrap().to_owned();
                lists.entry(name).or_insert(path);
            }
        }
        FileLists { lists }
    }

    /// Makes `dir` hold the files of `packages`, as hard links (symbolic
    /// links copied, directories made), and returns the bytes of its regular
    /// files. A listed file that is gone (a diverted or pruned one) is left
    /// out; a package without a list panics, naming it.
    fn fill(&self, dir: &Path, packages: &[String]) -> u64 {
        fs::create_dir_all(dir).unwrap();
        let mut bytes = 0;
        let mut canonical: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
        for package in packages {
            let list = self
                .lists
                .get(package)
                .unwrap_or_else(|| panic!("dpkg lists no files for {package}"));
            for line in fs::read_to_string(list).unwrap().lines() {
                // Besides paths, a list may say where a file was diverted.
                let source = Path::new(line);
                let (true, Some(parent), Some(name)) =
                    (source.is_absolute(), source.parent(), source.file_name())
                else {
                    continue;
                };
                let Ok(meta) = fs::symlink_metadata(source) else {
                    continue;
                };
                // Where the file really is: a listed directory may be a
                // symbolic link now (`/lib` to `usr/lib`).
                let parent = canonical
                    .entry(parent.to_owned())
                    .or_insert_with(|| fs::canonicalize(parent).unwrap());
                let target = dir.join(parent.strip_prefix("/").unwrap()).join(name);
                if target.symlink_metadata().is_ok() {
                    continue;
                }
                if meta.is_dir() {
                    fs::create_dir_all(&target).unwrap();
                    continue;
                }
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                if meta.file_type().is_symlink() {
                    symlink(fs::read_link(source).unwrap(), &target).unwrap();
                } else if meta.is_file() {
                    // Linking a file one does not own may be refused:
                    // copy it then.
                    fs::hard_link(source, &target)
                        .or_else(|_| fs::copy(source, &target).map(drop))
                        .unwrap_or_else(|e| {
                            panic!("cannot link or copy {line} (run as root?): {e}")
                        });
                    bytes += meta.len();
                }
            }
        }
        bytes
    }
}

/// Makes `dir` hold one file of `size` random bytes from `seed`: a package
/// that is not installed, such as one a benchmark adds.
fn fill_generated(dir: &Path, size: u64, seed: u64) -> u64 {
    fs::create_dir_all(dir.join("bin")).unwrap();
    let mut file = fs::File::create(dir.join("bin").join("program")).unwrap();
    let mut rng = Rng::new(seed);
    let mut left = size;
    let mut block = vec![0u8; 1 << 16];
    while left > 0 {
        for word in block.chunks_mut(8) {
            word.copy_from_slice(&rng.next().to_le_bytes());
        }
        let chunk = left.min(block.len() as u64) as usize;
        file.write_all(&block[..chunk]).unwrap();
        left -= chunk as u64;
    }
    size
}
