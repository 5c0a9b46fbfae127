//! mergeImages: the images of several docker-archives in one, which
//! `docker load` and `podman load` load as every image with its tags. A
//! blob the inputs share (a layer, a config) is written once; layers are
//! copied as they are, compressed or not.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use serde::Serialize;

use crate::emit::archive;
use crate::emit::oci::canonical_json;
use crate::emit::output::{self, OutputMode};
use crate::format::digest::Digest;
use crate::format::tar_format;
use crate::input::base_image::{self, ArchivedImage, BaseLayer};

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

/// Writes the images of `inputs` as one docker-archive at `output`; on any
/// error nothing is left there. A tag that two inputs give is an error
/// naming both.
pub fn merge(inputs: &[PathBuf], output: &Path, mode: OutputMode) -> Result<()> {
    if inputs.is_empty() {
        bail!("mergeImages needs at least one image");
    }
    let mut images: Vec<(&Path, ArchivedImage)> = Vec::new();
    for input in inputs {
        for image in base_image::read_docker_images(input)? {
            images.push((input, image));
        }
    }
    let mut tagged: BTreeMap<&str, &Path> = BTreeMap::new();
    for (input, image) in &images {
        for tag in &image.repo_tags {
            if let Some(earlier) = tagged.insert(tag, input) {
                bail!(
                    "{} and {} both hold an image tagged {tag}; a merged archive gives each tag one image",
                    earlier.display(),
                    input.display()
                );
            }
        }
    }
    let mut manifest = Vec::new();
    let mut configs: BTreeMap<Digest, &[u8]> = BTreeMap::new();
    let mut layers: BTreeMap<Digest, &BaseLayer> = BTreeMap::new();
    let mut layer_order: Vec<Digest> = Vec::new();
    for (_, image) in &images {
        let config = Digest::of(&image.config);
        configs.insert(config, &image.config);
        for layer in &image.layers {
            if layers.insert(layer.blob.digest, layer).is_none() {
                layer_order.push(layer.blob.digest);
            }
        }
        manifest.push(ManifestEntry {
            config: config.blob_path(),
            repo_tags: image.repo_tags.clone(),
            layers: image
                .layers
                .iter()
                .map(|l| l.blob.digest.blob_path())
                .collect(),
        });
    }
    let manifest = canonical_json(&manifest)?;
    output::write_file(output, mode, false, |out| {
        archive::write_prefix(out)?;
        for digest in &layer_order {
            let layer = layers[digest];
            archive::write_blob_header(out, digest, layer.blob.size)?;
            layer.copy_to(out)?;
            tar_format::write_padding(out, layer.blob.size)?;
        }
        for (digest, bytes) in &configs {
            archive::write_blob_header(out, digest, bytes.len() as u64)?;
            out.write_all(bytes)?;
            tar_format::write_padding(out, bytes.len() as u64)?;
        }
        archive::write_files(out, &[("manifest.json".to_owned(), &manifest)])?;
        tar_format::write_end(out)?;
        Ok(())
    })
}
