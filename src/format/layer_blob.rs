//! A layer as its blob and its tar are known: what manifests, configs and
//! descriptions record of it.

use serde::{Deserialize, Serialize};

use crate::format::digest::Digest;

/// What the manifest needs to know of one written layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerBlob {
    /// sha256 of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// sha256 of the blob as stored.
    pub digest: Digest,
    /// Size of the blob as stored.
    pub size: u64,
    pub media_type: String,
    /// For a layer strata compressed: the settings it was compressed with
    /// ([`crate::format::compression::Encoding::settings`]), annotated on its
    /// descriptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
}
