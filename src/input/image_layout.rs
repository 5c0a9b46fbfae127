//! An image as an OCI layout, a directory or a tar (strata's archives, in
//! every format), read to be put into an index: its manifest, its platform,
//! and where each of its blobs is, to be copied from there.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use oci_spec::image::MediaType;
use serde::Deserialize;

use crate::format::digest::{Digest, HashingWriter};
use crate::format::manifest::{CONTAINERD_NAME, Descriptor, Index, Manifest};
use crate::format::platform::Platform;

/// Layout files up to this size are kept in memory: the JSON documents.
const DOCUMENT_SIZE: u64 = 4 << 20;

/// Where a file of the layout is.
#[derive(Clone, Debug)]
enum Location {
    File(PathBuf),
    /// Its bytes in the tar, from `offset` on.
    InTar {
        offset: u64,
    },
}

#[derive(Clone, Debug)]
struct LayoutFile {
    size: u64,
    location: Location,
    bytes: Option<Vec<u8>>,
}

/// An image's OCI layout, with one image in it.
#[derive(Debug)]
pub struct ImageLayout {
    pub path: PathBuf,
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    pub media_type: String,
    pub platform: Platform,
    /// The name in its index (`io.containerd.image.name`), when it has one.
    pub name: Option<String>,
    /// The config, then the layers, as the manifest names them.
    pub blobs: Vec<Descriptor>,
    files: Arc<LayoutFiles>,
}

/// The files of a layout, by their path in it.
type LayoutFiles = BTreeMap<String, LayoutFile>;

/// An image index in an OCI layout, as strata writes it: its `index.json`
/// names one index, which names each platform's manifest.
#[derive(Debug)]
pub struct IndexLayout {
    pub index: Vec<u8>,
    pub index_digest: Digest,
    pub images: Vec<ImageLayout>,
}

impl IndexLayout {
    pub fn open(path: &Path) -> Result<Self> {
        opened(path, Self::read, "an image index", "buildImageIndex builds")
    }

    fn read(path: &Path) -> Result<Self> {
        let (files, entry) = layout_entry(path)?;
        if !entry.is_index() {
            bail!("its index.json names one image, not an index of images");
        }
        let name = entry.digest.blob_path();
        let index = document(&files, &name)?.to_vec();
        if Digest::of(&index) != entry.digest {
            bail!("its index {name} does not match its digest");
        }
        let parsed: Index = serde_json::from_slice(&index).context("its index is not valid")?;
        let images = parsed
            .manifests
            .iter()
            .map(|entry| ImageLayout::of_entry(path, &files, entry))
            .collect::<Result<_>>()?;
        Ok(IndexLayout {
            index,
            index_digest: entry.digest,
            images,
        })
    }
}

impl ImageLayout {
    pub fn open(path: &Path) -> Result<Self> {
        opened(
            path,
            Self::read,
            "an image",
            "strata's image functions build",
        )
    }

    fn read(path: &Path) -> Result<Self> {
        let (files, entry) = layout_entry(path)?;
        if entry.is_index() {
            bail!("it is an index of images, not one image");
        }
        Self::of_entry(path, &files, &entry)
    }

    /// The image `entry` names, in the layout of `files` at `path`.
    fn of_entry(path: &Path, files: &Arc<LayoutFiles>, entry: &Descriptor) -> Result<Self> {
        let name = entry.digest.blob_path();
        let manifest = document(files, &name)?.to_vec();
        if Digest::of(&manifest) != entry.digest {
            bail!("its manifest {name} does not match its digest");
        }
        let parsed: Manifest =
            serde_json::from_slice(&manifest).context("its manifest is not an image manifest")?;
        let config_name = parsed.config.digest.blob_path();
        let config = document(files, &config_name)?;
        if Digest::of(config) != parsed.config.digest {
            bail!("its config {config_name} does not match its digest");
        }
        #[derive(Deserialize)]
        struct Config {
            architecture: String,
            os: String,
            #[serde(default)]
            variant: Option<String>,
        }
        let config: Config =
            serde_json::from_slice(config).context("its config names no platform")?;
        let mut blobs = vec![parsed.config.clone()];
        blobs.extend(parsed.layers.iter().cloned());
        for blob in &blobs {
            let name = blob.digest.blob_path();
            match files.get(&name) {
                Some(file) if file.size == blob.size => {}
                Some(file) => bail!(
                    "its blob {name} has {} bytes, but its manifest says {}",
                    file.size,
                    blob.size
                ),
                None => bail!("it lacks the blob {name}, which its manifest names"),
            }
        }
        Ok(ImageLayout {
            path: path.to_owned(),
            manifest_digest: entry.digest,
            media_type: if entry.media_type.is_empty() {
                MediaType::ImageManifest.to_string()
            } else {
                entry.media_type.clone()
            },
            manifest,
            platform: Platform::new(&config.os, &config.architecture, config.variant.as_deref())?,
            name: entry.annotations.get(CONTAINERD_NAME).cloned(),
            blobs,
            files: Arc::clone(files),
        })
    }

    /// The bytes of blob `digest`, and their size; unchecked (a registry
    /// checks them against the digest they are sent under).
    pub fn open_blob(&self, digest: &Digest) -> Result<(impl Read + use<>, u64)> {
        let name = digest.blob_path();
        let file = self
            .files
            .get(&name)
            .with_context(|| format!("{} has no blob {name}", self.path.display()))?;
        let (path, offset) = match &file.location {
            Location::File(path) => (path, 0),
            Location::InTar { offset } => (&self.path, *offset),
        };
        let mut source =
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        source.seek(SeekFrom::Start(offset))?;
        Ok((source.take(file.size), file.size))
    }

    /// Copies blob `digest` to `out`, checked against its digest.
    pub fn copy_blob(&self, digest: &Digest, out: &mut impl Write) -> Result<u64> {
        let (mut source, expected) = self.open_blob(digest)?;
        let mut hashing = HashingWriter::new(out);
        io::copy(&mut source, &mut hashing)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        let (found, size, _) = hashing.finish();
        if found != *digest || size != expected {
            bail!(
                "the blob {} of {} does not match its digest; the image is damaged",
                digest.blob_path(),
                self.path.display()
            );
        }
        Ok(size)
    }
}

/// The config and layer blobs of `images`, each once (the first image that
/// holds it with it), in order.
pub fn distinct_blobs(images: &[ImageLayout]) -> Vec<(&ImageLayout, &Descriptor)> {
    let mut seen = std::collections::BTreeSet::new();
    images
        .iter()
        .flat_map(|image| image.blobs.iter().map(move |blob| (image, blob)))
        .filter(|(_, blob)| seen.insert(blob.digest))
        .collect()
}

/// `read(path)`, its error saying that `path` is not `what`, as `built_by`
/// makes it.
fn opened<T>(
    path: &Path,
    read: impl FnOnce(&Path) -> Result<T>,
    what: &str,
    built_by: &str,
) -> Result<T> {
    read(path).with_context(|| {
        format!(
            "{} is not {what} in an OCI layout (what {built_by})",
            path.display()
        )
    })
}

/// The files of the layout at `path`, and the one entry of its
/// `index.json`, as strata writes it.
fn layout_entry(path: &Path) -> Result<(Arc<LayoutFiles>, Descriptor)> {
    let files = Arc::new(layout_files(path)?);
    let layout: Index = serde_json::from_slice(document(&files, "index.json")?)
        .context("its index.json is not valid")?;
    let [entry] = layout.manifests.as_slice() else {
        bail!(
            "its index.json names {} entries, not one",
            layout.manifests.len()
        );
    };
    let entry = entry.clone();
    Ok((files, entry))
}

/// The layout's files, of a directory or a tar.
fn layout_files(path: &Path) -> Result<LayoutFiles> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.is_dir() {
        dir_files(path)
    } else {
        tar_files(path)
    }
}

/// The bytes of the layout's JSON document `name`.
fn document<'a>(files: &'a LayoutFiles, name: &str) -> Result<&'a [u8]> {
    files
        .get(name)
        .and_then(|f| f.bytes.as_deref())
        .with_context(|| format!("it has no {name}"))
}

fn dir_files(root: &Path) -> Result<LayoutFiles> {
    let mut files = BTreeMap::new();
    let mut add = |name: String, path: PathBuf| -> Result<()> {
        let size = std::fs::metadata(&path)?.len();
        let bytes = if size <= DOCUMENT_SIZE {
            Some(std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?)
        } else {
            None
        };
        files.insert(
            name,
            LayoutFile {
                size,
                location: Location::File(path),
                bytes,
            },
        );
        Ok(())
    };
    add("index.json".to_owned(), root.join("index.json"))?;
    let blobs = root.join("blobs/sha256");
    for child in
        std::fs::read_dir(&blobs).with_context(|| format!("cannot list {}", blobs.display()))?
    {
        let child = child?;
        if child.file_type()?.is_file() {
            let name = format!("blobs/sha256/{}", child.file_name().to_string_lossy());
            add(name, child.path())?;
        }
    }
    Ok(files)
}

fn tar_files(path: &Path) -> Result<LayoutFiles> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut archive = tar::Archive::new(file);
    let mut files = BTreeMap::new();
    for entry in archive.entries_with_seek()? {
        let mut entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        let size = entry.size();
        let offset = entry.raw_file_position();
        let bytes = if size <= DOCUMENT_SIZE && (name == "index.json" || name.starts_with("blobs/"))
        {
            let mut bytes = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut bytes)?;
            Some(bytes)
        } else {
            None
        };
        files.insert(
            name,
            LayoutFile {
                size,
                location: Location::InTar { offset },
                bytes,
            },
        );
    }
    Ok(files)
}
