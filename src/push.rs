//! Pushing an image description to a registry, layers regenerated from the
//! store as they are sent.
//!
//! Blobs the repository has are skipped; the others are mounted from another
//! repository when asked, or uploaded, several at once, each streamed
//! through a pipe from the thread that writes it (memory stays bounded by
//! the pipe and the compressor). The manifest goes last, so the tag never
//! points at a manifest whose blobs are missing.

use std::io::{self, BufWriter, IsTerminal, PipeReader, Read, Write};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use oci_spec::image::MediaType;
use rayon::prelude::*;

use crate::description::ImageDescription;
use crate::digest::Digest;
use crate::emit;
use crate::layer::COPY_BUFFER;
use crate::output::OUTPUT_BUFFER;
use crate::reference::Destination;
use crate::registry::Client;
use crate::registry::auth::{self, Credentials};

pub struct PushOptions {
    /// `[docker://]name[:tag]`; the image's own name and tag by default.
    pub destination: Option<String>,
    /// `USER:PASSWORD`; by default from the auth files.
    pub credentials: Option<String>,
    /// Allow plain HTTP to a registry that is not on this machine.
    pub insecure: bool,
    /// Blobs sent at once.
    pub jobs: usize,
    /// A repository of the same registry to mount missing blobs from.
    pub mount_from: Option<String>,
}

/// What a push did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PushSummary {
    pub destination: String,
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    pub skipped: usize,
    pub skipped_bytes: u64,
    pub mounted: usize,
    pub mounted_bytes: u64,
}

impl std::fmt::Display for PushSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |bytes: u64| bytes as f64 / 1e6;
        write!(
            f,
            "pushed {}: {} blobs uploaded ({:.1} MB), {} already there ({:.1} MB)",
            self.destination,
            self.uploaded,
            mb(self.uploaded_bytes),
            self.skipped,
            mb(self.skipped_bytes),
        )?;
        if self.mounted > 0 {
            write!(
                f,
                ", {} mounted ({:.1} MB)",
                self.mounted,
                mb(self.mounted_bytes)
            )?;
        }
        Ok(())
    }
}

/// One blob of the image.
enum Blob {
    Layer(usize),
    Config,
}

impl Blob {
    fn name(&self) -> String {
        match self {
            Blob::Layer(index) => format!("layer {}", index + 1),
            Blob::Config => "config".to_owned(),
        }
    }
}

enum Outcome {
    Uploaded(u64),
    Skipped(u64),
    Mounted(u64),
}

pub fn push(description: ImageDescription, options: &PushOptions) -> Result<PushSummary> {
    let documents = description.documents()?;
    let spec = &description.plan.spec;
    let destination =
        Destination::parse(options.destination.as_deref().unwrap_or(&spec.repo_tag()))?;
    let credentials = match &options.credentials {
        Some(text) => Some(Credentials::parse(text)?),
        None => auth::from_files(&destination.registry, &auth::auth_files())?,
    };
    let client = Client::new(&destination, credentials, options.insecure);
    let description = Arc::new(description);

    // Layers with the same bytes are one blob.
    let mut blobs: Vec<(Blob, Digest, u64)> = Vec::new();
    for (index, layer) in description.layers.iter().enumerate() {
        if !blobs.iter().any(|(_, digest, _)| *digest == layer.digest) {
            blobs.push((Blob::Layer(index), layer.digest, layer.size));
        }
    }
    blobs.push((
        Blob::Config,
        documents.config_digest,
        documents.config.len() as u64,
    ));

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.jobs.max(1))
        .build()?;
    let progress = if io::stderr().is_terminal() {
        MultiProgress::new()
    } else {
        MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
    };
    let sender = Sender {
        client: &client,
        description: &description,
        config: &documents.config,
        options,
        progress: &progress,
    };
    let outcomes: Vec<Outcome> = pool.install(|| {
        blobs
            .par_iter()
            .map(|(blob, digest, size)| {
                sender.send(blob, digest, *size).with_context(|| {
                    format!("cannot push {} ({digest}) to {destination}", blob.name())
                })
            })
            .collect::<Result<Vec<_>>>()
    })?;
    client
        .put_manifest(
            &destination.tag,
            &documents.manifest,
            MediaType::ImageManifest.to_string().as_str(),
        )
        .with_context(|| format!("cannot tag the image as {destination}"))?;

    let mut summary = PushSummary {
        destination: destination.to_string(),
        ..PushSummary::default()
    };
    for outcome in outcomes {
        match outcome {
            Outcome::Uploaded(size) => {
                summary.uploaded += 1;
                summary.uploaded_bytes += size;
            }
            Outcome::Skipped(size) => {
                summary.skipped += 1;
                summary.skipped_bytes += size;
            }
            Outcome::Mounted(size) => {
                summary.mounted += 1;
                summary.mounted_bytes += size;
            }
        }
    }
    Ok(summary)
}

/// What sending a blob needs.
struct Sender<'a> {
    client: &'a Client,
    description: &'a Arc<ImageDescription>,
    config: &'a [u8],
    options: &'a PushOptions,
    progress: &'a MultiProgress,
}

impl Sender<'_> {
    /// Skips, mounts or uploads one blob, showing its progress on a terminal.
    fn send(&self, blob: &Blob, digest: &Digest, size: u64) -> Result<Outcome> {
        let bar = self.progress.add(ProgressBar::new(size));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>10} {bar:30} {bytes:>10}/{total_bytes:<10} {msg}",
            )
            .expect("a valid template"),
        );
        bar.set_prefix(blob.name());
        if self.client.has_blob(digest)? {
            bar.finish_with_message("already there");
            return Ok(Outcome::Skipped(size));
        }
        if let Some(from) = &self.options.mount_from
            && self.client.mount_blob(digest, from)?
        {
            bar.finish_with_message(format!("mounted from {from}"));
            return Ok(Outcome::Mounted(size));
        }
        match blob {
            Blob::Config => self.client.upload_blob(digest, || {
                bar.set_position(0);
                Ok(bar.wrap_read(self.config))
            })?,
            Blob::Layer(index) => self.client.upload_blob(digest, || {
                bar.set_position(0);
                Ok(bar.wrap_read(LayerReader::start(self.description, *index)?))
            })?,
        }
        bar.finish_with_message("pushed");
        Ok(Outcome::Uploaded(size))
    }
}

/// A layer's blob, written by its own thread into a pipe. At the end of the
/// bytes the reader waits for the writer: a layer that no longer matches its
/// digest makes the last read fail, so the upload is never completed.
struct LayerReader {
    pipe: PipeReader,
    writer: Option<JoinHandle<Result<()>>>,
}

impl LayerReader {
    fn start(description: &Arc<ImageDescription>, index: usize) -> Result<Self> {
        let (pipe, sink) = io::pipe().context("cannot create a pipe")?;
        let description = Arc::clone(description);
        let writer = std::thread::Builder::new()
            .name(format!("layer-{}", index + 1))
            .spawn(move || {
                let mut buffer = vec![0u8; COPY_BUFFER];
                let out = BufWriter::with_capacity(OUTPUT_BUFFER, sink);
                let mut out = emit::regenerate_layer(&description, index, out, &mut buffer)?;
                out.flush()?;
                Ok(())
            })
            .context("cannot start a layer writer")?;
        Ok(Self {
            pipe,
            writer: Some(writer),
        })
    }
}

impl Read for LayerReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.pipe.read(buf)?;
        if n == 0
            && let Some(writer) = self.writer.take()
        {
            let result = writer
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the layer writer panicked")));
            if let Err(error) = result {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{error:#}"),
                ));
            }
        }
        Ok(n)
    }
}
