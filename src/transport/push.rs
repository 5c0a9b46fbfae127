//! Pushing an image description to a registry, layers regenerated from the
//! store as they are sent.
//!
//! A layer is compressed only to be uploaded. Its blob's digest, which the
//! manifest needs, is known beforehand when it is a base image's or an
//! uncompressed layer, or when the cache or the registry's own manifests
//! (of the tag being pushed, or of the previous version's tag, as
//! `previousPlan` names it) know what its tar compresses to
//! ([`crate::transport::known_blobs`]). A known blob the repository has is skipped,
//! one it lacks is mounted from another repository when asked. The others
//! are compressed while they are uploaded, several at once, each streamed
//! through a pipe from the thread that writes it (memory stays bounded by
//! the pipe and the compressor), and the digest named when the upload
//! closes. The manifest goes last, so the tag never points at a manifest
//! whose blobs are missing, and it is the same however the digests were
//! found.

use std::io::{self, BufWriter, IsTerminal, PipeReader, Read, Write};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use oci_spec::image::MediaType;
use rayon::prelude::*;

use crate::emit::description::{self, ImageDescription};
use crate::emit::image;
use crate::emit::layer::COPY_BUFFER;
use crate::emit::oci;
use crate::emit::output::OUTPUT_BUFFER;
use crate::emit::sbom::bill::{Bill, BuiltImage, BuiltLayer};
use crate::emit::sbom::document::{self, SbomFormat};
use crate::emit::sbom::facts::SbomFacts;
use crate::format::compression::Encoding;
use crate::format::digest::Digest;
use crate::format::layer_blob::LayerBlob;
use crate::format::reference::Destination;
use crate::input::spec::Delivery;
use crate::plan::image_plan::ImagePlan;
use crate::transport::auth::{self, Credentials};
use crate::transport::blob_cache::BlobCache;
use crate::transport::known_blobs::KnownBlobs;
use crate::transport::referrers::{self, Subject};
use crate::transport::registry::Client;

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
    /// Push the image's bill of materials, when its description names one.
    pub sbom: bool,
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
    /// The bills of materials pushed, by their artifact's digest.
    pub sboms: Vec<Digest>,
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
        for sbom in &self.sboms {
            write!(f, ", bill of materials {sbom}")?;
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

/// What became of a blob, and its size.
pub enum Outcome {
    Uploaded(u64),
    Skipped(u64),
    Mounted(u64),
}

impl PushSummary {
    pub fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Uploaded(size) => {
                self.uploaded += 1;
                self.uploaded_bytes += size;
            }
            Outcome::Skipped(size) => {
                self.skipped += 1;
                self.skipped_bytes += size;
            }
            Outcome::Mounted(size) => {
                self.mounted += 1;
                self.mounted_bytes += size;
            }
        }
    }
}

pub fn push(description: ImageDescription, options: &PushOptions) -> Result<PushSummary> {
    let config = description.config_bytes()?;
    let spec = &description.plan.spec;
    let encoding = spec.encoding(Delivery::Kept);
    let (destination, client) = connect(options, &spec.repo_tag())?;
    let mut known = KnownBlobs::new(encoding, BlobCache::open());
    // The tag being pushed, and the previous version's, as pushed before.
    let mut tags = vec![destination.tag.clone()];
    tags.extend(previous_tag(&description.plan).filter(|tag| *tag != destination.tag));
    for tag in &tags {
        known.learn_from(&client, tag);
        if let Some(from) = &options.mount_from {
            known.learn_from(&client.for_repository(from), tag);
        }
    }
    let description = Arc::new(description);

    // Layers with the same tar are one blob.
    let mut blobs: Vec<Blob> = Vec::new();
    let mut first_of: Vec<usize> = Vec::new();
    for (index, layer) in description.layers.iter().enumerate() {
        let same = (0..index).find(|&earlier| description.layers[earlier] == *layer);
        match same {
            Some(earlier) => first_of.push(first_of[earlier]),
            None => {
                first_of.push(index);
                blobs.push(Blob::Layer(index));
            }
        }
    }
    blobs.push(Blob::Config);

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
        encoding,
        known: &known,
        config: &config,
        options,
        progress: &progress,
    };
    let sent: Vec<(Option<LayerBlob>, Outcome)> = pool.install(|| {
        blobs
            .par_iter()
            .map(|blob| {
                sender
                    .send(blob)
                    .with_context(|| format!("cannot push {} to {destination}", blob.name()))
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let mut layer_blobs: Vec<Option<LayerBlob>> = vec![None; description.layers.len()];
    for (blob, (layer, _)) in blobs.iter().zip(&sent) {
        if let Blob::Layer(index) = blob {
            layer_blobs[*index].clone_from(layer);
        }
    }
    let layer_blobs: Vec<LayerBlob> = first_of
        .iter()
        .map(|&first| {
            layer_blobs[first]
                .clone()
                .expect("every first layer was sent")
        })
        .collect();
    let documents = oci::documents(&description.plan, &layer_blobs)?;
    let media_type = MediaType::ImageManifest.to_string();
    // The bill of materials refers to the manifest by digest, and goes
    // before the tag: a push that fails leaves the tag as it was.
    let built = BuiltImage {
        source: destination.to_string(),
        manifest_digest: Digest::of(&documents.manifest),
        layers: layer_blobs.iter().map(BuiltLayer::from).collect(),
    };
    let sbom = send_sbom(
        &client,
        &description,
        &documents.manifest,
        &media_type,
        &built,
        options,
    )
    .with_context(|| format!("cannot push the bill of materials to {destination}"))?;
    client
        .put_manifest(&destination.tag, &documents.manifest, &media_type)
        .with_context(|| format!("cannot tag the image as {destination}"))?;

    let mut summary = PushSummary {
        destination: destination.to_string(),
        sboms: sbom.into_iter().collect(),
        ..PushSummary::default()
    };
    for (_, outcome) in sent {
        summary.count(outcome);
    }
    Ok(summary)
}

/// Puts `manifest` by its digest and, unless `options` say not to, pushes
/// the image's SPDX bill of materials as an artifact referring to it, made
/// from the facts `description` names and the image as `built`; returns
/// the artifact's digest.
pub fn send_sbom(
    client: &Client,
    description: &ImageDescription,
    manifest: &[u8],
    media_type: &str,
    built: &BuiltImage,
    options: &PushOptions,
) -> Result<Option<Digest>> {
    let Some(file) = description.sbom_facts.as_ref().filter(|_| options.sbom) else {
        return Ok(None);
    };
    let facts = SbomFacts::read(file)?;
    let document = document::render(
        &Bill::new(&description.plan, &facts, built)?,
        SbomFormat::Spdx,
    )?;
    let subject = Subject {
        digest: Digest::of(manifest),
        size: manifest.len() as u64,
        media_type: media_type.to_owned(),
    };
    client.put_manifest(&subject.digest.to_string(), manifest, media_type)?;
    let created = description.plan.spec.created.rfc3339();
    referrers::push_sbom(client, &subject, &document, &created).map(Some)
}

/// Where `options` push to (`default` unless they say), and a client for it.
pub fn connect(options: &PushOptions, default: &str) -> Result<(Destination, Client)> {
    let destination = Destination::parse(options.destination.as_deref().unwrap_or(default))?;
    let credentials = match &options.credentials {
        Some(text) => Some(Credentials::parse(text)?),
        None => auth::from_files(&destination.registry, &auth::auth_files())?,
    };
    let client = Client::new(&destination, credentials, options.insecure);
    Ok((destination, client))
}

/// The tag of the image's previous version, when `previousPlan` names it.
fn previous_tag(plan: &ImagePlan) -> Option<String> {
    let file = plan.spec.previous_plan.as_ref()?;
    description::read_plan(std::path::Path::new(file))
        .ok()?
        .spec
        .tag
}

/// What sending a blob needs.
struct Sender<'a> {
    client: &'a Client,
    description: &'a Arc<ImageDescription>,
    encoding: Encoding,
    known: &'a KnownBlobs,
    config: &'a [u8],
    options: &'a PushOptions,
    progress: &'a MultiProgress,
}

impl Sender<'_> {
    /// Skips, mounts or uploads one blob, showing its progress on a
    /// terminal; for a layer, returns its blob.
    fn send(&self, blob: &Blob) -> Result<(Option<LayerBlob>, Outcome)> {
        let bar = self.progress.add(ProgressBar::new(0));
        bar.set_style(
            ProgressStyle::with_template("{prefix:>10} {bar:30} {bytes:>10} {msg}")
                .expect("a valid template"),
        );
        bar.set_prefix(blob.name());
        let index = match blob {
            Blob::Config => {
                let digest = Digest::of(self.config);
                let size = self.config.len() as u64;
                if let Some(outcome) = self.reuse(&digest, size, &bar)? {
                    return Ok((None, outcome));
                }
                self.client.upload_blob(&digest, || Ok(self.config))?;
                bar.finish_with_message("pushed");
                return Ok((None, Outcome::Uploaded(size)));
            }
            Blob::Layer(index) => *index,
        };
        // A blob known without compressing: a base image's, an uncompressed
        // one, or one the cache or the registry's manifests name.
        let diff_id = self.description.layers[index].diff_id;
        let known = self
            .description
            .known_blob(index, self.encoding)
            .or_else(|| {
                self.known.get(&diff_id).map(|(digest, size)| LayerBlob {
                    diff_id,
                    digest,
                    size,
                    media_type: self.encoding.media_type().to_owned(),
                    settings: self.encoding.settings(),
                })
            });
        if let Some(known) = known
            && let Some(outcome) = self.reuse(&known.digest, known.size, &bar)?
        {
            return Ok((Some(known), outcome));
        }
        let mut sent = None;
        self.client.upload_streamed(
            || {
                bar.set_position(0);
                LayerReader::start(self.description, index, self.encoding, bar.clone())
            },
            |reader| {
                let blob = reader.into_blob()?;
                let digest = blob.digest;
                sent = Some(blob);
                Ok(digest)
            },
        )?;
        let blob = sent.expect("an upload that completed has its blob");
        if blob.settings.is_some() {
            self.known.record(&diff_id, (blob.digest, blob.size));
        }
        bar.finish_with_message("pushed");
        let size = blob.size;
        Ok((Some(blob), Outcome::Uploaded(size)))
    }

    /// Skips a blob of known digest that the repository has (of the same
    /// size), or mounts it from the repository `--mount-from` names.
    fn reuse(&self, digest: &Digest, size: u64, bar: &ProgressBar) -> Result<Option<Outcome>> {
        if self.client.blob_size(digest)? == Some(size) {
            bar.finish_with_message("already there");
            return Ok(Some(Outcome::Skipped(size)));
        }
        if let Some(from) = &self.options.mount_from
            && self.client.mount_blob(digest, from)?
        {
            bar.finish_with_message(format!("mounted from {from}"));
            return Ok(Some(Outcome::Mounted(size)));
        }
        Ok(None)
    }
}

/// A layer's blob, written by its own thread into a pipe. At the end of the
/// bytes the reader waits for the writer: a layer that no longer matches its
/// diff_id makes the last read fail, so the upload is never completed.
struct LayerReader {
    pipe: PipeReader,
    writer: Option<JoinHandle<Result<LayerBlob>>>,
    blob: Option<LayerBlob>,
    bar: ProgressBar,
}

impl LayerReader {
    fn start(
        description: &Arc<ImageDescription>,
        index: usize,
        encoding: Encoding,
        bar: ProgressBar,
    ) -> Result<Self> {
        let (pipe, sink) = io::pipe().context("cannot create a pipe")?;
        let description = Arc::clone(description);
        let writer = std::thread::Builder::new()
            .name(format!("layer-{}", index + 1))
            .spawn(move || {
                let mut buffer = vec![0u8; COPY_BUFFER];
                let out = BufWriter::with_capacity(OUTPUT_BUFFER, sink);
                let (blob, mut out) =
                    image::regenerate_layer(&description, index, encoding, out, &mut buffer)?;
                out.flush()?;
                Ok(blob)
            })
            .context("cannot start a layer writer")?;
        Ok(Self {
            pipe,
            writer: Some(writer),
            blob: None,
            bar,
        })
    }

    /// The blob that was read, once the reader has reached its end.
    fn into_blob(self) -> Result<LayerBlob> {
        self.blob
            .context("the layer was not read to its end before its upload was completed")
    }
}

impl Read for LayerReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.pipe.read(buf)?;
        self.bar.inc(n as u64);
        if n == 0
            && let Some(writer) = self.writer.take()
        {
            let result = writer
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the layer writer panicked")));
            match result {
                Ok(blob) => self.blob = Some(blob),
                Err(error) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{error:#}"),
                    ));
                }
            }
        }
        Ok(n)
    }
}
