//! The image description: everything about an image but its layers' bytes.
//!
//! It holds the plan (each layer's store paths or synthetic tree), every
//! layer's diff_id, digest, size and media type, and the config and manifest
//! as they will be sent. Archives, streams, pushes and loads are made from it
//! later, by regenerating each layer from the store and checking it against
//! the recorded digest.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::oci::{self, ImageDocuments, LayerBlob};
use crate::plan::ImagePlan;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDescription {
    pub plan: ImagePlan,
    pub layers: Vec<LayerBlob>,
    /// The image config, as in the image.
    pub config: serde_json::Value,
    /// The manifest, as in the image.
    pub manifest: serde_json::Value,
    pub manifest_digest: Digest,
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
    pub fn new(plan: ImagePlan, layers: Vec<LayerBlob>) -> Result<Self> {
        let documents = oci::documents(&plan, &layers)?;
        Ok(Self {
            config: serde_json::from_slice(&documents.config)?,
            manifest: serde_json::from_slice(&documents.manifest)?,
            manifest_digest: documents.manifest_digest,
            plan,
            layers,
        })
    }

    /// Reads a description from a JSON file or from a script made by the Nix
    /// library (a `#!` line, then the JSON), and checks that its parts agree.
    pub fn read(source: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(source)
            .with_context(|| format!("cannot read {}", source.display()))?;
        let description: Self = serde_json::from_str(script_payload(&text))
            .with_context(|| format!("{} is not an image description", source.display()))?;
        description
            .documents()
            .with_context(|| format!("in {}", source.display()))?;
        Ok(description)
    }

    /// The config, manifest and index bytes, checked against the recorded
    /// manifest.
    pub fn documents(&self) -> Result<ImageDocuments> {
        if self.plan.layers.len() != self.layers.len() {
            bail!(
                "the image description is inconsistent: {} planned layers but {} digests",
                self.plan.layers.len(),
                self.layers.len()
            );
        }
        let documents = oci::documents(&self.plan, &self.layers)?;
        if documents.manifest_digest != self.manifest_digest {
            bail!(
                "the image description is inconsistent: its plan and layers make manifest {}, but it records {}",
                documents.manifest_digest,
                self.manifest_digest
            );
        }
        Ok(documents)
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
