//! The image archive: an OCI image layout in one tar, plus the top-level
//! `manifest.json` that `docker load` reads (the layout Docker 25 writes).
//!
//! Entries, in this order: `blobs/`, `blobs/sha256/`, the layer blobs bottom
//! first, the config and manifest blobs, `index.json`, `manifest.json`,
//! `oci-layout`. Every entry header's size is known in advance (a blob's
//! name, `blobs/sha256/<64 hex digits>`, always fits one block), so the
//! archive can be written front to back to a pipe, or laid out in a file
//! and filled in parallel.

use std::io::Write;

use anyhow::Result;

use crate::emit::oci::{self, ImageDocuments};
use crate::format::digest::Digest;
use crate::format::tar_format::{self, BLOCK, EntryAttrs, EntryKind};

/// Bytes before the first blob: the `blobs/` and `blobs/sha256/` entries.
pub const PREFIX_LEN: u64 = 2 * BLOCK as u64;
/// The header of a blob entry.
pub const BLOB_HEADER_LEN: u64 = BLOCK as u64;

fn attrs() -> EntryAttrs {
    EntryAttrs {
        owner_writable: true,
        ..EntryAttrs::default()
    }
}

/// The bytes a blob of `size` bytes takes in the archive, header and padding
/// included.
pub fn blob_entry_len(size: u64) -> u64 {
    BLOB_HEADER_LEN + size.div_ceil(BLOCK as u64) * BLOCK as u64
}

/// Writes the directory entries the archive starts with.
pub fn write_prefix<W: Write>(out: &mut W) -> Result<()> {
    for dir in ["blobs/", "blobs/sha256/"] {
        tar_format::write_header(out, &attrs(), dir.as_bytes(), &EntryKind::Directory)?;
    }
    Ok(())
}

/// Writes the header of blob `digest`; `size` bytes of it and padding follow.
pub fn write_blob_header<W: Write>(out: &mut W, digest: &Digest, size: u64) -> Result<()> {
    file_header(out, &digest.blob_path(), size)
}

/// Writes the config and manifest blobs, the layout's index files (with
/// Docker's `manifest.json` when `docker_manifest`) and the end of the
/// archive: everything after the layers.
pub fn write_tail<W: Write>(
    out: &mut W,
    documents: &ImageDocuments,
    docker_manifest: bool,
) -> Result<()> {
    write_files(out, &tail_files(documents, docker_manifest))?;
    tar_format::write_end(out)?;
    Ok(())
}

/// Writes each file, `(path, bytes)`, as an entry.
pub fn write_files<W: Write>(out: &mut W, files: &[(String, &[u8])]) -> Result<()> {
    for (name, bytes) in files {
        file_header(out, name, bytes.len() as u64)?;
        out.write_all(bytes)?;
        tar_format::write_padding(out, bytes.len() as u64)?;
    }
    Ok(())
}

/// The files that follow the layers, by their path in the layout.
pub fn tail_files(documents: &ImageDocuments, docker_manifest: bool) -> Vec<(String, &[u8])> {
    let mut files = vec![
        (documents.config_digest.blob_path(), &documents.config[..]),
        (
            documents.manifest_digest.blob_path(),
            &documents.manifest[..],
        ),
        ("index.json".to_owned(), &documents.index[..]),
    ];
    if docker_manifest {
        files.push(("manifest.json".to_owned(), &documents.docker_manifest[..]));
    }
    files.push(("oci-layout".to_owned(), oci::OCI_LAYOUT));
    files
}

fn file_header<W: Write>(out: &mut W, name: &str, size: u64) -> Result<()> {
    let kind = EntryKind::File {
        size,
        executable: false,
    };
    tar_format::write_header(out, &attrs(), name.as_bytes(), &kind)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_header_is_one_block() {
        let mut out = Vec::new();
        write_blob_header(&mut out, &Digest::of(b"x"), 3).unwrap();
        assert_eq!(out.len() as u64, BLOB_HEADER_LEN);
        let mut prefix = Vec::new();
        write_prefix(&mut prefix).unwrap();
        assert_eq!(prefix.len() as u64, PREFIX_LEN);
        assert_eq!(blob_entry_len(0), 512);
        assert_eq!(blob_entry_len(1), 1024);
        assert_eq!(blob_entry_len(512), 1024);
    }
}
