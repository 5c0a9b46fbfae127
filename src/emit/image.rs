//! Emitting: an [`ImagePlan`] to bytes.
//!
//! Layers are written in parallel, one task per layer, largest first; each
//! layer's sha256 is computed as it is written. A layer's bytes depend only on
//! its plan entry and the store, so they can be written now into a file, or
//! later into a stream, and come out the same.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use crate::emit::archive::{self, BLOB_HEADER_LEN};
use crate::emit::compress::Encoder;
use crate::emit::description::{ImageDescription, LayerTar};
use crate::emit::layer::{self, COPY_BUFFER};
use crate::emit::layer_source::{self, EarlierTars};
use crate::emit::oci;
use crate::emit::output::{self, OUTPUT_BUFFER, OutputMode, PositionedWriter};
use crate::format::compression::{Compressor, Encoding};
use crate::format::digest::{Digest, HashingWriter};
use crate::format::layer_blob::LayerBlob;
use crate::format::tar_format;
use crate::input::spec::{Delivery, ImageFormat};
use crate::plan::image_plan::ImagePlan;

/// A layer as written: its blob, and the size of its tar (of its blob, for
/// a base image's layer, which is carried as it is).
struct Written {
    blob: LayerBlob,
    tar_size: u64,
}

/// Writes layer `index` of `plan` to `out` as `encoding` says, hashing the
/// tar and the compressed bytes on the way (an uncompressed layer's digest
/// is its diff_id: it is hashed once). `workers` is how many threads zstd
/// may use (it does not change the bytes).
fn write_layer_blob<W: Write>(
    plan: &ImagePlan,
    index: usize,
    encoding: Encoding,
    out: W,
    buffer: &mut [u8],
    workers: u32,
) -> Result<(Written, W)> {
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
        let written = Written {
            blob: base.blob.clone(),
            tar_size: size,
        };
        return Ok((written, out));
    }
    let media_type = encoding.media_type().to_owned();
    if encoding.compressor == Compressor::None {
        let (digest, size, out) = write_tar(plan, index, out, buffer)?;
        let blob = LayerBlob {
            diff_id: digest,
            digest,
            size,
            media_type,
            settings: None,
        };
        return Ok((
            Written {
                blob,
                tar_size: size,
            },
            out,
        ));
    }
    let encoder = Encoder::for_encoding(encoding, workers, HashingWriter::new(out))?;
    let (diff_id, tar_size, encoder) = write_tar(plan, index, encoder, buffer)?;
    let (digest, size, out) = encoder.finish()?.finish();
    let blob = LayerBlob {
        diff_id,
        digest,
        size,
        media_type,
        settings: encoding.settings(),
    };
    Ok((Written { blob, tar_size }, out))
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

/// Writes layer `index` of `plan`, as `encoding` says, into a new file at
/// `path`.
fn write_layer_file(
    plan: &ImagePlan,
    index: usize,
    encoding: Encoding,
    path: &Path,
    buffer: &mut [u8],
    threads: usize,
) -> Result<Written> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let workers = compression_workers(plan, index, threads);
    let out = BufWriter::with_capacity(OUTPUT_BUFFER, file);
    let (written, out) = write_layer_blob(plan, index, encoding, out, buffer, workers)?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(written)
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

/// Hashes every layer's tar, compressing nothing: the description a
/// stream, a push or a load is later made from. A base image's layers are
/// described by what the base says of them, and a layer whose source (see
/// [`crate::emit::layer_source`]) an earlier version described takes that
/// description unread.
pub fn describe(
    plan: ImagePlan,
    threads: usize,
    nar_hashes: &BTreeMap<String, String>,
    earlier: &EarlierTars,
) -> Result<ImageDescription> {
    let layers = for_each_layer(&estimated_sizes(&plan), threads, |index, buffer| {
        if let Some(base) = &plan.layers[index].base {
            return Ok(LayerTar {
                diff_id: base.blob.diff_id,
                size: base.blob.size,
                source: None,
            });
        }
        let source = layer_source::source_of(&plan, index, nar_hashes)?;
        if let Some(tar) = source.as_ref().and_then(|s| earlier.get(s)) {
            return Ok(tar.clone());
        }
        let (diff_id, size, _) = write_tar(&plan, index, io::sink(), buffer)?;
        Ok(LayerTar {
            diff_id,
            size,
            source,
        })
    })?;
    ImageDescription::new(plan, layers)
}

/// Writes the image archive to `output`, its layers compressed as kept
/// images are; on any error nothing is left there. Returns the layers'
/// blobs.
pub fn build_archive(
    plan: ImagePlan,
    output: &Path,
    mode: OutputMode,
    threads: usize,
) -> Result<Vec<LayerBlob>> {
    let encoding = plan.spec.encoding(Delivery::Kept);
    if plan.spec.format == ImageFormat::OciDir {
        build_oci_dir(&plan, encoding, output, mode, threads)
    } else if encoding.compressor == Compressor::None {
        build_uncompressed_archive(&plan, output, mode, threads)
    } else {
        let scratch = compress_to_scratch(&plan, encoding, threads)?;
        output::write_file(output, mode, false, |out| {
            write_scratch_archive(&plan, &scratch, out)
        })?;
        Ok(scratch.blobs())
    }
}

/// Whether the archive carries Docker's `manifest.json`.
fn docker_manifest(plan: &ImagePlan) -> bool {
    plan.spec.format == ImageFormat::Docker
}

/// Writes the image as an OCI layout directory: each layer straight into
/// its blob file, in parallel.
fn build_oci_dir(
    plan: &ImagePlan,
    encoding: Encoding,
    output: &Path,
    mode: OutputMode,
    threads: usize,
) -> Result<Vec<LayerBlob>> {
    let mut layers = Vec::new();
    output::fill_dir(output, mode, |dir| {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs)
            .with_context(|| format!("cannot create {}", blobs.display()))?;
        layers = for_each_layer(&estimated_sizes(plan), threads, |index, buffer| {
            let temp = blobs.join(format!(".layer-{index}"));
            let written = write_layer_file(plan, index, encoding, &temp, buffer, threads)?;
            std::fs::rename(&temp, blobs.join(written.blob.digest.hex()))?;
            Ok(written.blob)
        })?;
        let documents = oci::documents(plan, &layers)?;
        for (name, bytes) in archive::tail_files(&documents, false) {
            let path = dir.join(&name);
            std::fs::write(&path, bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    })?;
    Ok(layers)
}

/// Compressed layers, each in a scratch file (a base image's layers stay in
/// the base, to be copied from there).
struct ScratchLayers {
    _dir: tempfile::TempDir,
    layers: Vec<(Written, Option<PathBuf>)>,
}

impl ScratchLayers {
    fn blobs(&self) -> Vec<LayerBlob> {
        self.layers.iter().map(|(w, _)| w.blob.clone()).collect()
    }
}

/// A compressed layer has no size until it is written, and an archive
/// names each blob's size before its bytes: every layer is compressed
/// first, in parallel, into a scratch file.
fn compress_to_scratch(
    plan: &ImagePlan,
    encoding: Encoding,
    threads: usize,
) -> Result<ScratchLayers> {
    let dir = tempfile::Builder::new()
        .prefix("strata-layers-")
        .tempdir()
        .context("cannot create a scratch directory for the layers")?;
    let layers = for_each_layer(&estimated_sizes(plan), threads, |index, buffer| {
        if let Some(base) = &plan.layers[index].base {
            let written = Written {
                blob: base.blob.clone(),
                tar_size: base.blob.size,
            };
            return Ok((written, None));
        }
        let path = dir.path().join(format!("layer-{index}"));
        let written = write_layer_file(plan, index, encoding, &path, buffer, threads)?;
        Ok((written, Some(path)))
    })?;
    Ok(ScratchLayers { _dir: dir, layers })
}

/// Writes the archive of `plan` whose layers are in `scratch`, front to
/// back.
fn write_scratch_archive<W: Write>(
    plan: &ImagePlan,
    scratch: &ScratchLayers,
    out: &mut W,
) -> Result<()> {
    let documents = oci::documents(plan, &scratch.blobs())?;
    archive::write_prefix(out)?;
    let mut buffer = vec![0u8; COPY_BUFFER];
    for (index, (written, path)) in scratch.layers.iter().enumerate() {
        let blob = &written.blob;
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
                let encoding = Encoding::new(Compressor::None, None);
                write_layer_blob(plan, index, encoding, &mut *out, &mut buffer, 1)?;
            }
        }
        tar_format::write_padding(out, blob.size)?;
    }
    archive::write_tail(out, &documents, docker_manifest(plan))
}

/// Every uncompressed layer's size is known from metadata before any is
/// written, so the archive is laid out first and each layer is written
/// straight to its place in the file, in parallel: every byte is written once.
fn build_uncompressed_archive(
    plan: &ImagePlan,
    output: &Path,
    mode: OutputMode,
    threads: usize,
) -> Result<Vec<LayerBlob>> {
    let attrs = plan.entry_rules()?;
    let sizes = for_each_layer(&estimated_sizes(plan), threads, |index, _| {
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
            write_layer_at(plan, index, file, offsets[index], sizes[index], buffer)
        })?;
        let documents = oci::documents(plan, &blobs)?;
        let mut tail =
            BufWriter::with_capacity(OUTPUT_BUFFER, PositionedWriter::new(file, layers_end));
        archive::write_tail(&mut tail, &documents, docker_manifest(plan))?;
        tail.flush()
            .with_context(|| format!("cannot write {}", output.display()))
    })?;
    Ok(blobs)
}

/// Writes uncompressed layer `index`, whose tar has `size` bytes, as the
/// blob entry at `offset` of `file`.
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
    let encoding = Encoding::new(Compressor::None, None);
    let (written, data) = write_layer_blob(plan, index, encoding, data, buffer, 1)?;
    data.into_inner().map_err(|e| e.into_error())?;
    let blob = written.blob;
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

/// Checks a layer regenerated from the store against the description: its
/// tar must have the recorded diff_id and size.
fn check_regenerated(
    description: &ImageDescription,
    index: usize,
    written: &Written,
) -> Result<()> {
    let recorded = &description.layers[index];
    if written.blob.diff_id != recorded.diff_id || written.tar_size != recorded.size {
        bail!(
            "layer {} no longer matches its recorded digest (recorded {} of {} bytes, now {} of {} bytes); the store paths it holds changed or are not reproducible: {}",
            index + 1,
            recorded.diff_id,
            recorded.size,
            written.blob.diff_id,
            written.tar_size,
            description.plan.layers[index].summary()
        );
    }
    Ok(())
}

/// Writes the blob of layer `index` of `description` to `out`, regenerated
/// from the store and compressed as `encoding` says; returns the blob. When
/// its tar no longer matches the recorded diff_id, the error names the
/// layer and its paths (the bytes have gone to `out` by then: a consumer
/// must not take them as complete before this returns).
pub fn regenerate_layer<W: Write>(
    description: &ImageDescription,
    index: usize,
    encoding: Encoding,
    out: W,
    buffer: &mut [u8],
) -> Result<(LayerBlob, W)> {
    let workers = compression_workers(&description.plan, index, 0);
    let (written, out) =
        write_layer_blob(&description.plan, index, encoding, out, buffer, workers)?;
    check_regenerated(description, index, &written)?;
    Ok((written.blob, out))
}
