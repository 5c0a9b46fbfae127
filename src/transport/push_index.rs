//! Pushing an image index: every platform's blobs and manifest (with its
//! bill of materials), from the index's layout in the store, then the index
//! under the tag. Until the last step nothing is tagged, so a push that
//! fails leaves the tag as it was.

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::emit::index::IndexDescription;
use crate::emit::sbom::bill::BuiltImage;
use crate::format::digest::Digest;
use crate::format::manifest::INDEX_TYPES;
use crate::input::image_layout::{self, ImageLayout, IndexLayout};
use crate::transport::push::{self, Outcome, PushOptions, PushSummary};
use crate::transport::registry::Client;

pub fn push_index(index: &IndexDescription, options: &PushOptions) -> Result<PushSummary> {
    let layout = IndexLayout::open(&index.layout)?;
    let images = &layout.images;
    let (destination, client) = push::connect(options, &format!("{}:{}", index.name, index.tag))?;
    let blobs = image_layout::distinct_blobs(images);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()?;
    let outcomes = pool.install(|| {
        blobs
            .par_iter()
            .map(|(image, blob)| {
                send_blob(&client, options, image, &blob.digest, blob.size)
                    .with_context(|| format!("cannot push blob {} to {destination}", blob.digest))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let mut sboms = Vec::new();
    for image in images {
        let sent = put_manifest(&client, index, image, options).with_context(|| {
            format!(
                "cannot push the manifest for {} to {destination}",
                image.platform
            )
        })?;
        sboms.extend(sent);
    }
    client
        .put_manifest(&destination.tag, &layout.index, INDEX_TYPES[0])
        .with_context(|| format!("cannot tag the index as {destination}"))?;
    let mut summary = PushSummary {
        destination: destination.to_string(),
        sboms,
        ..PushSummary::default()
    };
    for outcome in outcomes {
        summary.count(outcome);
    }
    Ok(summary)
}

/// Puts the manifest of `image` by its digest, with its bill of materials
/// unless `options` say not to; returns the bill's digest.
fn put_manifest(
    client: &Client,
    index: &IndexDescription,
    image: &ImageLayout,
    options: &PushOptions,
) -> Result<Option<Digest>> {
    let description = index.image_for(&image.platform)?;
    let built = BuiltImage::of_layout(image, &description.plan)?;
    let sbom = push::send_sbom(
        client,
        description,
        &image.manifest,
        &image.media_type,
        &built,
        options,
    )?;
    if sbom.is_none() {
        client.put_manifest(
            &image.manifest_digest.to_string(),
            &image.manifest,
            &image.media_type,
        )?;
    }
    Ok(sbom)
}

fn send_blob(
    client: &Client,
    options: &PushOptions,
    image: &ImageLayout,
    digest: &Digest,
    size: u64,
) -> Result<Outcome> {
    if client.blob_size(digest)? == Some(size) {
        return Ok(Outcome::Skipped(size));
    }
    if let Some(from) = &options.mount_from
        && client.mount_blob(digest, from)?
    {
        return Ok(Outcome::Mounted(size));
    }
    client.upload_blob(digest, || Ok(image.open_blob(digest)?.0))?;
    Ok(Outcome::Uploaded(size))
}
