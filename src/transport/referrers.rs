//! Bills of materials in a registry: an OCI 1.1 artifact (type
//! `application/spdx+json`, an empty config, the document as its one
//! layer) whose `subject` is the image's manifest. A registry without the
//! referrers API learns of it through the referrers tag schema instead: an
//! index under the tag `sha256-<hex of the subject's digest>` that lists
//! the artifacts referring to it.

use anyhow::{Context, Result};
use oci_spec::image::MediaType;
use serde_json::{Value, json};

use crate::emit::oci::canonical_json;
use crate::format::digest::Digest;
use crate::format::manifest::INDEX_TYPES;
use crate::transport::registry::Client;

/// The media type, and artifact type, of an SPDX JSON document.
pub const SPDX_TYPE: &str = "application/spdx+json";
/// The empty config an artifact has.
const EMPTY: &[u8] = b"{}";

/// The manifest an artifact refers to.
pub struct Subject {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

/// Pushes `document` as an SPDX artifact referring to `subject`, listed in
/// the subject's referrers tag when the registry has no referrers API.
/// Returns the artifact manifest's digest.
pub fn push_sbom(
    client: &Client,
    subject: &Subject,
    document: &[u8],
    created: &str,
) -> Result<Digest> {
    for blob in [EMPTY, document] {
        let digest = Digest::of(blob);
        if client.blob_size(&digest)? != Some(blob.len() as u64) {
            client.upload_blob(&digest, || Ok(blob))?;
        }
    }
    let mut layer = descriptor(SPDX_TYPE, document);
    layer["annotations"] = json!({ "org.opencontainers.image.title": "sbom.spdx.json" });
    let manifest = canonical_json(&json!({
        "schemaVersion": 2,
        "mediaType": MediaType::ImageManifest.to_string(),
        "artifactType": SPDX_TYPE,
        "config": descriptor(MediaType::EmptyJSON.as_ref(), EMPTY),
        "layers": [layer],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": subject.size,
        },
        "annotations": { "org.opencontainers.image.created": created },
    }))?;
    let digest = Digest::of(&manifest);
    let noted = client
        .put_manifest(
            &digest.to_string(),
            &manifest,
            MediaType::ImageManifest.as_ref(),
        )
        .context("cannot push the bill of materials")?;
    if !noted {
        list_in_referrers_tag(client, subject, &digest, manifest.len() as u64, created)
            .context("cannot list the bill of materials in the referrers tag")?;
    }
    Ok(digest)
}

/// The referrers tag of `subject`, as the distribution spec names it.
pub fn referrers_tag(subject: &Digest) -> String {
    format!("sha256-{}", subject.hex())
}

/// Adds the artifact to the index under the subject's referrers tag,
/// keeping what the index lists already (and leaving it be when it lists
/// the artifact).
fn list_in_referrers_tag(
    client: &Client,
    subject: &Subject,
    artifact: &Digest,
    size: u64,
    created: &str,
) -> Result<()> {
    let tag = referrers_tag(&subject.digest);
    let mut manifests: Vec<Value> = match client.find_manifest(&tag)? {
        Some((bytes, _)) => {
            let index: Value = serde_json::from_slice(&bytes)
                .with_context(|| format!("the registry's tag {tag} is not an index"))?;
            index["manifests"].as_array().cloned().unwrap_or_default()
        }
        None => Vec::new(),
    };
    let digest = artifact.to_string();
    if manifests.iter().any(|m| m["digest"] == digest.as_str()) {
        return Ok(());
    }
    manifests.push(json!({
        "mediaType": MediaType::ImageManifest.to_string(),
        "digest": digest,
        "size": size,
        "artifactType": SPDX_TYPE,
        "annotations": { "org.opencontainers.image.created": created },
    }));
    let index = canonical_json(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX_TYPES[0],
        "manifests": manifests,
    }))?;
    client.put_manifest(&tag, &index, INDEX_TYPES[0])?;
    Ok(())
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({
        "mediaType": media_type,
        "digest": Digest::of(bytes),
        "size": bytes.len(),
    })
}
