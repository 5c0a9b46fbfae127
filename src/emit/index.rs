//! Image indexes: one image name for several platforms, as an OCI layout
//! (a tar or a directory) whose `index.json` names one image index, which
//! names each platform's manifest.
//!
//! The images come as the layouts strata built for them; their blobs are
//! copied as they are (each checked against its digest), a blob that
//! several images share once. Nothing is compressed again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::emit::archive;
use crate::emit::description::{ImageDescription, script_payload};
use crate::emit::oci::{self, OCI_LAYOUT, canonical_json};
use crate::emit::output::{self, OutputMode};
use crate::format::digest::Digest;
use crate::format::manifest::{CONTAINERD_NAME, INDEX_TYPES, REF_NAME};
use crate::format::platform::Platform;
use crate::format::reference;
use crate::format::tar_format;
use crate::input::image_layout::{self, ImageLayout};
use crate::input::spec::{self, ImageFormat};

/// What an index is: its name and tag, annotations, and how it is written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexSpec {
    pub name: String,
    pub tag: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    pub format: ImageFormat,
}

/// The image index over `images`, and the layout's `index.json` naming it.
pub struct IndexDocuments {
    pub index: Vec<u8>,
    pub index_digest: Digest,
    pub layout_index: Vec<u8>,
}

/// Checks that `images` make an index: at least one, one per platform, all
/// of one name.
pub fn check_images(images: &[ImageLayout]) -> Result<()> {
    if images.is_empty() {
        bail!("an index needs at least one image");
    }
    let mut by_platform: BTreeMap<&Platform, &Path> = BTreeMap::new();
    for image in images {
        if let Some(earlier) = by_platform.insert(&image.platform, &image.path) {
            bail!(
                "{} and {} are both for {}; an index holds one image per platform",
                earlier.display(),
                image.path.display(),
                image.platform
            );
        }
    }
    let names: BTreeSet<(String, &Path)> = images
        .iter()
        .filter_map(|image| {
            let (name, _) = reference::name_and_tag(image.name.as_deref()?).ok()?;
            Some((name.to_owned(), &*image.path))
        })
        .collect();
    let distinct: BTreeSet<&String> = names.iter().map(|(name, _)| name).collect();
    if distinct.len() > 1 {
        let list: Vec<String> = names
            .iter()
            .map(|(name, path)| format!("{name} ({})", path.display()))
            .collect();
        bail!(
            "the images of an index must have one name, but they have several: {}",
            list.join(", ")
        );
    }
    Ok(())
}

pub fn documents(spec: &IndexSpec, images: &[ImageLayout]) -> Result<IndexDocuments> {
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|image| {
            serde_json::json!({
                "mediaType": image.media_type,
                "digest": image.manifest_digest,
                "size": image.manifest.len(),
                "platform": image.platform,
            })
        })
        .collect();
    let mut index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPES[0],
        "manifests": manifests,
    });
    if !spec.annotations.is_empty() {
        index["annotations"] = serde_json::to_value(&spec.annotations)?;
    }
    let index = canonical_json(&index)?;
    let index_digest = Digest::of(&index);
    let mut annotations = spec.annotations.clone();
    annotations.insert(REF_NAME.to_owned(), spec.tag.clone());
    annotations.insert(
        CONTAINERD_NAME.to_owned(),
        oci::fully_qualified(&format!("{}:{}", spec.name, spec.tag)),
    );
    let layout_index = canonical_json(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPES[0],
        "manifests": [{
            "mediaType": INDEX_TYPES[0],
            "digest": index_digest,
            "size": index.len(),
            "annotations": annotations,
        }],
    }))?;
    Ok(IndexDocuments {
        index,
        index_digest,
        layout_index,
    })
}

/// Every blob of `images` once: the configs and layers, then each
/// image's manifest; with the image that holds it.
fn blobs(images: &[ImageLayout]) -> Vec<(&ImageLayout, Digest, u64)> {
    image_layout::distinct_blobs(images)
        .into_iter()
        .map(|(image, blob)| (image, blob.digest, blob.size))
        .chain(
            images
                .iter()
                .map(|image| (image, image.manifest_digest, image.manifest.len() as u64)),
        )
        .collect()
}

/// Writes the index of `images` to `output` as `spec.format` says; on any
/// error nothing is left there. Returns the index's digest.
pub fn build_index(
    spec: &IndexSpec,
    images: &[ImageLayout],
    output: &Path,
    mode: OutputMode,
) -> Result<Digest> {
    check_images(images)?;
    let documents = documents(spec, images)?;
    let tail: Vec<(String, &[u8])> = vec![
        (documents.index_digest.blob_path(), &documents.index),
        ("index.json".to_owned(), &documents.layout_index),
        ("oci-layout".to_owned(), OCI_LAYOUT),
    ];
    match spec.format {
        ImageFormat::Docker => bail!(
            "an index is an OCI layout: format \"oci-archive\" or \"oci-dir\" (Docker's archive holds one platform; copyToDockerDaemon loads Docker's own)"
        ),
        ImageFormat::OciArchive => output::write_file(output, mode, false, |out| {
            archive::write_prefix(out)?;
            for (image, digest, size) in blobs(images) {
                archive::write_blob_header(out, &digest, size)?;
                image.copy_blob(&digest, out)?;
                tar_format::write_padding(out, size)?;
            }
            archive::write_files(out, &tail)?;
            tar_format::write_end(out)?;
            Ok(())
        })?,
        ImageFormat::OciDir => output::fill_dir(output, mode, |dir| {
            let blob_dir = dir.join("blobs/sha256");
            std::fs::create_dir_all(&blob_dir)
                .with_context(|| format!("cannot create {}", blob_dir.display()))?;
            for (image, digest, _) in blobs(images) {
                let path = dir.join(digest.blob_path());
                output::write_file(&path, OutputMode::InPlace, false, |out| {
                    image.copy_blob(&digest, out).map(drop)
                })?;
            }
            for (name, bytes) in &tail {
                let path = dir.join(name);
                std::fs::write(&path, bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(())
        })?,
    }
    Ok(documents.index_digest)
}

/// What pushes and loads of an index are made from: the index's layout in
/// the store, and the description of each of its images.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexDescription {
    pub name: String,
    pub tag: String,
    pub layout: PathBuf,
    pub images: Vec<ImageDescription>,
}

impl IndexDescription {
    /// The platform of each image, in the index's order.
    pub fn platforms(&self) -> Vec<Platform> {
        self.images.iter().map(|i| i.plan.spec.platform()).collect()
    }

    /// The image for `platform`.
    pub fn image_for(&self, platform: &Platform) -> Result<&ImageDescription> {
        self.find(&platform.to_string(), |p| p == platform)
    }

    /// The image for this machine's platform (of any variant), which
    /// engines here run.
    pub fn image_for_host(&self) -> Result<&ImageDescription> {
        let (architecture, _) = spec::goarch_of_system(&spec::host_system())?;
        self.find(&format!("linux/{architecture}"), |p| {
            p.os == "linux" && p.architecture == architecture
        })
    }

    fn find(&self, wanted: &str, matches: impl Fn(&Platform) -> bool) -> Result<&ImageDescription> {
        self.images
            .iter()
            .find(|image| matches(&image.plan.spec.platform()))
            .with_context(|| {
                let platforms: Vec<String> =
                    self.platforms().iter().map(Platform::to_string).collect();
                format!(
                    "the index {}:{} has no image for {wanted} (it has: {})",
                    self.name,
                    self.tag,
                    platforms.join(", ")
                )
            })
    }
}

/// A description as scripts and commands take it: of one image, or of an
/// index.
pub enum Described {
    Image(Box<ImageDescription>),
    Index(IndexDescription),
}

impl Described {
    /// Reads a description, an index description, or a script made of
    /// either by the Nix library.
    pub fn read(source: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(source)
            .with_context(|| format!("cannot read {}", source.display()))?;
        let value: serde_json::Value = serde_json::from_str(script_payload(&text))
            .with_context(|| format!("{} is not a description: not JSON", source.display()))?;
        Ok(match index_of(value, source)? {
            Ok(index) => Described::Index(index),
            Err(value) => Described::Image(Box::new(ImageDescription::from_json(value, source)?)),
        })
    }

    /// The index `source` describes, when it describes one (and not an
    /// image, or anything else).
    pub fn read_index(source: &Path) -> Result<Option<IndexDescription>> {
        let text = std::fs::read_to_string(source)
            .with_context(|| format!("cannot read {}", source.display()))?;
        match serde_json::from_str(script_payload(&text)) {
            Ok(value) => Ok(index_of(value, source)?.ok()),
            Err(_) => Ok(None),
        }
    }
}

/// The index description `value` (read from `source`) holds, checked; or
/// `value` back when it holds none.
fn index_of(
    value: serde_json::Value,
    source: &Path,
) -> Result<std::result::Result<IndexDescription, serde_json::Value>> {
    if value.get("layout").is_none() || value.get("images").is_none() {
        return Ok(Err(value));
    }
    let index: IndexDescription = serde_json::from_value(value)
        .with_context(|| format!("{} is not an index description", source.display()))?;
    for image in &index.images {
        image
            .config_bytes()
            .with_context(|| format!("in {}", source.display()))?;
    }
    Ok(Ok(index))
}
