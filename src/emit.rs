//! Emitting: an [`ImagePlan`] to bytes.
//!
//! Layers are written in parallel, one task per layer, largest first; each
//! layer's sha256 is computed as it is written. A layer's bytes depend only on
//! its plan entry and the store, so they can be written now to a file, or
//! later to a stream, and come out the same.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::archive::ArchiveWriter;
use crate::digest::HashingWriter;
use crate::layer::{self, COPY_BUFFER};
use crate::oci::{self, ImageDocuments, LayerBlob};
use crate::output::{self, OutputMode};
use crate::plan::ImagePlan;

const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";
/// Buffer of each layer's scratch file.
const SCRATCH_BUFFER: usize = 1 << 20;

/// A plan with the digests of its layers: everything needed to write the
/// archive in one pass, later, from the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDescription {
    pub plan: ImagePlan,
    pub layers: Vec<LayerBlob>,
}

/// Writes layer `index` of `plan` to `out`, hashing it on the way.
fn write_layer_blob<W: Write>(
    plan: &ImagePlan,
    index: usize,
    out: W,
    buffer: &mut [u8],
) -> Result<(LayerBlob, W)> {
    let mut hashing = HashingWriter::new(out);
    layer::write_layer(
        &plan.layers[index],
        &plan.store_dir,
        &plan.entry_attrs(),
        &mut hashing,
        buffer,
    )
    .with_context(|| format!("while writing layer {}", index + 1))?;
    let (digest, size, out) = hashing.finish();
    let blob = LayerBlob {
        diff_id: digest,
        digest,
        size,
        media_type: LAYER_MEDIA_TYPE.to_owned(),
    };
    Ok((blob, out))
}

/// Runs `work` for every layer on `threads` threads (0: one per core),
/// largest layers first, and returns the results in layer order.
fn for_each_layer<T: Send>(
    plan: &ImagePlan,
    threads: usize,
    work: impl Fn(usize, &mut [u8]) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("strata-layer-{i}"))
        .build()
        .context("cannot start the worker threads")?;
    let mut order: Vec<usize> = (0..plan.layers.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(plan.layers[i].estimated_size()));
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..plan.layers.len()).map(|_| None).collect());
    pool.install(|| {
        order.into_iter().par_bridge().try_for_each_init(
            || vec![0u8; COPY_BUFFER],
            |buffer, index| -> Result<()> {
                let result = work(index, buffer)?;
                results.lock().expect("no worker panics holding the lock")[index] = Some(result);
                Ok(())
            },
        )
    })?;
    Ok(results
        .into_inner()
        .expect("no worker panics holding the lock")
        .into_iter()
        .map(|r| r.expect("every layer was written"))
        .collect())
}

/// Hashes every layer without keeping its bytes: the description a stream
/// or a push is later made from.
pub fn describe(plan: ImagePlan, threads: usize) -> Result<ImageDescription> {
    let layers = for_each_layer(&plan, threads, |index, buffer| {
        Ok(write_layer_blob(&plan, index, io::sink(), buffer)?.0)
    })?;
    Ok(ImageDescription { plan, layers })
}

/// Writes the image archive to `output`; on any error nothing is left there.
pub fn build_archive(
    plan: ImagePlan,
    output: &Path,
    mode: OutputMode,
    threads: usize,
) -> Result<ImageDescription> {
    let scratch = tempfile::Builder::new()
        .prefix("strata-layers-")
        .tempdir()
        .context("cannot create a scratch directory for the layers")?;
    let layer_files: Vec<(LayerBlob, PathBuf)> =
        for_each_layer(&plan, threads, |index, buffer| {
            let path = scratch.path().join(format!("layer-{index}.tar"));
            let file =
                File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            let (blob, out) = write_layer_blob(
                &plan,
                index,
                BufWriter::with_capacity(SCRATCH_BUFFER, file),
                buffer,
            )?;
            out.into_inner().map_err(|e| e.into_error())?;
            Ok((blob, path))
        })?;
    let blobs: Vec<LayerBlob> = layer_files.iter().map(|(b, _)| b.clone()).collect();
    let documents = oci::documents(&plan, &blobs)?;
    output::write_file(output, mode, false, |out| {
        let mut archive = ArchiveWriter::new(out)?;
        for (blob, path) in &layer_files {
            archive.blob(&blob.digest, blob.size, |out| {
                let mut file = File::open(path)?;
                let copied = io::copy(&mut file, out)?;
                if copied != blob.size {
                    bail!(
                        "layer file {} changed while the archive was written",
                        path.display()
                    );
                }
                Ok(())
            })?;
        }
        archive.finish(&documents)?;
        Ok(())
    })?;
    Ok(ImageDescription {
        plan,
        layers: blobs,
    })
}

/// Writes the archive described by `description` to `out`, regenerating each
/// layer from the store. A layer whose bytes no longer match its recorded
/// digest stops the stream with an error naming the layer and its paths.
pub fn stream_archive<W: Write>(description: &ImageDescription, out: W) -> Result<W> {
    let plan = &description.plan;
    if plan.layers.len() != description.layers.len() {
        bail!(
            "the image description is inconsistent: {} planned layers but {} digests",
            plan.layers.len(),
            description.layers.len()
        );
    }
    let documents: ImageDocuments = oci::documents(plan, &description.layers)?;
    let mut buffer = vec![0u8; COPY_BUFFER];
    let mut archive = ArchiveWriter::new(out)?;
    for (index, recorded) in description.layers.iter().enumerate() {
        archive.blob(&recorded.digest, recorded.size, |out| {
            let (actual, _) = write_layer_blob(plan, index, &mut *out, &mut buffer)?;
            if actual.digest != recorded.digest || actual.size != recorded.size {
                bail!(
                    "layer {} no longer matches its recorded digest (recorded {} of {} bytes, now {} of {} bytes); the store paths it holds changed or are not reproducible: {}",
                    index + 1,
                    recorded.digest,
                    recorded.size,
                    actual.digest,
                    actual.size,
                    plan.layers[index].summary()
                );
            }
            Ok(())
        })?;
    }
    archive.finish(&documents)
}
