//! Pulling an image by digest into an OCI layout directory (`pullImage`).
//!
//! The layout holds the platform's manifest as the registry served it, its
//! config and its layers, every one checked against its digest, and an
//! index naming it. Given the same image, the directory is the same byte
//! for byte: it is the output of a fixed-output derivation.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::emit::oci::{OCI_LAYOUT, canonical_json};
use crate::emit::output::{self, OutputMode};
use crate::format::digest::Digest;
use crate::format::manifest::{INDEX_TYPES, Index, Manifest, REF_NAME};
use crate::format::platform;
use crate::format::reference::Destination;
use crate::input::spec;
use crate::transport::auth::{self, Credentials};
use crate::transport::registry::Client;

#[derive(Clone, Debug)]
pub struct PullOptions {
    /// `NAME@sha256:…`
    pub image: String,
    pub os: String,
    /// The platform to pick from an index; this machine's when `None`.
    pub architecture: Option<String>,
    pub variant: Option<String>,
    /// The name the layout's index gives the image.
    pub tag: String,
    pub credentials: Option<String>,
    /// Plain HTTP (always used for a registry on this machine).
    pub insecure: bool,
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
    crate::format::reference::validate_tag(&options.tag)?;
    let credentials = match &options.credentials {
        Some(text) => Some(Credentials::parse(text)?),
        None => auth::from_files(&source.registry, &auth::auth_files())?,
    };
    let client = Client::new(&source, credentials, options.insecure);

    let (architecture, variant) = match &options.architecture {
        Some(architecture) => (architecture.clone(), options.variant.clone()),
        None => {
            let (architecture, variant) = spec::goarch_of_system(&spec::host_system())?;
            (architecture.to_owned(), variant.map(str::to_owned))
        }
    };
    platform::check(&architecture, variant.as_deref())?;
    let (mut manifest, mut media_type) = client
        .get_manifest(&digest)
        .with_context(|| format!("cannot pull {}", options.image))?;
    let mut manifest_digest = digest;
    if INDEX_TYPES.contains(&media_type.as_str()) {
        let index: Index = serde_json::from_slice(&manifest)
            .with_context(|| format!("the index {digest} is not valid"))?;
        let chosen = index
            .for_platform(&options.os, &architecture, variant.as_deref())
            .with_context(|| {
                format!(
                    "{} has no image for {}/{} (it has: {})",
                    options.image,
                    options.os,
                    architecture,
                    index.platforms()
                )
            })?;
        if chosen.is_index() {
            bail!(
                "{} nests an index in its index, which is not supported",
                options.image
            );
        }
        manifest_digest = chosen.digest;
        (manifest, media_type) = client.get_manifest(&manifest_digest)?;
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
