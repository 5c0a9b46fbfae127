//! Emitting: an [`ImagePlan`] to bytes.
//!
//! Layers are written in parallel, one task per layer, largest first; each
//! layer's sha256 is computed as it is written. A layer's bytes depend only on
//! its plan entry and the store, so they can be written now into a file, or
//! later into a stream, and come out the same.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use crate::archive::{self, BLOB_HEADER_LEN};
use crate::compress::{Compressor, Encoder};
use crate::description::ImageDescription;
use crate::digest::{Digest, HashingWriter};
use crate::layer::{self, COPY_BUFFER};
use crate::oci::{self, LayerBlob};
use crate::output::{self, OUTPUT_BUFFER, OutputMode, PositionedWriter};
use crate::plan::ImagePlan;
use crate::spec::ImageFormat;
use crate::tar_format;

/// Writes layer `index` of `plan` to `out`, compressed as the plan says,
/// hashing the tar and the compressed bytes on the way (an uncompressed
/// layer's digest is its diff_id: it is hashed once). `workers` is how many
/// threads the compressor may use (it does not change the bytes).
fn write_layer_blob<W: Write>(
    plan: &ImagePlan,
    index: usize,
    out: W,
    buffer: &mut [u8],
    workers: u32,
) -> Result<(LayerBlob, W)> {
    if let Some(base) = &plan.layers[index].base {
        let mut hashing = HashingWriter::new(out);
        base.copy_to(&mut hashing)
            .with_context(|| format!("while copying layer {} from the base image", index + 1))?;
        let (digest, size, out) = hashing.finish();
        if digest != base.blob.digest || size != base.blob.size {
            bail!(
                "layer {} of the base image {} ({}) now has digest {digest} and {size} bytes, not {} and {} bytes; the base image changed",
                index + 1,
                base.image.display(),
                base.entry,
                base.blob.digest,
                base.blob.size
            );
        }
        return Ok((base.blob.clone(), out));
    }
    let spec = &plan.spec;
    let media_type = spec.compressor.media_type().to_owned();
    if spec.compressor == Compressor::None {
        let (digest, size, out) = write_tar(plan, index, out, buffer)?;
        let blob = LayerBlob {
            diff_id: digest,
            digest,
            size,
            media_type,
        };
        return Ok((blob, out));
    }
    let encoder = Encoder::new(
        spec.compressor,
        spec.compression_level,
        workers,
        HashingWriter::new(out),
    )?;
    let (diff_id, _, encoder) = write_tar(plan, index, encoder, buffer)?;
    let (digest, size, out) = encoder.finish()?.finish();
    let blob = LayerBlob {
        diff_id,
        digest,
        size,
        media_type,
    };
    Ok((blob, out))
}

/// Writes the tar of layer `index` to `out`; returns its digest and size.
fn write_tar<W: Write>(
    plan: &ImagePlan,
    index: usize,
    out: W,
    buffer: &mut [u8],
) -> Result<(Digest, u64, W)> {
    let tar = layer::write_layer(
        &plan.layers[index],
        &plan.store_dir,
        &plan.entry_rules()?,
        HashingWriter::new(out),
        buffer,
    )
    .with_context(|| format!("while writing layer {}", index + 1))?;
    Ok(tar.finish())
}

/// Writes layer `index` of `plan` into a new file at `path`.
fn write_layer_file(
    plan: &ImagePlan,
    index: usize,
    path: &Path,
    buffer: &mut [u8],
    threads: usize,
) -> Result<LayerBlob> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let workers = compression_workers(plan, index, threads);
    let out = BufWriter::with_capacity(OUTPUT_BUFFER, file);
    let (blob, out) = write_layer_blob(plan, index, out, buffer, workers)?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(blob)
}

/// Threads for compressing layer `index`: its share of all cores, by size.
fn compression_workers(plan: &ImagePlan, index: usize, threads: usize) -> u32 {
    let cores = if threads == 0 {
        rayon::current_num_threads()
    } else {
        threads
    };
    let total: u64 = plan.layers.iter().map(|l| l.estimated_size()).sum();
    let share =
        plan.layers[index].estimated_size() as u128 * cores as u128 / u128::from(total.max(1));
    u32::try_from(share.clamp(1, cores as u128)).unwrap_or(1)
}

/// Runs `work` for every layer on `threads` threads (0: one per core),
/// heaviest layers (by `weights`) first, and returns the results in layer
/// order.
fn for_each_layer<T: Send>(
    weights: &[u64],
    threads: usize,
    work: impl Fn(usize, &mut [u8]) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("strata-layer-{i}"))
        .build()
        .context("cannot start the worker threads")?;
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(weights[i]));
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..weights.len()).map(|_| None).collect());
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

fn estimated_sizes(plan: &ImagePlan) -> Vec<u64> {
    plan.layers.iter().map(|l| l.estimated_size()).collect()
}

/// Hashes every layer without keeping its bytes: the description a stream
/// or a push is later made from.
pub fn describe(plan: ImagePlan, threads: usize) -> Result<ImageDescription> {
    let layers = for_each_layer(&estimated_sizes(&plan), threads, |index, buffer| {
        let workers = compression_workers(&plan, index, threads);
        Ok(write_layer_blob(&plan, index, io::sink(), buffer, workers)?.0)
    })?;
    ImageDescription::new(plan, layers)
}

/// Writes the image archive to `output`; on any error nothing is left there.
pub fn build_archive(
    plan: ImagePlan,
    output: &Path,
    mode: OutputMode,
    threads: usize,
) -> Result<ImageDescription> {
    if plan.spec.format == ImageFormat::OciDir {
        build_oci_dir(plan, output, mode, threads)
    } else if plan.spec.compressor == Compressor::None {
        build_uncompressed_archive(plan, output, mode, threads)
    } else {
        build_compressed_archive(plan, output, mode, threads)
    }
}

/// Whether the archive carries Docker's `manifest.json`.
fn docker_manifest(plan: &ImagePlan) -> bool {
    plan.spec.format == ImageFormat::Docker
}

/// Writes the image as an OCI layout directory: each layer straight into
/// its blob file, in parallel.
fn build_oci_dir(
    plan: ImagePlan,
    output: &Path,
    mode: OutputMode,
    threads: usize,
) -> Result<ImageDescription> {
    let mut layers = Vec::new();
    output::fill_dir(output, mode, |dir| {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs)
            .with_context(|| format!("cannot create {}", blobs.display()))?;
        layers = for_each_layer(&estimated_sizes(&plan), threads, |index, buffer| {
            let temp = blobs.join(format!(".layer-{index}"));
            let blob = write_layer_file(&plan, index, &temp, buffer, threads)?;
            std::fs::rename(&temp, blobs.join(blob.digest.hex()))?;
            Ok(blob)
        })?;
        let documents = oci::documents(&plan, &layers)?;
        for (name, bytes) in archive::tail_files(&documents, false) {
            let path = dir.join(&name);
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    })?;
    ImageDescription::new(plan, layers)
}

/// Compressed layers have no size until they are written: each is written
/// to a scratch file, in parallel, and the archive is assembled from them.
fn build_compressed_archive(
    plan: ImagePlan,
    output: &Path,
    mode: OutputMode,
    threads: usize,
) -> Result<ImageDescription> {
    let scratch = tempfile::Builder::new()
        .prefix("strata-layers-")
        .tempdir()
        .context("cannot create a scratch directory for the layers")?;
    // A base image's layers are already compressed, with known digests:
    // they are copied (and checked) straight into the archive.
    let written: Vec<(LayerBlob, Option<std::path::PathBuf>)> =
        for_each_layer(&estimated_sizes(&plan), threads, |index, buffer| {
            if let Some(base) = &plan.layers[index].base {
                return Ok((base.blob.clone(), None));
            }
            let path = scratch.path().join(format!("layer-{index}"));
            Ok((
                write_layer_file(&plan, index, &path, buffer, threads)?,
                Some(path),
            ))
        })?;
    let blobs: Vec<LayerBlob> = written.iter().map(|(blob, _)| blob.clone()).collect();
    let documents = oci::documents(&plan, &blobs)?;
    output::write_file(output, mode, false, |out| {
        archive::write_prefix(out)?;
        let mut buffer = vec![0u8; COPY_BUFFER];
        for (index, (blob, path)) in written.iter().enumerate() {
            archive::write_blob_header(out, &blob.digest, blob.size)?;
            match path {
                Some(path) => {
                    let copied = io::copy(&mut File::open(path)?, out)?;
                    if copied != blob.size {
                        bail!(
                            "the scratch file {} changed while the archive was written",
                            path.display()
                        );
                    }
                }
                None => {
                    write_layer_blob(&plan, index, &mut *out, &mut buffer, 1)?;
                }
            }
            tar_format::write_padding(out, blob.size)?;
        }
        archive::write_tail(out, &documents, docker_manifest(&plan))
    })?;
    ImageDescription::new(plan, blobs)
}

/// Every uncompressed layer's size is known from metadata before any is
/// written, so the archive is laid out first and each layer is written
/// straight to its place in the file, in parallel: every byte is written once.
fn build_uncompressed_archive(
    plan: ImagePlan,
    output: &Path,
    mode: OutputMode,
    threads: usize,
) -> Result<ImageDescription> {
    let attrs = plan.entry_rules()?;
    let sizes = for_each_layer(&estimated_sizes(&plan), threads, |index, _| {
        let layer = &plan.layers[index];
        match &layer.base {
            Some(base) => Ok(base.blob.size),
            None => layer::layer_size(layer, &plan.store_dir, &attrs)
                .with_context(|| format!("while reading layer {}", index + 1)),
        }
    })?;
    let mut offsets = Vec::with_capacity(sizes.len());
    let mut layers_end = archive::PREFIX_LEN;
    for size in &sizes {
        offsets.push(layers_end);
        layers_end += archive::blob_entry_len(*size);
    }
    let mut blobs = Vec::new();
    output::fill_file(output, mode, false, |file| {
        file.set_len(layers_end)
            .with_context(|| format!("cannot size {}", output.display()))?;
        archive::write_prefix(&mut PositionedWriter::new(file, 0))?;
        blobs = for_each_layer(&sizes, threads, |index, buffer| {
            write_layer_at(&plan, index, file, offsets[index], sizes[index], buffer)
        })?;
        let documents = oci::documents(&plan, &blobs)?;
        let mut tail =
            BufWriter::with_capacity(OUTPUT_BUFFER, PositionedWriter::new(file, layers_end));
        archive::write_tail(&mut tail, &documents, docker_manifest(&plan))?;
        tail.flush()
            .with_context(|| format!("cannot write {}", output.display()))
    })?;
    ImageDescription::new(plan, blobs)
}

/// Writes layer `index`, whose tar has `size` bytes, as the blob entry at
/// `offset` of `file`.
fn write_layer_at(
    plan: &ImagePlan,
    index: usize,
    file: &File,
    offset: u64,
    size: u64,
    buffer: &mut [u8],
) -> Result<LayerBlob> {
    let data = BufWriter::with_capacity(
        OUTPUT_BUFFER,
        PositionedWriter::new(file, offset + BLOB_HEADER_LEN),
    );
    let (blob, data) = write_layer_blob(plan, index, data, buffer, 1)?;
    data.into_inner().map_err(|e| e.into_error())?;
    if blob.size != size {
        bail!(
            "layer {} changed while it was written ({size} bytes planned, {} written); is something modifying the store? It holds: {}",
            index + 1,
            blob.size,
            plan.layers[index].summary()
        );
    }
    archive::write_blob_header(&mut PositionedWriter::new(file, offset), &blob.digest, size)?;
    Ok(blob)
}

/// Writes the blob of layer `index` of `description` to `out`, regenerated
/// from the store. When its bytes no longer match the recorded digest, the
/// error names the layer and its paths (the bytes have gone to `out` by then:
/// a consumer must not take them as complete before this returns).
pub fn regenerate_layer<W: Write>(
    description: &ImageDescription,
    index: usize,
    out: W,
    buffer: &mut [u8],
) -> Result<W> {
    let plan = &description.plan;
    let recorded = &description.layers[index];
    let workers = compression_workers(plan, index, 0);
    let (actual, out) = write_layer_blob(plan, index, out, buffer, workers)?;
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
    Ok(out)
}

/// Writes the archive described by `description` to `out`, regenerating each
/// layer from the store. A layer whose bytes no longer match its recorded
/// digest stops the stream with an error naming the layer and its paths.
pub fn stream_archive<W: Write>(description: &ImageDescription, mut out: W) -> Result<W> {
    let plan = &description.plan;
    if plan.spec.format == ImageFormat::OciDir {
        bail!(
            "an image in the oci-dir format is a directory and cannot be streamed; use the docker or oci-archive format"
        );
    }
    let documents = description.documents()?;
    let mut buffer = vec![0u8; COPY_BUFFER];
    archive::write_prefix(&mut out)?;
    for (index, recorded) in description.layers.iter().enumerate() {
        archive::write_blob_header(&mut out, &recorded.digest, recorded.size)?;
        out = regenerate_layer(description, index, out, &mut buffer)?;
        tar_format::write_padding(&mut out, recorded.size)?;
    }
    archive::write_tail(&mut out, &documents, docker_manifest(plan))?;
    Ok(out)
}
