//! Writing an image archive front to back, to a pipe or a socket, with the
//! layers after the one being written produced ahead on the other cores.
//!
//! One producer thread per core takes the layers in order, staying within
//! `AHEAD_LAYERS` layers of the writer. An uncompressed layer goes to the
//! writer in chunks through a bounded channel of its own, so a producer
//! that runs ahead waits once its layer has `AHEAD` chunks waiting; a
//! compressed one, whose size the archive must name before its bytes, is
//! compressed whole into a scratch file first. Memory stays within
//! `AHEAD_LAYERS × AHEAD` chunks, whatever the closure. Each layer is checked against its
//! recorded diff_id before the writer moves past it, and the archive's
//! index comes last: a stream that fails is never a complete archive.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Condvar, Mutex};

use anyhow::{Context, Result, bail};

use crate::emit::archive;
use crate::emit::description::ImageDescription;
use crate::emit::image;
use crate::emit::layer::COPY_BUFFER;
use crate::emit::oci;
use crate::emit::output::OUTPUT_BUFFER;
use crate::format::compression::Encoding;
use crate::format::layer_blob::LayerBlob;
use crate::format::tar_format;
use crate::input::spec::ImageFormat;

/// The bytes of one message from a producer.
const CHUNK: usize = 1 << 20;
/// Chunks a producer may have waiting for the writer.
const AHEAD: usize = 8;
/// How many layers, from the one being written, may be produced at once.
const AHEAD_LAYERS: usize = 4;

/// What a producer sends the writer of one layer.
enum Piece {
    Bytes(Vec<u8>),
    /// The layer is complete, with its blob: written to the channel before,
    /// or to a scratch file.
    Done(LayerBlob, Option<PathBuf>),
    Failed(anyhow::Error),
}

/// Writes the archive of `description` to `out`, its layers regenerated
/// from the store and compressed as `encoding` says.
pub fn write_archive<W: Write>(
    description: &ImageDescription,
    encoding: Encoding,
    mut out: W,
) -> Result<W> {
    let plan = &description.plan;
    if plan.spec.format == ImageFormat::OciDir {
        bail!(
            "an image in the oci-dir format is a directory and cannot be streamed; use the docker or oci-archive format"
        );
    }
    description.config_bytes()?;
    let count = plan.layers.len();
    let known: Vec<Option<LayerBlob>> = (0..count)
        .map(|index| description.known_blob(index, encoding))
        .collect();
    let scratch = match known.iter().any(Option::is_none) {
        true => Some(
            tempfile::Builder::new()
                .prefix("strata-stream-")
                .tempdir()
                .context("cannot create a scratch directory for the compressed layers")?,
        ),
        false => None,
    };
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..count)
        .map(|_| mpsc::sync_channel::<Piece>(AHEAD))
        .unzip();
    let progress = Progress::default();
    let producers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(count.max(1));
    let senders: Mutex<std::vec::IntoIter<(usize, SyncSender<Piece>)>> = Mutex::new(
        senders
            .into_iter()
            .enumerate()
            .collect::<Vec<_>>()
            .into_iter(),
    );
    std::thread::scope(|scope| {
        for _ in 0..producers {
            scope.spawn(|| {
                let mut buffer = vec![0u8; COPY_BUFFER];
                loop {
                    let next = senders
                        .lock()
                        .expect("no producer panics holding it")
                        .next();
                    let Some((index, sender)) = next else { break };
                    if !progress.wait_for_room(index) {
                        break;
                    }
                    let compressed = known[index].is_none();
                    let scratch_file = scratch
                        .as_ref()
                        .filter(|_| compressed)
                        .map(|dir| dir.path().join(format!("layer-{index}")));
                    let piece = match produce(
                        description,
                        index,
                        encoding,
                        scratch_file,
                        &sender,
                        &mut buffer,
                    ) {
                        Ok(piece) => piece,
                        Err(error) => Piece::Failed(error),
                    };
                    if sender.send(piece).is_err() {
                        break;
                    }
                }
            });
        }
        let written = write_in_order(description, &known, receivers, &progress, &mut out);
        // A writer that stopped early lets the producers stop too.
        progress.finish();
        written
    })?;
    Ok(out)
}

/// Produces layer `index`: its bytes through `sender` in chunks, or, when
/// `scratch_file` is given (a compressed layer), into that file. Returns
/// the last piece.
fn produce(
    description: &ImageDescription,
    index: usize,
    encoding: Encoding,
    scratch_file: Option<PathBuf>,
    sender: &SyncSender<Piece>,
    buffer: &mut [u8],
) -> Result<Piece> {
    match scratch_file {
        Some(path) => {
            let file =
                File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
            let out = BufWriter::with_capacity(OUTPUT_BUFFER, file);
            let (blob, out) = image::regenerate_layer(description, index, encoding, out, buffer)?;
            out.into_inner()
                .map_err(|e| e.into_error())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(Piece::Done(blob, Some(path)))
        }
        None => {
            let chunks = Chunks {
                chunk: Vec::with_capacity(CHUNK),
                sender,
            };
            let (blob, mut chunks) =
                image::regenerate_layer(description, index, encoding, chunks, buffer)?;
            chunks.flush()?;
            Ok(Piece::Done(blob, None))
        }
    }
}

/// Sends what is written in chunks of [`CHUNK`] bytes.
struct Chunks<'a> {
    chunk: Vec<u8>,
    sender: &'a SyncSender<Piece>,
}

impl Write for Chunks<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let taken = bytes.len().min(CHUNK - self.chunk.len());
        self.chunk.extend_from_slice(&bytes[..taken]);
        if self.chunk.len() == CHUNK {
            self.flush()?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        self.sender
            .send(Piece::Bytes(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the stream stopped"))
    }
}

/// Writes the archive, taking each layer's pieces in turn.
fn write_in_order<W: Write>(
    description: &ImageDescription,
    known: &[Option<LayerBlob>],
    receivers: Vec<Receiver<Piece>>,
    progress: &Progress,
    out: &mut W,
) -> Result<()> {
    let plan = &description.plan;
    archive::write_prefix(out)?;
    let mut blobs = Vec::with_capacity(receivers.len());
    for (index, receiver) in receivers.into_iter().enumerate() {
        if let Some(blob) = &known[index] {
            archive::write_blob_header(out, &blob.digest, blob.size)?;
        }
        let blob = loop {
            match receiver.recv() {
                Ok(Piece::Bytes(bytes)) => out.write_all(&bytes)?,
                Ok(Piece::Done(blob, None)) => break blob,
                Ok(Piece::Done(blob, Some(path))) => {
                    archive::write_blob_header(out, &blob.digest, blob.size)?;
                    let copied = io::copy(&mut File::open(&path)?, out)?;
                    std::fs::remove_file(&path).ok();
                    if copied != blob.size {
                        bail!(
                            "the scratch file {} changed while it was streamed",
                            path.display()
                        );
                    }
                    break blob;
                }
                Ok(Piece::Failed(error)) => return Err(error),
                Err(_) => bail!("the producer of layer {} stopped", index + 1),
            }
        };
        tar_format::write_padding(out, blob.size)?;
        blobs.push(blob);
        progress.advance(index + 1);
    }
    let documents = oci::documents(plan, &blobs)?;
    archive::write_tail(out, &documents, plan.spec.format == ImageFormat::Docker)
}

/// How far the writer has come, for the producers.
#[derive(Default)]
struct Progress {
    /// Layers written; `usize::MAX` once the writer stopped.
    written: Mutex<usize>,
    changed: Condvar,
}

impl Progress {
    /// Waits until layer `index` is within reach of the writer; false when
    /// the writer stopped.
    fn wait_for_room(&self, index: usize) -> bool {
        let mut written = self.written.lock().expect("not poisoned");
        while *written != usize::MAX && index >= *written + AHEAD_LAYERS {
            written = self.changed.wait(written).expect("not poisoned");
        }
        *written != usize::MAX
    }

    fn advance(&self, written: usize) {
        *self.written.lock().expect("not poisoned") = written;
        self.changed.notify_all();
    }

    fn finish(&self) {
        self.advance(usize::MAX);
    }
}
