//! Writing tar entries with fully synthesized headers.
//!
//! Every header field comes from [`EntryAttrs`] and the entry itself, never
//! from `stat`. Names and link targets over 100 bytes, and sizes of 8 GiB and
//! more, go into a PAX extended header that carries only `path`, `linkpath`
//! and `size`, so the bytes depend on nothing but the entry.

use std::io::{self, Read, Write};

use tar::{EntryType, Header};

pub const BLOCK: usize = 512;
const NAME_FIELD: usize = 100;
const LINK_FIELD: usize = 100;
/// The largest size the octal size field holds.
const MAX_OCTAL_SIZE: u64 = 0o77777777777;

/// The owner and time every entry of one tar gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryAttrs {
    pub uid: u64,
    pub gid: u64,
    pub uname: String,
    pub gname: String,
    pub mtime: u64,
    /// Adds the owner's write bit to files and directories (0644, 0755), for
    /// archives that are unpacked by tools rather than used as a layer.
    pub owner_writable: bool,
    /// The permission bits of files and directories, when not Nix's.
    pub mode: Option<u32>,
}

impl Default for EntryAttrs {
    fn default() -> Self {
        EntryAttrs {
            uid: 0,
            gid: 0,
            uname: "root".to_owned(),
            gname: "root".to_owned(),
            mtime: 1,
            owner_writable: false,
            mode: None,
        }
    }
}

/// The kind of an entry, with what its header needs.
pub enum EntryKind<'a> {
    Directory,
    Symlink { target: &'a [u8] },
    File { size: u64, executable: bool },
}

/// Permission bits, as Nix canonicalises them in the store.
fn mode_of(kind: &EntryKind, attrs: &EntryAttrs) -> u32 {
    let read_only = match kind {
        EntryKind::Symlink { .. } => return 0o777,
        _ if let Some(mode) = attrs.mode => return mode,
        EntryKind::Directory
        | EntryKind::File {
            executable: true, ..
        } => 0o555,
        EntryKind::File { .. } => 0o444,
    };
    if attrs.owner_writable {
        read_only | 0o200
    } else {
        read_only
    }
}

/// Writes the header (and PAX header when needed) of one entry. For a file,
/// the caller then writes exactly `size` bytes and calls [`write_padding`].
pub fn write_header<W: Write>(
    out: &mut W,
    attrs: &EntryAttrs,
    path: &[u8],
    kind: &EntryKind,
) -> io::Result<()> {
    let mut pax: Vec<(&str, Vec<u8>)> = Vec::new();
    if path.len() > NAME_FIELD {
        pax.push(("path", path.to_vec()));
    }
    let mut header = Header::new_ustar();
    let (entry_type, size) = match kind {
        EntryKind::Directory => (EntryType::Directory, 0),
        EntryKind::Symlink { target } => {
            if target.len() > LINK_FIELD {
                pax.push(("linkpath", target.to_vec()));
            } else {
                header.set_link_name_literal(target)?;
            }
            (EntryType::Symlink, 0)
        }
        EntryKind::File { size, .. } => {
            if *size > MAX_OCTAL_SIZE {
                pax.push(("size", size.to_string().into_bytes()));
            }
            (EntryType::Regular, *size)
        }
    };
    if !pax.is_empty() {
        write_pax_header(out, attrs, &pax)?;
    }
    let name = &path[..path.len().min(NAME_FIELD)];
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(entry_type);
    header.set_size(size);
    header.set_mode(mode_of(kind, attrs));
    fill_owner(&mut header, attrs)?;
    header.set_cksum();
    out.write_all(header.as_bytes())
}

fn fill_owner(header: &mut Header, attrs: &EntryAttrs) -> io::Result<()> {
    header.set_uid(attrs.uid);
    header.set_gid(attrs.gid);
    header.set_mtime(attrs.mtime);
    header.set_username(&attrs.uname)?;
    header.set_groupname(&attrs.gname)?;
    header.set_device_major(0)?;
    header.set_device_minor(0)
}

/// A PAX extended header (`typeflag 'x'`) with the given records.
fn write_pax_header<W: Write>(
    out: &mut W,
    attrs: &EntryAttrs,
    records: &[(&str, Vec<u8>)],
) -> io::Result<()> {
    let mut body = Vec::new();
    for (key, value) in records {
        body.extend_from_slice(&pax_record(key, value));
    }
    let mut header = Header::new_ustar();
    let name = b"././@PaxHeader";
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(EntryType::XHeader);
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    fill_owner(&mut header, attrs)?;
    header.set_cksum();
    out.write_all(header.as_bytes())?;
    out.write_all(&body)?;
    write_padding(out, body.len() as u64)
}

/// `"<length> <key>=<value>\n"`, where the length counts the whole record,
/// its own digits included.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut length = rest + 1;
    while length != rest + length.to_string().len() {
        length = rest + length.to_string().len();
    }
    let mut record = format!("{length} {key}=").into_bytes();
    record.extend_from_slice(value);
    record.push(b'\n');
    record
}

/// Zero bytes up to the next block boundary after `size` bytes of data.
pub fn write_padding<W: Write>(out: &mut W, size: u64) -> io::Result<()> {
    let rem = (size % BLOCK as u64) as usize;
    if rem != 0 {
        out.write_all(&[0u8; BLOCK][..BLOCK - rem])?;
    }
    Ok(())
}

/// The two zero blocks that end an archive.
pub fn write_end<W: Write>(out: &mut W) -> io::Result<()> {
    out.write_all(&[0u8; 2 * BLOCK])
}

/// Copies exactly `size` bytes from `source` to `out` through `buffer`.
/// Fails if the source ends early.
pub fn copy_exactly<W: Write, R: Read>(
    out: &mut W,
    source: &mut R,
    size: u64,
    buffer: &mut [u8],
) -> io::Result<()> {
    let mut left = size;
    while left > 0 {
        let want = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let got = match source.read(&mut buffer[..want]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the file ended {left} bytes before its recorded size {size}"),
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buffer[..got])?;
        left -= got as u64;
    }
    Ok(())
}

/// Size in the archive of one entry's header(s), for planning.
#[cfg(test)]
fn header_bytes(path: &[u8], kind: &EntryKind) -> u64 {
    let mut sink = Vec::new();
    write_header(&mut sink, &EntryAttrs::default(), path, kind).unwrap();
    sink.len() as u64
}

/// One entry of a tar, as a reader sees it.
#[cfg(test)]
pub struct TarEntry {
    pub name: String,
    pub kind: tar::EntryType,
    pub mode: u32,
    pub mtime: u64,
    pub link: Option<String>,
    pub data: Vec<u8>,
}

/// Every entry of `archive`, read with the tar crate.
#[cfg(test)]
pub fn tar_entries(archive: &[u8]) -> Vec<TarEntry> {
    use std::io::Read;
    tar::Archive::new(archive)
        .entries()
        .unwrap()
        .map(|entry| {
            let mut entry = entry.unwrap();
            let header = entry.header();
            let (kind, mode, mtime) = (
                header.entry_type(),
                header.mode().unwrap(),
                header.mtime().unwrap(),
            );
            let name = String::from_utf8(entry.path_bytes().to_vec()).unwrap();
            let link = entry
                .link_name_bytes()
                .map(|l| String::from_utf8(l.to_vec()).unwrap());
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            TarEntry {
                name,
                kind,
                mode,
                mtime,
                link,
                data,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::tar_format::tar_entries;

    #[test]
    fn pax_record_length_counts_itself() {
        assert_eq!(pax_record("path", b"abc"), b"12 path=abc\n");
        let long = vec![b'x'; 95];
        let record = pax_record("path", &long);
        assert_eq!(record.len(), 105);
        assert!(record.starts_with(b"105 path="));
        // Where adding the length's own digits carries over a power of ten.
        let edge = vec![b'y'; 89];
        let record = pax_record("path", &edge);
        assert!(record.starts_with(format!("{} ", record.len()).as_bytes()));
    }

    #[test]
    fn long_names_and_targets_round_trip_through_a_reader() {
        let attrs = EntryAttrs {
            mtime: 7,
            ..EntryAttrs::default()
        };
        let long_dir = format!("nix/store/{}/", "d".repeat(150));
        let long_name = format!("{long_dir}{}", "é".repeat(120));
        let target = format!("../{}", "t".repeat(300));
        let mut out = Vec::new();
        write_header(&mut out, &attrs, long_dir.as_bytes(), &EntryKind::Directory).unwrap();
        let data = b"hello";
        let kind = EntryKind::File {
            size: data.len() as u64,
            executable: true,
        };
        write_header(&mut out, &attrs, long_name.as_bytes(), &kind).unwrap();
        copy_exactly(&mut out, &mut &data[..], 5, &mut [0; 3]).unwrap();
        write_padding(&mut out, 5).unwrap();
        let link = EntryKind::Symlink {
            target: target.as_bytes(),
        };
        write_header(&mut out, &attrs, b"a/./b//", &link).unwrap();
        write_end(&mut out).unwrap();
        assert_eq!(out.len() % BLOCK, 0);
        let got = tar_entries(&out);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].name, long_dir);
        assert_eq!(got[0].mode, 0o555);
        assert_eq!(got[1].name, long_name);
        assert_eq!(got[1].data, data);
        assert_eq!(got[1].mtime, 7);
        assert_eq!(got[2].name, "a/./b//", "names are written as given");
        assert_eq!(got[2].link.as_deref(), Some(target.as_str()));
        assert_eq!(got[2].mode, 0o777);
    }

    #[test]
    fn short_entries_need_one_block() {
        assert_eq!(header_bytes(b"nix/", &EntryKind::Directory), 512);
        assert_eq!(header_bytes(&[b'a'; 101], &EntryKind::Directory), 512 * 3);
    }

    #[test]
    fn sizes_over_8_gib_go_into_a_pax_header() {
        let size = 9 << 30;
        let mut out = Vec::new();
        let kind = EntryKind::File {
            size,
            executable: false,
        };
        write_header(&mut out, &EntryAttrs::default(), b"big", &kind).unwrap();
        assert_eq!(out.len(), 3 * BLOCK, "PAX header, its records, the entry");
        let records = String::from_utf8_lossy(&out[BLOCK..2 * BLOCK]);
        assert!(
            records.starts_with(&format!("19 size={size}\n")),
            "{records}"
        );
        let mut archive = tar::Archive::new(&out[..]);
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.header().size().unwrap(), size);
        assert_eq!(
            entry.size(),
            size,
            "readers take the size from the PAX record"
        );
    }

    #[test]
    fn short_source_is_an_error() {
        let mut out = Vec::new();
        let err = copy_exactly(&mut out, &mut &b"abc"[..], 10, &mut [0; 4]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
