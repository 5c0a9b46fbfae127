//! The image's JSON documents: config, manifest, index and Docker's
//! `manifest.json`.
//!
//! Each is serialized as canonical JSON (object keys sorted, no white space),
//! so the bytes, and the digests over them, depend only on the content.

use std::collections::HashMap;

use anyhow::{Context, Result};
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, HistoryBuilder, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use serde::Serialize;

use crate::format::compression::SETTINGS_ANNOTATION;
use crate::format::digest::Digest;
use crate::format::layer_blob::LayerBlob;
use crate::format::manifest::{CONTAINERD_NAME, REF_NAME};
use crate::input::spec::ContainerConfig;
use crate::plan::image_plan::ImagePlan;

/// The documents of one image, as the exact bytes to write.
pub struct ImageDocuments {
    pub config: Vec<u8>,
    pub config_digest: Digest,
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    pub index: Vec<u8>,
    pub docker_manifest: Vec<u8>,
}

pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Serializes `value` with object keys sorted.
pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let tree = serde_json::to_value(value)?;
    Ok(serde_json::to_vec(&tree)?)
}

/// The config of the image whose layers have the uncompressed digests
/// `diff_ids`, as the exact bytes to write.
pub fn config(plan: &ImagePlan, diff_ids: &[Digest]) -> Result<Vec<u8>> {
    canonical_json(&image_config(plan, diff_ids)?)
}

/// Every document of the image whose layers are `blobs`.
pub fn documents(plan: &ImagePlan, blobs: &[LayerBlob]) -> Result<ImageDocuments> {
    let diff_ids: Vec<Digest> = blobs.iter().map(|b| b.diff_id).collect();
    let config = config(plan, &diff_ids)?;
    let config_digest = Digest::of(&config);
    let mut manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            MediaType::ImageConfig,
            config.len() as u64,
            &config_digest,
        )?)
        .layers(
            blobs
                .iter()
                .map(layer_descriptor)
                .collect::<Result<Vec<_>>>()?,
        )
        .build()?;
    // No annotations, no field: the manifests of images without them stay
    // as they were.
    if !plan.spec.annotations.is_empty() {
        manifest.set_annotations(Some(plan.spec.annotations.clone().into_iter().collect()));
    }
    let manifest = canonical_json(&manifest)?;
    let manifest_digest = Digest::of(&manifest);

    let spec = &plan.spec;
    let mut annotations: HashMap<String, String> = spec.annotations.clone().into_iter().collect();
    annotations.extend([
        (REF_NAME.to_owned(), spec.tag().to_owned()),
        (
            CONTAINERD_NAME.to_owned(),
            fully_qualified(&spec.repo_tag()),
        ),
    ]);
    let index_entry = DescriptorBuilder::default()
        .media_type(MediaType::ImageManifest)
        .size(manifest.len() as u64)
        .digest(oci_digest(&manifest_digest)?)
        .annotations(annotations)
        .build()?;
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![index_entry])
        .build()?;
    let index = canonical_json(&index)?;

    let docker_manifest = canonical_json(&[DockerManifestEntry {
        config: config_digest.blob_path(),
        repo_tags: vec![spec.repo_tag()],
        layers: blobs.iter().map(|b| b.digest.blob_path()).collect(),
    }])?;

    Ok(ImageDocuments {
        config,
        config_digest,
        manifest,
        manifest_digest,
        index,
        docker_manifest,
    })
}

/// `hello:1` → `docker.io/library/hello:1`, as Docker names images.
pub fn fully_qualified(repo_tag: &str) -> String {
    let (registry, repository) = crate::format::reference::split_registry(repo_tag);
    format!("{registry}/{repository}")
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

fn oci_digest(digest: &Digest) -> Result<oci_spec::image::Digest> {
    digest
        .to_string()
        .parse()
        .with_context(|| format!("{digest} is not a valid OCI digest"))
}

fn descriptor(media_type: MediaType, size: u64, digest: &Digest) -> Result<Descriptor> {
    Ok(Descriptor::new(media_type, size, oci_digest(digest)?))
}

fn layer_descriptor(blob: &LayerBlob) -> Result<Descriptor> {
    let mut descriptor = descriptor(
        MediaType::from(blob.media_type.as_str()),
        blob.size,
        &blob.digest,
    )?;
    if let Some(settings) = &blob.settings {
        descriptor.set_annotations(Some(HashMap::from([(
            SETTINGS_ANNOTATION.to_owned(),
            settings.clone(),
        )])));
    }
    Ok(descriptor)
}

fn image_config(plan: &ImagePlan, diff_ids: &[Digest]) -> Result<serde_json::Value> {
    let spec = &plan.spec;
    let created = spec.created.rfc3339();
    let own_history = plan
        .layers
        .iter()
        .filter(|layer| layer.base.is_none())
        .map(|layer| {
            HistoryBuilder::default()
                .created(created.clone())
                .created_by(layer.summary())
                .build()
                .map(serde_json::to_value)
        })
        .collect::<Result<Result<Vec<_>, _>, _>>()??;
    let (runtime, mut history) = match &plan.base {
        Some(base) => (spec.config.inherit_from(&base.config), base.history.clone()),
        None => (spec.config.clone(), Vec::new()),
    };
    history.extend(own_history);
    let mut builder = ImageConfigurationBuilder::default()
        .created(created.clone())
        .architecture(Arch::from(spec.architecture()))
        .os(Os::from(spec.os.as_str()))
        .config(runtime_config(&runtime)?)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(diff_ids.iter().map(Digest::to_string).collect::<Vec<_>>())
                .build()?,
        );
    if let Some(variant) = &spec.variant {
        builder = builder.variant(variant.clone());
    }
    let mut value = serde_json::to_value(builder.build()?)?;
    value["history"] = serde_json::Value::Array(history);
    if let Some(check) = &runtime.healthcheck {
        value["config"]["Healthcheck"] = serde_json::Value::Object(check.clone());
    }
    Ok(value)
}

fn runtime_config(config: &ContainerConfig) -> Result<oci_spec::image::Config> {
    let mut builder = ConfigBuilder::default();
    if let Some(user) = &config.user {
        builder = builder.user(user.clone());
    }
    if !config.exposed_ports.is_empty() {
        builder = builder.exposed_ports(config.exposed_ports.iter().cloned().collect::<Vec<_>>());
    }
    if !config.env.is_empty() {
        builder = builder.env(config.env.clone());
    }
    if let Some(entrypoint) = &config.entrypoint {
        builder = builder.entrypoint(entrypoint.clone());
    }
    if let Some(cmd) = &config.cmd {
        builder = builder.cmd(cmd.clone());
    }
    if !config.volumes.is_empty() {
        builder = builder.volumes(config.volumes.iter().cloned().collect::<Vec<_>>());
    }
    if let Some(dir) = &config.working_dir {
        builder = builder.working_dir(dir.clone());
    }
    if !config.labels.is_empty() {
        builder = builder.labels(config.labels.clone().into_iter().collect::<HashMap<_, _>>());
    }
    if let Some(signal) = &config.stop_signal {
        builder = builder.stop_signal(signal.clone());
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys() {
        let map = HashMap::from([("b", 1), ("a", 2), ("c", 3)]);
        assert_eq!(canonical_json(&map).unwrap(), br#"{"a":2,"b":1,"c":3}"#);
    }

    #[test]
    fn names_are_qualified_as_docker_does() {
        assert_eq!(fully_qualified("hello:1"), "docker.io/library/hello:1");
        assert_eq!(fully_qualified("team/app:x"), "docker.io/team/app:x");
        assert_eq!(fully_qualified("localhost:5000/a:b"), "localhost:5000/a:b");
        assert_eq!(fully_qualified("quay.io/a/b:c"), "quay.io/a/b:c");
    }
}
