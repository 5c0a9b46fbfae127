//! The local cache of compressed digests: what a layer's tar (its diff_id)
//! became when compressed with given settings, so that a later push knows
//! the blob's digest without compressing the layer again.
//!
//! It lives in `$XDG_CACHE_HOME/strata/blobs` (else `~/.cache/strata/blobs`),
//! one small JSON file per tar and settings. It is an optimisation only:
//! without it, or with it deleted, every push still works, and a digest it
//! gives is confirmed by the registry (or by compressing) before it is used.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::format::digest::Digest;

/// One entry: the key it was written under, and the blob.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    diff_id: Digest,
    settings: String,
    digest: Digest,
    size: u64,
}

pub struct BlobCache {
    dir: Option<PathBuf>,
}

impl BlobCache {
    /// The user's cache, when the environment names a place for it.
    pub fn open() -> Self {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|home| !home.is_empty())
                    .map(|home| Path::new(&home).join(".cache"))
            });
        Self::at(base.map(|dir| dir.join("strata/blobs")))
    }

    /// A cache in `dir`, or none.
    pub fn at(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    fn file(&self, diff_id: &Digest, settings: &str) -> Option<PathBuf> {
        let key = Digest::of(format!("{diff_id}\n{settings}").as_bytes());
        self.dir.as_ref().map(|dir| dir.join(key.hex()))
    }

    /// The blob that the tar `diff_id` compresses to with `settings`, if a
    /// push recorded it.
    pub fn get(&self, diff_id: &Digest, settings: &str) -> Option<(Digest, u64)> {
        let text = std::fs::read(self.file(diff_id, settings)?).ok()?;
        let entry: Entry = serde_json::from_slice(&text).ok()?;
        (entry.diff_id == *diff_id && entry.settings == settings)
            .then_some((entry.digest, entry.size))
    }

    /// Records what the tar `diff_id` compressed to. A cache that cannot be
    /// written is passed over: it only saves work.
    pub fn put(&self, diff_id: &Digest, settings: &str, digest: &Digest, size: u64) {
        let Some(path) = self.file(diff_id, settings) else {
            return;
        };
        let entry = Entry {
            diff_id: *diff_id,
            settings: settings.to_owned(),
            digest: *digest,
            size,
        };
        let written = (|| -> std::io::Result<()> {
            let dir = path.parent().expect("a file in the cache directory");
            std::fs::create_dir_all(dir)?;
            let mut temp = tempfile::NamedTempFile::new_in(dir)?;
            serde_json::to_writer(&mut temp, &entry)?;
            temp.persist(&path)?;
            Ok(())
        })();
        if let Err(error) = written {
            eprintln!(
                "strata: cannot record a compressed digest in {}: {error}",
                path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_by_tar_and_settings() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::at(Some(dir.path().join("blobs")));
        let (tar, blob) = (Digest::of(b"tar"), Digest::of(b"blob"));
        assert_eq!(cache.get(&tar, "gzip;level=6"), None);
        cache.put(&tar, "gzip;level=6", &blob, 42);
        assert_eq!(cache.get(&tar, "gzip;level=6"), Some((blob, 42)));
        assert_eq!(cache.get(&tar, "gzip;level=9"), None, "other settings");
        assert_eq!(cache.get(&blob, "gzip;level=6"), None, "another tar");
        // A damaged entry is no entry.
        std::fs::write(cache.file(&tar, "gzip;level=6").unwrap(), "{").unwrap();
        assert_eq!(cache.get(&tar, "gzip;level=6"), None);
        // No place for a cache: nothing is remembered, nothing fails.
        let none = BlobCache::at(None);
        none.put(&tar, "gzip;level=6", &blob, 42);
        assert_eq!(none.get(&tar, "gzip;level=6"), None);
    }
}
