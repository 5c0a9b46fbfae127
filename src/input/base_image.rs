//! Base images (`fromImage`): an image built elsewhere, whose layers are
//! carried over byte for byte and whose config the new image inherits.
//!
//! Accepted: a docker-archive (`docker save`, `podman save`, strata's own
//! archives; as a tar, or a tar compressed whole with gzip or zstd), an OCI
//! layout as a directory or as a tar. The base is read once when the image is
//! planned: every file in it is hashed, so a blob that does not match its
//! digest is reported before anything is written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::format::compression::Compressor;
use crate::format::digest::{Digest, HashingWriter};
use crate::format::layer_blob::LayerBlob;
use crate::format::manifest::{Index, Manifest};
use crate::format::reference;
use crate::input::spec::ContainerConfig;

/// Files of a base image up to this size are kept in memory while it is
/// read: the JSON documents (and small layers) are among them.
const KEPT_ENTRY_SIZE: u64 = 4 << 20;

/// A base image as the new image uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseImage {
    /// Bottom first.
    pub layers: Vec<BaseLayer>,
    pub config: BaseConfig,
}

/// One layer of a base image, and where its blob is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseLayer {
    /// The base image: an archive file or a layout directory.
    pub image: PathBuf,
    /// The blob's file in it (`blobs/sha256/…`, `<id>/layer.tar`, …).
    pub entry: String,
    pub blob: LayerBlob,
}

/// What the new image's config takes from the base's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseConfig {
    pub architecture: String,
    pub os: String,
    /// The runtime config (`Env`, `Cmd`, …); keys strata does not model
    /// (`Hostname`, `OnBuild`, …) are left out.
    pub config: ContainerConfig,
    /// The base's history entries, as they are.
    pub history: Vec<serde_json::Value>,
}

/// A file of the base image: its size and digest, and its bytes when small.
struct Entry {
    size: u64,
    digest: Digest,
    bytes: Option<Vec<u8>>,
    /// How its bytes are compressed, from their magic number.
    compression: Compressor,
}

/// Every regular file of a base image, by its name in the archive or layout.
struct Contents {
    image: PathBuf,
    entries: BTreeMap<String, Entry>,
}

impl Contents {
    fn read(image: &Path) -> Result<Self> {
        let meta = std::fs::metadata(image)
            .with_context(|| format!("cannot read the base image {}", image.display()))?;
        let mut entries = BTreeMap::new();
        if meta.is_dir() {
            read_dir_entries(image, image, &mut entries)?;
        } else {
            let mut archive = tar::Archive::new(open_archive(image)?);
            for entry in archive.entries()? {
                let mut entry = entry?;
                if entry.header().entry_type() != tar::EntryType::Regular {
                    continue;
                }
                let name = normalized_name(&entry.path()?.to_string_lossy());
                let size = entry.size();
                entries.insert(name, hash_entry(&mut entry, size)?);
            }
        }
        Ok(Contents {
            image: image.to_owned(),
            entries,
        })
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.entries.get(name).with_context(|| {
            format!(
                "the base image {} has no file {name}, which its manifest names",
                self.image.display()
            )
        })
    }

    fn json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T> {
        let entry = self.entry(name)?;
        let bytes = entry.bytes.as_deref().with_context(|| {
            format!(
                "{name} in the base image {} is too large ({} bytes) for a JSON document",
                self.image.display(),
                entry.size
            )
        })?;
        serde_json::from_slice(bytes).with_context(|| {
            format!(
                "{name} in the base image {} is not the JSON expected",
                self.image.display()
            )
        })
    }

    /// The blob `digest` of an OCI layout, checked against its digest and
    /// size.
    fn blob(&self, digest: &Digest, size: u64) -> Result<(String, &Entry)> {
        let name = digest.blob_path();
        let entry = self.entry(&name)?;
        if entry.digest != *digest || entry.size != size {
            bail!(
                "the blob {name} of the base image {} does not match its descriptor ({digest}, {size} bytes); the image is damaged",
                self.image.display()
            );
        }
        Ok((name, entry))
    }
}

fn read_dir_entries(root: &Path, dir: &Path, entries: &mut BTreeMap<String, Entry>) -> Result<()> {
    for child in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = child?.path();
        let meta = std::fs::metadata(&path)?;
        if meta.is_dir() {
            read_dir_entries(root, &path, entries)?;
        } else if meta.is_file() {
            let name = path
                .strip_prefix(root)
                .expect("a child of the root")
                .to_string_lossy()
                .into_owned();
            let mut file =
                File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            entries.insert(name, hash_entry(&mut file, meta.len())?);
        }
    }
    Ok(())
}

fn hash_entry(reader: &mut impl Read, size: u64) -> Result<Entry> {
    if size <= KEPT_ENTRY_SIZE {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        return Ok(Entry {
            size,
            digest: Digest::of(&bytes),
            compression: Compressor::of_magic(&bytes),
            bytes: Some(bytes),
        });
    }
    let mut magic = Vec::with_capacity(4);
    reader.take(4).read_to_end(&mut magic)?;
    let mut hashing = HashingWriter::new(io::sink());
    hashing.write_all(&magic)?;
    io::copy(reader, &mut hashing)?;
    let (digest, _, _) = hashing.finish();
    Ok(Entry {
        size,
        digest,
        bytes: None,
        compression: Compressor::of_magic(&magic),
    })
}

/// `./a/b` and `a/b` name the same entry.
fn normalized_name(name: &str) -> String {
    name.trim_start_matches("./").to_owned()
}

/// An archive file, decompressed when it is gzip or zstd as a whole.
fn open_archive(image: &Path) -> Result<Box<dyn Read>> {
    let file = File::open(image)
        .with_context(|| format!("cannot open the base image {}", image.display()))?;
    decompressed(BufReader::new(file))
}

/// `reader`, decompressed when its first bytes say gzip or zstd.
fn decompressed<R: BufRead + 'static>(mut reader: R) -> Result<Box<dyn Read>> {
    let compressor = Compressor::of_magic(reader.fill_buf()?);
    Ok(compressor.decoder(reader)?)
}

/// Which image of a docker-archive that holds several to take
/// (`fromImageName`, `fromImageTag`); with no name, the only one.
#[derive(Clone, Copy, Debug, Default)]
pub struct BaseChoice<'a> {
    pub name: Option<&'a str>,
    /// Any tag of that name when `None`.
    pub tag: Option<&'a str>,
}

impl BaseChoice<'_> {
    /// Whether `repo_tag` (`name:tag`, as `RepoTags` lists it) is the
    /// chosen image; `hello` and `docker.io/library/hello` are one name.
    fn takes(&self, repo_tag: &str) -> bool {
        let Some(wanted) = self.name else {
            return true;
        };
        let Ok((name, tag)) = reference::name_and_tag(repo_tag) else {
            return false;
        };
        reference::split_registry(name) == reference::split_registry(wanted)
            && self.tag.is_none_or(|wanted| wanted == tag)
    }
}

/// Reads the base image at `image`, for an image of `architecture`/`os`;
/// of a docker-archive of several images, the one `choice` names.
pub fn read(image: &Path, architecture: &str, os: &str, choice: &BaseChoice) -> Result<BaseImage> {
    let contents = Contents::read(image).with_context(|| {
        format!(
            "{} is not a container image (a docker-archive or an OCI layout)",
            image.display()
        )
    })?;
    let (config_bytes, layers) = if contents.entries.contains_key("manifest.json") {
        docker_archive(&contents, choice)?
    } else if contents.entries.contains_key("index.json") {
        oci_layout(&contents, architecture, os)?
    } else {
        bail!(
            "{} is not a container image: it has neither manifest.json (a docker-archive) nor index.json (an OCI layout)",
            image.display()
        );
    };
    let config = base_config(&config_bytes, &layers, image)?;
    if config.architecture != architecture || config.os != os {
        bail!(
            "the base image {} is for {}/{}, but the image is for {os}/{architecture}; the base image and `architecture` must agree",
            image.display(),
            config.os,
            config.architecture
        );
    }
    Ok(BaseImage { layers, config })
}

type Layers = Vec<BaseLayer>;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Deserialize)]
struct RootFs {
    diff_ids: Vec<Digest>,
}

fn diff_ids(config: &[u8], image: &Path) -> Result<Vec<Digest>> {
    #[derive(Deserialize)]
    struct Config {
        rootfs: RootFs,
    }
    let config: Config = serde_json::from_slice(config).with_context(|| {
        format!(
            "the config of the base image {} has no valid rootfs.diff_ids",
            image.display()
        )
    })?;
    Ok(config.rootfs.diff_ids)
}

/// A docker-archive: `manifest.json` names the config and the layer files.
fn docker_archive(contents: &Contents, choice: &BaseChoice) -> Result<(Vec<u8>, Layers)> {
    let manifest: Vec<DockerManifestEntry> = contents.json("manifest.json")?;
    let chosen: Vec<&DockerManifestEntry> = manifest
        .iter()
        .filter(|m| choice.name.is_none() || m.repo_tags.iter().flatten().any(|t| choice.takes(t)))
        .collect();
    let [entry] = chosen.as_slice() else {
        let tags: Vec<String> = manifest
            .iter()
            .flat_map(|m| m.repo_tags.clone().unwrap_or_default())
            .collect();
        let which = match choice.name {
            Some(name) => format!(
                "{} of them {name}:{}",
                chosen.len(),
                choice.tag.unwrap_or("*")
            ),
            None => "give fromImageName (and fromImageTag) to choose one".to_owned(),
        };
        bail!(
            "the base image {} holds {} images ({}); {which}",
            contents.image.display(),
            manifest.len(),
            tags.join(", "),
        );
    };
    docker_entry(contents, entry)
}

/// The config and layers of one image of a docker-archive.
fn docker_entry(contents: &Contents, entry: &DockerManifestEntry) -> Result<(Vec<u8>, Layers)> {
    let config_name = normalized_name(&entry.config);
    let (config, diff_ids) = config_and_diff_ids(contents, &config_name, entry.layers.len())?;
    let mut layers = Vec::new();
    for (name, diff_id) in entry.layers.iter().zip(diff_ids) {
        let name = normalized_name(name);
        let file = contents.entry(&name)?;
        if file.compression == Compressor::None && file.digest != diff_id {
            bail!(
                "the layer {name} of the base image {} does not match its diff_id {diff_id}; the image is damaged",
                contents.image.display()
            );
        }
        layers.push(BaseLayer {
            image: contents.image.clone(),
            entry: name,
            blob: LayerBlob {
                diff_id,
                digest: file.digest,
                size: file.size,
                media_type: file.compression.media_type().to_owned(),
                settings: None,
            },
        });
    }
    Ok((config, layers))
}

/// One image of a docker-archive, as it is: its tags, config and layers.
pub struct ArchivedImage {
    pub repo_tags: Vec<String>,
    pub config: Vec<u8>,
    pub layers: Vec<BaseLayer>,
}

/// Every image of the docker-archive at `archive` (compressed whole or
/// not), as `docker save a b` or strata's docker format writes them.
pub fn read_docker_images(archive: &Path) -> Result<Vec<ArchivedImage>> {
    let contents = Contents::read(archive).with_context(|| {
        format!(
            "{} is not a docker-archive (what docker save and strata's docker format write)",
            archive.display()
        )
    })?;
    if !contents.entries.contains_key("manifest.json") {
        bail!(
            "{} has no manifest.json: it is not a docker-archive (an OCI layout of strata's is one with format \"docker\")",
            archive.display()
        );
    }
    let manifest: Vec<DockerManifestEntry> = contents.json("manifest.json")?;
    manifest
        .iter()
        .map(|entry| {
            let (config, layers) = docker_entry(&contents, entry)?;
            Ok(ArchivedImage {
                repo_tags: entry.repo_tags.clone().unwrap_or_default(),
                config,
                layers,
            })
        })
        .collect()
}

/// An OCI layout: `index.json`, then a manifest (chosen by platform when
/// the index holds several), its config and its layers.
fn oci_layout(contents: &Contents, architecture: &str, os: &str) -> Result<(Vec<u8>, Layers)> {
    let mut index: Index = contents.json("index.json")?;
    let manifest: Manifest =
        loop {
            let descriptor = match index.manifests.as_slice() {
            [only] => only,
            _ => index.for_platform(os, architecture, None).with_context(|| {
                format!(
                    "the base image {} has no manifest for {os}/{architecture} (it has: {})",
                    contents.image.display(),
                    index.platforms()
                )
            })?,
        };
            let (name, _) = contents.blob(&descriptor.digest, descriptor.size)?;
            if descriptor.is_index() {
                index = contents.json(&name)?;
            } else {
                break contents.json(&name)?;
            }
        };
    let (config_name, _) = contents.blob(&manifest.config.digest, manifest.config.size)?;
    let (config, diff_ids) = config_and_diff_ids(contents, &config_name, manifest.layers.len())?;
    let mut layers = Vec::new();
    for (descriptor, diff_id) in manifest.layers.iter().zip(diff_ids) {
        let (name, entry) = contents.blob(&descriptor.digest, descriptor.size)?;
        layers.push(BaseLayer {
            image: contents.image.clone(),
            entry: name,
            blob: LayerBlob {
                diff_id,
                digest: entry.digest,
                size: entry.size,
                media_type: oci_media_type(&descriptor.media_type, &contents.image)?.to_owned(),
                settings: None,
            },
        });
    }
    Ok((config, layers))
}

/// The config file `name` and its diff_ids, which must be one per layer.
fn config_and_diff_ids(
    contents: &Contents,
    name: &str,
    layer_count: usize,
) -> Result<(Vec<u8>, Vec<Digest>)> {
    let config = contents
        .entry(name)?
        .bytes
        .clone()
        .context("the base image's config is too large")?;
    let diff_ids = diff_ids(&config, &contents.image)?;
    if diff_ids.len() != layer_count {
        bail!(
            "the base image {} has {layer_count} layers but its config has {} diff_ids",
            contents.image.display(),
            diff_ids.len()
        );
    }
    Ok((config, diff_ids))
}

/// A layer's media type in the new (OCI) manifest.
fn oci_media_type(media_type: &str, image: &Path) -> Result<&'static str> {
    Ok(match media_type {
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Compressor::None.media_type(),
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => Compressor::Gz.media_type(),
        "application/vnd.oci.image.layer.v1.tar+zstd"
        | "application/vnd.docker.image.rootfs.diff.tar.zstd" => Compressor::Zstd.media_type(),
        other => bail!(
            "the base image {} has a layer of media type '{other}', which strata cannot carry over",
            image.display()
        ),
    })
}

/// The base's config: platform, runtime config and history.
fn base_config(bytes: &[u8], layers: &Layers, image: &Path) -> Result<BaseConfig> {
    #[derive(Deserialize)]
    struct Raw {
        architecture: String,
        os: String,
        #[serde(default)]
        config: Option<serde_json::Map<String, serde_json::Value>>,
        #[serde(default)]
        history: Vec<serde_json::Value>,
    }
    let raw: Raw = serde_json::from_slice(bytes).with_context(|| {
        format!(
            "the config of the base image {} is not valid",
            image.display()
        )
    })?;
    let mut runtime = raw.config.unwrap_or_default();
    runtime.retain(|key, value| ContainerConfig::KEYS.contains(&key.as_str()) && !value.is_null());
    let config: ContainerConfig = serde_json::from_value(serde_json::Value::Object(runtime))
        .with_context(|| {
            format!(
                "the runtime config of the base image {} is not valid",
                image.display()
            )
        })?;
    // A history that does not account for every layer is replaced, so that
    // the new image's history lines up with its layers.
    let layer_entries = raw
        .history
        .iter()
        .filter(|h| h.get("empty_layer").and_then(|e| e.as_bool()) != Some(true))
        .count();
    let history = if layer_entries == layers.len() {
        raw.history
    } else {
        layers
            .iter()
            .map(|l| serde_json::json!({ "created_by": format!("strata: base image layer {}", l.blob.digest) }))
            .collect()
    };
    Ok(BaseConfig {
        architecture: raw.architecture,
        os: raw.os,
        config,
        history,
    })
}

/// What the base's file system has outside the store, as its last layer
/// to touch each path leaves it (paths without a leading `/`).
#[derive(Debug, Default)]
pub struct BaseFilesystem {
    /// Symlinks, to their targets.
    pub symlinks: BTreeMap<String, String>,
    /// Directories, to their mode and owner.
    pub directories: BTreeMap<String, (u32, u32, u32)>,
    /// The account files (`etc/passwd`, `etc/group`, `etc/shadow`), to
    /// their text.
    pub account_files: BTreeMap<String, String>,
}

/// The files that hold accounts, which `users` and `groups` add to.
pub const ACCOUNT_FILES: [&str; 3] = ["etc/passwd", "etc/group", "etc/shadow"];

impl BaseImage {
    /// Reads the symlinks and directories of the base's layers outside
    /// `store_dir`.
    pub fn filesystem(&self, store_dir: &str) -> Result<BaseFilesystem> {
        let store_prefix = format!("{}/", store_dir.trim_matches('/'));
        let mut found = BaseFilesystem::default();
        for layer in &self.layers {
            // The blob streams through a pipe: a layer is never all in memory.
            let (reader, mut writer) = io::pipe()?;
            let copied = layer.clone();
            let copier = std::thread::spawn(move || copied.copy_to(&mut writer));
            let scanned = scan_layer(reader, layer, &store_prefix, &mut found);
            let copy = copier.join().expect("the copying thread does not panic");
            scanned?;
            copy?;
        }
        Ok(found)
    }
}

/// Adds what one layer's tar (compressed or not, from `raw`) does to the
/// file system outside the store to `found`.
fn scan_layer(
    raw: io::PipeReader,
    layer: &BaseLayer,
    store_prefix: &str,
    found: &mut BaseFilesystem,
) -> Result<()> {
    let mut archive = tar::Archive::new(decompressed(BufReader::new(raw))?);
    for entry in archive
        .entries()
        .with_context(|| format!("layer {} of the base image is not a tar", layer.entry))?
    {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let path = normalized_name(&path).trim_end_matches('/').to_owned();
        if path.starts_with(store_prefix) {
            continue;
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", &path));
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let hidden = if dir.is_empty() {
                hidden.to_owned()
            } else {
                format!("{dir}/{hidden}")
            };
            found.symlinks.remove(&hidden);
            found.directories.remove(&hidden);
            found.account_files.remove(&hidden);
            continue;
        }
        found.symlinks.remove(&path);
        found.directories.remove(&path);
        found.account_files.remove(&path);
        let header = entry.header();
        match header.entry_type() {
            tar::EntryType::Symlink => {
                if let Some(target) = entry.link_name()? {
                    let target = target.to_string_lossy().into_owned();
                    found.symlinks.insert(path, target);
                }
            }
            tar::EntryType::Regular if ACCOUNT_FILES.contains(&path.as_str()) => {
                let mut text = String::new();
                entry
                    .read_to_string(&mut text)
                    .with_context(|| format!("/{path} of the base image is not text"))?;
                found.account_files.insert(path, text);
            }
            tar::EntryType::Directory => {
                let owner = (
                    header.mode()? & 0o7777,
                    u32::try_from(header.uid()?).unwrap_or(0),
                    u32::try_from(header.gid()?).unwrap_or(0),
                );
                found.directories.insert(path, owner);
            }
            _ => {}
        }
    }
    // What the tar leaves unread (its end blocks), so the copy finishes.
    io::copy(&mut archive.into_inner(), &mut io::sink())?;
    Ok(())
}

impl BaseLayer {
    /// Writes the layer's blob, as it is in the base image, to `out`.
    pub fn copy_to(&self, out: &mut impl Write) -> Result<()> {
        copy_entry(&self.image, &self.entry, out)
    }
}

/// Copies the entry `name` of the base image to `out`.
fn copy_entry(image: &Path, name: &str, out: &mut impl Write) -> Result<()> {
    let missing = || {
        anyhow::anyhow!(
            "the base image {} no longer has the file {name}",
            image.display()
        )
    };
    if image.is_dir() {
        let path = image.join(name);
        let mut file = File::open(&path).map_err(|_| missing())?;
        io::copy(&mut file, out).with_context(|| format!("cannot read {}", path.display()))?;
        return Ok(());
    }
    let mut archive = tar::Archive::new(open_archive(image)?);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() == tar::EntryType::Regular
            && normalized_name(&entry.path()?.to_string_lossy()) == name
        {
            io::copy(&mut entry, out)
                .with_context(|| format!("cannot read {name} in {}", image.display()))?;
            return Ok(());
        }
    }
    Err(missing())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// An empty layer: the two end blocks of a tar.
    fn empty_layer() -> Vec<u8> {
        vec![0; 1024]
    }

    fn config(architecture: &str, diff_ids: &[Digest]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "architecture": architecture,
            "os": "linux",
            "config": { "Env": ["A=1"], "Hostname": "dropped" },
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
        }))
        .unwrap()
    }

    /// Writes `files` (name, bytes) as a tar at `path`.
    fn archive(path: &Path, files: &[(String, Vec<u8>)]) {
        let mut builder = tar::Builder::new(File::create(path).unwrap());
        for (name, bytes) in files {
            let mut header = tar::Header::new_ustar();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, &bytes[..]).unwrap();
        }
        builder.finish().unwrap();
    }

    /// A docker-archive of one image with one empty layer, whose manifest
    /// lists `images` entries.
    fn docker_archive(dir: &Path, images: usize, diff_id: Digest) -> PathBuf {
        let layer = empty_layer();
        let config = config("amd64", &[diff_id]);
        let entry = serde_json::json!({
            "Config": "config.json",
            "RepoTags": ["base:1"],
            "Layers": ["layer.tar"],
        });
        let manifest = serde_json::to_vec(&vec![entry; images]).unwrap();
        let path = dir.join("docker.tar");
        archive(
            &path,
            &[
                ("manifest.json".to_owned(), manifest),
                ("config.json".to_owned(), config),
                ("./layer.tar".to_owned(), layer),
            ],
        );
        path
    }

    #[test]
    fn reads_a_docker_archive() {
        let dir = tempfile::tempdir().unwrap();
        let layer = Digest::of(&empty_layer());
        let base = read(
            &docker_archive(dir.path(), 1, layer),
            "amd64",
            "linux",
            &BaseChoice::default(),
        )
        .unwrap();
        assert_eq!(base.layers.len(), 1);
        assert_eq!(base.layers[0].blob.digest, layer);
        assert_eq!(
            base.layers[0].blob.media_type,
            Compressor::None.media_type()
        );
        assert_eq!(base.config.config.env, ["A=1"]);
        let mut copied = Vec::new();
        base.layers[0].copy_to(&mut copied).unwrap();
        assert_eq!(copied, empty_layer());
    }

    #[test]
    fn from_image_name_and_tag_choose_in_an_archive_of_several() {
        let dir = tempfile::tempdir().unwrap();
        let layer = Digest::of(&empty_layer());
        let entry = |tags: &[&str]| serde_json::json!({ "Config": "config.json", "RepoTags": tags, "Layers": ["layer.tar"] });
        let path = dir.path().join("several.tar");
        archive(
            &path,
            &[
                (
                    "manifest.json".to_owned(),
                    serde_json::to_vec(&[
                        entry(&["base:1"]),
                        entry(&["docker.io/library/other:2"]),
                    ])
                    .unwrap(),
                ),
                ("config.json".to_owned(), config("amd64", &[layer])),
                ("layer.tar".to_owned(), empty_layer()),
            ],
        );
        let choose = |name, tag| {
            read(&path, "amd64", "linux", &BaseChoice { name, tag }).map(|b| b.layers.len())
        };
        assert_eq!(choose(Some("base"), None).unwrap(), 1);
        assert_eq!(choose(Some("other"), Some("2")).unwrap(), 1);
        let err = format!("{:#}", choose(Some("other"), Some("3")).unwrap_err());
        assert!(
            err.contains("(base:1, docker.io/library/other:2); 0 of them other:3"),
            "{err}"
        );
        let err = format!("{:#}", choose(None, None).unwrap_err());
        assert!(err.contains("give fromImageName"), "{err}");
    }

    #[test]
    fn damaged_or_ambiguous_docker_archives_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let layer = Digest::of(&empty_layer());
        let two = docker_archive(dir.path(), 2, layer);
        let err = format!(
            "{:#}",
            read(&two, "amd64", "linux", &BaseChoice::default()).unwrap_err()
        );
        assert!(err.contains("holds 2 images (base:1, base:1)"), "{err}");
        let wrong = docker_archive(dir.path(), 1, Digest::of(b"other"));
        let err = format!(
            "{:#}",
            read(&wrong, "amd64", "linux", &BaseChoice::default()).unwrap_err()
        );
        assert!(
            err.contains("layer.tar") && err.contains("does not match its diff_id"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            read(&wrong, "arm64", "linux", &BaseChoice::default()).unwrap_err()
        );
        assert!(
            err.contains("does not match"),
            "the damage is found first: {err}"
        );
    }

    /// An OCI layout directory with an index of one manifest per
    /// architecture, each with one empty layer.
    fn oci_layout_dir(dir: &Path, architectures: &[&str]) -> PathBuf {
        let root = dir.join("layout");
        let blobs = root.join("blobs/sha256");
        fs::create_dir_all(&blobs).unwrap();
        let blob = |bytes: &[u8]| {
            let digest = Digest::of(bytes);
            fs::write(blobs.join(digest.hex()), bytes).unwrap();
            serde_json::json!({ "digest": digest, "size": bytes.len() })
        };
        let layer = empty_layer();
        let mut manifests = Vec::new();
        for architecture in architectures {
            let mut layer_descriptor = blob(&layer);
            layer_descriptor["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar".into();
            let manifest = serde_json::to_vec(&serde_json::json!({
                "config": blob(&config(architecture, &[Digest::of(&layer)])),
                "layers": [layer_descriptor],
            }))
            .unwrap();
            let mut descriptor = blob(&manifest);
            descriptor["platform"] =
                serde_json::json!({ "architecture": architecture, "os": "linux" });
            manifests.push(descriptor);
        }
        let index = serde_json::json!({ "manifests": manifests });
        fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
        root
    }

    #[test]
    fn picks_the_platform_of_an_oci_layout_and_names_damage() {
        let dir = tempfile::tempdir().unwrap();
        let layout = oci_layout_dir(dir.path(), &["amd64", "arm64"]);
        let base = read(&layout, "arm64", "linux", &BaseChoice::default()).unwrap();
        assert_eq!(base.config.architecture, "arm64");
        assert_eq!(
            base.layers[0].blob.media_type,
            Compressor::None.media_type(),
            "Docker's type, in OCI's name"
        );
        let err = format!(
            "{:#}",
            read(&layout, "s390x", "linux", &BaseChoice::default()).unwrap_err()
        );
        assert!(
            err.contains("no manifest for linux/s390x (it has: linux/amd64, linux/arm64)"),
            "{err}"
        );
        let layer = layout
            .join("blobs/sha256")
            .join(Digest::of(&empty_layer()).hex());
        fs::write(&layer, b"damaged").unwrap();
        let err = format!(
            "{:#}",
            read(&layout, "amd64", "linux", &BaseChoice::default()).unwrap_err()
        );
        assert!(err.contains("does not match its descriptor"), "{err}");
    }
}
