//! The image description: everything about an image but its layers' bytes,
//! found by hashing them, without compressing anything.
//!
//! It holds the plan (each layer's store paths or synthetic tree), each
//! layer's diff_id and size, and the config, which names only diff_ids.
//! Streams, pushes and loads are made from it later, by regenerating each
//! layer from the store, checked against its recorded diff_id, and
//! compressing it as the output asks; the manifest, which names the
//! compressed blobs, is made then.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::emit::oci;
use crate::format::compression::{Compressor, Encoding};
use crate::format::digest::Digest;
use crate::format::layer_blob::LayerBlob;
use crate::plan::image_plan::ImagePlan;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDescription {
    pub plan: ImagePlan,
    pub layers: Vec<LayerTar>,
    /// The image config, as in the image.
    pub config: serde_json::Value,
    pub config_digest: Digest,
    /// The facts of the image's bill of materials, from which a push makes
    /// the bill it sends along (set by the scripts that push).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_facts: Option<PathBuf>,
}

/// What describing learns of a layer: its tar's digest and size. For a
/// base image's layer, which is carried as it is, the digest of its tar
/// and the size of its blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerTar {
    pub diff_id: Digest,
    pub size: u64,
    /// What the tar is made from (see [`crate::emit::layer_source`]), for a
    /// layer strata writes: a later version's layer made from the same
    /// takes its diff_id without being hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Digest>,
}

/// Reads the plan in a plan or description JSON file, or a stream script.
pub fn read_plan(source: &Path) -> Result<ImagePlan> {
    let text = std::fs::read_to_string(source)
        .with_context(|| format!("cannot read {}", source.display()))?;
    let plan = || -> Result<ImagePlan> {
        let value: serde_json::Value =
            serde_json::from_str(script_payload(&text)).context("not JSON")?;
        if value.get("plan").is_some() {
            let description: ImageDescription =
                serde_json::from_value(value).context("not an image description")?;
            return Ok(description.plan);
        }
        serde_json::from_value(value).context("not a layering plan")
    };
    plan().with_context(|| {
        format!(
            "{} is not a plan, an image description or a stream script",
            source.display()
        )
    })
}

impl ImageDescription {
    pub fn new(plan: ImagePlan, layers: Vec<LayerTar>) -> Result<Self> {
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id).collect();
        let config = oci::config(&plan, &diff_ids)?;
        Ok(Self {
            config: serde_json::from_slice(&config)?,
            config_digest: Digest::of(&config),
            plan,
            layers,
            sbom_facts: None,
        })
    }

    /// Reads a description from a JSON file or from a script made by the Nix
    /// library (a `#!` line, then the JSON), and checks that its parts agree.
    pub fn read(source: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(source)
            .with_context(|| format!("cannot read {}", source.display()))?;
        let description: Self = serde_json::from_str(script_payload(&text))
            .with_context(|| format!("{} is not an image description", source.display()))?;
        description.checked(source)
    }

    /// The description that `value`, read from `source`, holds.
    pub fn from_json(value: serde_json::Value, source: &Path) -> Result<Self> {
        let description: Self = serde_json::from_value(value)
            .with_context(|| format!("{} is not an image description", source.display()))?;
        description.checked(source)
    }

    /// The description, once its parts are found to agree.
    fn checked(self, source: &Path) -> Result<Self> {
        self.config_bytes()
            .with_context(|| format!("in {}", source.display()))?;
        Ok(self)
    }

    /// The config's bytes, checked against the recorded digest.
    pub fn config_bytes(&self) -> Result<Vec<u8>> {
        if self.plan.layers.len() != self.layers.len() {
            bail!(
                "the image description is inconsistent: {} planned layers but {} digests",
                self.plan.layers.len(),
                self.layers.len()
            );
        }
        let diff_ids: Vec<Digest> = self.layers.iter().map(|l| l.diff_id).collect();
        let config = oci::config(&self.plan, &diff_ids)?;
        if Digest::of(&config) != self.config_digest {
            bail!(
                "the image description is inconsistent: its plan and layers make config {}, but it records {}",
                Digest::of(&config),
                self.config_digest
            );
        }
        Ok(config)
    }

    /// Layer `index`'s blob as `encoding` makes it, when that is known
    /// without compressing: a base image's layer (carried as it is), or an
    /// uncompressed one.
    pub fn known_blob(&self, index: usize, encoding: Encoding) -> Option<LayerBlob> {
        if let Some(base) = &self.plan.layers[index].base {
            return Some(base.blob.clone());
        }
        let tar = &self.layers[index];
        (encoding.compressor == Compressor::None).then(|| LayerBlob {
            diff_id: tar.diff_id,
            digest: tar.diff_id,
            size: tar.size,
            media_type: encoding.media_type().to_owned(),
            settings: None,
        })
    }
}

/// The JSON of a script (a `#!` line, then the description), or the whole
/// text when it has no `#!` line.
pub fn script_payload(text: &str) -> &str {
    match text.strip_prefix("#!") {
        Some(script) => script.split_once('\n').map_or("", |(_, rest)| rest),
        None => text,
    }
}
