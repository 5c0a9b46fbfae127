//! The image archive: an OCI image layout in one tar, plus the top-level
//! `manifest.json` that `docker load` reads (the layout Docker 25 writes).
//!
//! Entries, in this order: `blobs/`, `blobs/sha256/`, the layer blobs bottom
//! first, the config and manifest blobs, `index.json`, `manifest.json`,
//! `oci-layout`. The archive is written front to back in one pass, so it can
//! go to a pipe.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::Result;

use crate::digest::Digest;
use crate::oci::{self, ImageDocuments};
use crate::tar_format::{self, EntryAttrs, EntryKind};

pub struct ArchiveWriter<W: Write> {
    out: W,
    attrs: EntryAttrs,
    written: BTreeSet<Digest>,
}

impl<W: Write> ArchiveWriter<W> {
    pub fn new(mut out: W) -> Result<Self> {
        let attrs = EntryAttrs {
            owner_writable: true,
            ..EntryAttrs::default()
        };
        for dir in ["blobs/", "blobs/sha256/"] {
            tar_format::write_header(&mut out, &attrs, dir.as_bytes(), &EntryKind::Directory)?;
        }
        Ok(ArchiveWriter {
            out,
            attrs,
            written: BTreeSet::new(),
        })
    }

    /// Adds the blob `digest` of `size` bytes, which `fill` writes. A blob
    /// already in the archive is not written again, and `fill` is not called.
    pub fn blob(
        &mut self,
        digest: &Digest,
        size: u64,
        fill: impl FnOnce(&mut W) -> Result<()>,
    ) -> Result<()> {
        if !self.written.insert(*digest) {
            return Ok(());
        }
        self.file_header(&oci::blob_path(digest), size)?;
        fill(&mut self.out)?;
        tar_format::write_padding(&mut self.out, size)?;
        Ok(())
    }

    /// Adds the config and manifest blobs and the layout's index files, and
    /// ends the archive.
    pub fn finish(mut self, documents: &ImageDocuments) -> Result<W> {
        for (digest, bytes) in [
            (&documents.config_digest, &documents.config),
            (&documents.manifest_digest, &documents.manifest),
        ] {
            self.blob(digest, bytes.len() as u64, |out| Ok(out.write_all(bytes)?))?;
        }
        for (name, bytes) in [
            ("index.json", &documents.index[..]),
            ("manifest.json", &documents.docker_manifest[..]),
            ("oci-layout", oci::OCI_LAYOUT),
        ] {
            self.file_header(name, bytes.len() as u64)?;
            self.out.write_all(bytes)?;
            tar_format::write_padding(&mut self.out, bytes.len() as u64)?;
        }
        tar_format::write_end(&mut self.out)?;
        Ok(self.out)
    }

    fn file_header(&mut self, name: &str, size: u64) -> Result<()> {
        let kind = EntryKind::File {
            size,
            executable: false,
        };
        tar_format::write_header(&mut self.out, &self.attrs, name.as_bytes(), &kind)?;
        Ok(())
    }
}
