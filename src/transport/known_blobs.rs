//! What a push knows of a layer's compressed blob before compressing it:
//! its digest and size, by the diff_id of its tar.
//!
//! Two sources, neither trusted alone: the local [`BlobCache`], and the
//! manifests a registry already holds (the tag being pushed, in the
//! destination and in the repository blobs are mounted from). A manifest's
//! layer counts only when its media type and the settings strata annotated
//! on it are those of this push, so that the manifest pushed is byte for
//! byte the one a push that compressed everything would make. Whatever is
//! learned here is confirmed by the registry (`HEAD`) before it is used.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::format::compression::{Encoding, SETTINGS_ANNOTATION};
use crate::format::digest::Digest;
use crate::transport::blob_cache::BlobCache;
use crate::transport::registry::Client;

/// The largest image config a push reads to learn from.
const CONFIG_LIMIT: u64 = 16 << 20;

/// A blob: digest and size.
pub type Blob = (Digest, u64);

/// Blobs known for tars compressed with one encoding.
pub struct KnownBlobs {
    settings: Option<String>,
    media_type: &'static str,
    from_registry: BTreeMap<Digest, Blob>,
    cache: BlobCache,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: Digest,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Manifest {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct Config {
    rootfs: RootFs,
}

#[derive(Deserialize)]
struct RootFs {
    diff_ids: Vec<Digest>,
}

impl KnownBlobs {
    pub fn new(encoding: Encoding, cache: BlobCache) -> Self {
        Self {
            settings: encoding.settings(),
            media_type: encoding.media_type(),
            from_registry: BTreeMap::new(),
            cache,
        }
    }

    /// Learns the blobs of the manifest tagged `tag` in `client`'s
    /// repository. Nothing to learn is no error: no such tag, a manifest
    /// of another kind, or one that another tool pushed.
    pub fn learn_from(&mut self, client: &Client, tag: &str) {
        if self.settings.is_none() {
            return;
        }
        match self.blobs_of(client, tag) {
            Ok(blobs) => self.from_registry.extend(blobs),
            Err(error) => eprintln!(
                "strata: cannot learn the layers the registry holds as {tag}: {error:#}; they are compressed to find out"
            ),
        }
    }

    fn blobs_of(&self, client: &Client, tag: &str) -> anyhow::Result<Vec<(Digest, Blob)>> {
        let Some((bytes, _)) = client.find_manifest(tag)? else {
            return Ok(Vec::new());
        };
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&bytes) else {
            return Ok(Vec::new());
        };
        let config = client.get_small_blob(&manifest.config.digest, CONFIG_LIMIT)?;
        let Ok(config) = serde_json::from_slice::<Config>(&config) else {
            return Ok(Vec::new());
        };
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Ok(Vec::new());
        }
        Ok(config
            .rootfs
            .diff_ids
            .into_iter()
            .zip(manifest.layers)
            .filter(|(_, layer)| {
                layer.media_type == self.media_type
                    && layer.annotations.get(SETTINGS_ANNOTATION) == self.settings.as_ref()
            })
            .map(|(diff_id, layer)| (diff_id, (layer.digest, layer.size)))
            .collect())
    }

    /// The blob the tar `diff_id` compresses to, if known.
    pub fn get(&self, diff_id: &Digest) -> Option<Blob> {
        let settings = self.settings.as_ref()?;
        self.cache
            .get(diff_id, settings)
            .or_else(|| self.from_registry.get(diff_id).copied())
    }

    /// Records the blob that the tar `diff_id` was compressed to.
    pub fn record(&self, diff_id: &Digest, blob: Blob) {
        if let Some(settings) = &self.settings {
            self.cache.put(diff_id, settings, &blob.0, blob.1);
        }
    }
}
