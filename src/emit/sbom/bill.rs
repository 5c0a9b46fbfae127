//! The bill: what both documents say of the image, its layers and its
//! store paths, gathered from the plan, the facts and the built image.

use std::path::Path;

use anyhow::{Context, Result, bail};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest as _, Sha256};

use crate::emit::output::OutputMode;
use crate::emit::sbom::facts::{License, LicenseMeta, SbomFacts};
use crate::emit::{image, oci};
use crate::format::digest::Digest;
use crate::format::drv_name::parse_drv_name;
use crate::format::layer_blob::LayerBlob;
use crate::format::manifest::Descriptor;
use crate::format::nar_hash::parse_nar_hash;
use crate::format::platform::Platform;
use crate::format::store_path::StorePath;
use crate::input::image_layout::ImageLayout;
use crate::input::spec::ImageFormat;
use crate::plan::image_plan::ImagePlan;

/// The image the documents are about.
pub struct ImageRecord {
    pub name: String,
    pub tag: String,
    pub manifest_digest: Digest,
    /// RFC 3339: the documents' time.
    pub created: String,
    pub platform: Platform,
}

/// One layer, bottom first.
pub struct LayerRecord {
    /// 1-based, as `strata explain` numbers layers.
    pub number: usize,
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    /// The base image's file, for a layer carried over from it.
    pub base_image: Option<String>,
}

/// One store path of the image.
pub struct PackageRecord {
    pub path: StorePath,
    pub name: String,
    pub version: String,
    pub nar_hash: Digest,
    /// The number of the layer that holds it.
    pub layer: usize,
    /// The image's store paths it refers to, itself left out.
    pub references: Vec<StorePath>,
    pub licenses: Vec<License>,
    /// An http(s) URL; other text is left out.
    pub homepage: Option<String>,
    pub description: Option<String>,
}

/// Everything both documents say.
pub struct Bill {
    pub image: ImageRecord,
    pub layers: Vec<LayerRecord>,
    pub packages: Vec<PackageRecord>,
    /// `strata <version>`.
    pub tool_version: String,
}

impl Bill {
    /// The bill of the image `plan` describes, as `built` (its manifest
    /// and layers), with the `facts` of its store paths.
    pub fn new(plan: &ImagePlan, facts: &SbomFacts, built: &BuiltImage) -> Result<Self> {
        if built.layers.len() != plan.layers.len() {
            bail!(
                "{} has {} layers, but the plan has {}: it is not the image of this plan",
                built.source,
                built.layers.len(),
                plan.layers.len()
            );
        }
        let layers = plan
            .layers
            .iter()
            .zip(&built.layers)
            .enumerate()
            .map(|(index, (layer, blob))| LayerRecord {
                number: index + 1,
                digest: blob.digest,
                size: blob.size,
                media_type: blob.media_type.clone(),
                base_image: layer
                    .base
                    .as_ref()
                    .map(|base| base.image.display().to_string()),
            })
            .collect();
        let facts = facts.by_path();
        let mut packages = Vec::new();
        for (index, layer) in plan.layers.iter().enumerate() {
            for path in &layer.paths {
                let fact = facts
                    .get(path.as_str())
                    .with_context(|| format!("the facts of the image do not list {path}"))?;
                let (name, version) = parse_drv_name(path.name());
                let references = fact
                    .references
                    .iter()
                    .map(|r| StorePath::parse(r, path.store_dir()))
                    .collect::<Result<Vec<_>, _>>()?;
                let meta = fact.meta.as_ref();
                packages.push(PackageRecord {
                    path: path.clone(),
                    name: name.to_owned(),
                    version: version.to_owned(),
                    nar_hash: parse_nar_hash(&fact.nar_hash)
                        .with_context(|| format!("of {path}"))?,
                    layer: index + 1,
                    references,
                    licenses: meta
                        .map(|m| m.licenses.iter().map(LicenseMeta::license).collect())
                        .unwrap_or_default(),
                    homepage: meta.and_then(|m| m.homepage.clone()).filter(|h| is_url(h)),
                    description: meta.and_then(|m| m.description.clone()),
                });
            }
        }
        packages.sort_by(|a, b| a.path.cmp(&b.path));
        let spec = &plan.spec;
        Ok(Bill {
            image: ImageRecord {
                name: spec.name.clone(),
                tag: spec.tag().to_owned(),
                manifest_digest: built.manifest_digest,
                created: spec.created.rfc3339(),
                platform: spec.platform(),
            },
            layers,
            packages,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    }

    /// A UUID derived from the manifest digest, the name and tag, and
    /// `purpose`: the same image, the same identifiers.
    pub fn uuid(&self, purpose: &str) -> String {
        let mut hash = Sha256::new();
        for part in [
            purpose,
            &self.image.manifest_digest.to_string(),
            &self.image.name,
            &self.image.tag,
        ] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        let mut bytes: [u8; 16] = hash.finalize()[..16].try_into().expect("16 bytes");
        // RFC 9562: version 8 (custom), variant 10.
        bytes[6] = (bytes[6] & 0x0f) | 0x80;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }

    /// The image's package URL: `pkg:oci/<name>@<digest>?repository_url=…&tag=…`.
    pub fn image_purl(&self) -> String {
        let (registry, repository) = crate::format::reference::split_registry(&self.image.name);
        let last = repository.rsplit('/').next().unwrap_or(&repository);
        format!(
            "pkg:oci/{}@{}?arch={}&repository_url={}&tag={}",
            encode(last),
            encode(&self.image.manifest_digest.to_string()),
            encode(&self.image.platform.architecture),
            encode(&format!("{registry}/{repository}")),
            encode(&self.image.tag)
        )
    }
}

/// What the image is as built: its manifest's digest and its layers' blobs.
pub struct BuiltImage {
    /// Where it is, for messages.
    pub source: String,
    pub manifest_digest: Digest,
    pub layers: Vec<BuiltLayer>,
}

/// A layer's blob.
pub struct BuiltLayer {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

impl From<&Descriptor> for BuiltLayer {
    fn from(descriptor: &Descriptor) -> Self {
        BuiltLayer {
            digest: descriptor.digest,
            size: descriptor.size,
            media_type: descriptor.media_type.clone(),
        }
    }
}

impl From<&LayerBlob> for BuiltLayer {
    fn from(blob: &LayerBlob) -> Self {
        BuiltLayer {
            digest: blob.digest,
            size: blob.size,
            media_type: blob.media_type.clone(),
        }
    }
}

impl BuiltImage {
    /// The image in `layout`, which must be the image of `plan`.
    pub fn of_layout(layout: &ImageLayout, plan: &ImagePlan) -> Result<Self> {
        let expected = oci::fully_qualified(&plan.spec.repo_tag());
        if let Some(name) = layout.name.as_ref().filter(|name| **name != expected) {
            bail!(
                "{} is the image {name}, not {expected}",
                layout.path.display()
            );
        }
        Ok(BuiltImage {
            source: layout.path.display().to_string(),
            manifest_digest: layout.manifest_digest,
            layers: layout.blobs[1..].iter().map(BuiltLayer::from).collect(),
        })
    }

    /// The image of `plan`: as built at `image` (the archive or directory
    /// its image function made), or else as built here into a scratch
    /// directory, which is how a stream's image is pushed.
    pub fn of_plan(plan: &ImagePlan, image: Option<&Path>, threads: usize) -> Result<Self> {
        if let Some(path) = image {
            return Self::of_layout(&ImageLayout::open(path)?, plan);
        }
        let scratch = tempfile::Builder::new()
            .prefix("strata-sbom-")
            .tempdir()
            .context("cannot create a scratch directory for the image")?;
        let archive = scratch.path().join("image.tar");
        let mut as_archive = plan.clone();
        if as_archive.spec.format == ImageFormat::OciDir {
            as_archive.spec.format = ImageFormat::OciArchive;
        }
        image::build_archive(as_archive, &archive, OutputMode::InPlace, threads)?;
        Self::of_layout(&ImageLayout::open(&archive)?, plan)
    }
}

impl PackageRecord {
    /// `pkg:nix/<name>@<version>?path=<store path>`.
    pub fn purl(&self) -> String {
        let version = match self.version.as_str() {
            "" => String::new(),
            version => format!("@{}", encode(version)),
        };
        format!(
            "pkg:nix/{}{version}?path={}",
            encode(&self.name),
            encode(self.path.as_str())
        )
    }

    /// An SPDX identifier of its own: the store path's hash part.
    pub fn id(&self) -> String {
        format!("SPDXRef-Package-{}", self.path.hash_part())
    }
}

/// Whether `text` is an http(s) URL, as both documents want a homepage.
fn is_url(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && !text.contains(char::is_whitespace)
}

/// What a package URL percent-encodes: all but letters, digits and
/// `.-_~`.
const PURL_ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, PURL_ENCODED).to_string()
}
