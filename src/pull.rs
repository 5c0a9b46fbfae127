//! Pulling an image by digest into an OCI layout directory (`pullImage`).
//!
//! The layout holds the platform's manifest as the registry served it, its
//! config and its layers, every one checked against its digest, and an
//! index naming it. Given the same image, the directory is the same byte
//! for byte: it is the output of a fixed-output derivation.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::digest::Digest;
use crate::oci::{OCI_LAYOUT, REF_NAME, canonical_json};
use crate::output::{self, OutputMode};
use crate::reference::Destination;
use crate::registry::Client;
use crate::registry::auth::{self, Credentials};

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

#[derive(Clone, Debug)]
pub struct PullOptions {
    /// `NAME@sha256:…`
    pub image: String,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    /// The name the layout's index gives the image.
    pub tag: String,
    pub credentials: Option<String>,
    /// Plain HTTP (always used for a registry on this machine).
    pub insecure: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: Option<String>,
    digest: Digest,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// Pulls the image into the new directory `out`; on any error nothing is
/// left there.
pub fn pull(options: &PullOptions, out: &Path, mode: OutputMode) -> Result<()> {
    let (name, digest) = options.image.split_once('@').with_context(|| {
        format!(
            "'{}' names no digest; pull images as NAME@sha256:<digest>, so that the result is fixed",
            options.image
        )
    })?;
    let digest: Digest = digest
        .parse()
        .map_err(|e| anyhow::anyhow!("in '{}': {e}", options.image))?;
    let source = Destination::parse(name)?;
    crate::reference::validate_tag(&options.tag)?;
    let credentials = match &options.credentials {
        Some(text) => Some(Credentials::parse(text)?),
        None => auth::from_files(&source.registry, &auth::auth_files())?,
    };
    let client = Client::new(&source, credentials, options.insecure);

    let (mut manifest, mut media_type) = client
        .get_manifest(&digest)
        .with_context(|| format!("cannot pull {}", options.image))?;
    let mut manifest_digest = digest;
    if INDEX_TYPES.contains(&media_type.as_str()) {
        let index: Index = serde_json::from_slice(&manifest)
            .with_context(|| format!("the index {digest} is not valid"))?;
        let chosen = pick_platform(index, options)?;
        manifest_digest = chosen;
        (manifest, media_type) = client.get_manifest(&chosen)?;
    }
    let parsed: Manifest = serde_json::from_slice(&manifest)
        .with_context(|| format!("the manifest {manifest_digest} is not an image manifest"))?;

    output::fill_dir(out, mode, |dir| {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs)?;
        for blob in std::iter::once(&parsed.config).chain(&parsed.layers) {
            client.get_blob(&blob.digest, &blobs.join(blob.digest.hex()))?;
        }
        std::fs::write(blobs.join(manifest_digest.hex()), &manifest)?;
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX_TYPES[0],
            "manifests": [{
                "mediaType": media_type,
                "digest": manifest_digest,
                "size": manifest.len(),
                "annotations": { REF_NAME: options.tag },
            }],
        });
        std::fs::write(dir.join("index.json"), canonical_json(&index)?)?;
        std::fs::write(dir.join("oci-layout"), OCI_LAYOUT)?;
        Ok(())
    })?;
    Ok(())
}

/// The manifest of the index for the asked platform.
fn pick_platform(index: Index, options: &PullOptions) -> Result<Digest> {
    let available: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|m| m.platform.as_ref())
        .map(|p| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        })
        .collect();
    let wanted = |p: &Platform| {
        p.os == options.os
            && p.architecture == options.architecture
            && (options.variant.is_none() || p.variant == options.variant)
    };
    match index
        .manifests
        .iter()
        .find(|m| m.platform.as_ref().is_some_and(wanted))
    {
        Some(manifest)
            if !manifest
                .media_type
                .as_deref()
                .is_some_and(|t| INDEX_TYPES.contains(&t)) =>
        {
            Ok(manifest.digest)
        }
        Some(_) => bail!(
            "{} nests an index in its index, which is not supported",
            options.image
        ),
        None => bail!(
            "{} has no image for {}/{} (it has: {})",
            options.image,
            options.os,
            options.architecture,
            available.join(", ")
        ),
    }
}
