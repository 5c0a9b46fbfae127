//! Layer compression, with output that depends only on the bytes, the
//! compressor and its level.
//!
//! - gzip: independent blocks compressed side by side on the cores (see
//!   [`crate::parallel_gzip`]), with a fixed header (no name, no time, OS
//!   "unknown"); the bytes do not depend on the number of threads.
//! - zstd: libzstd's multi-threaded mode, always: its output does not depend
//!   on the number of workers (while single-threaded mode's differs), so a
//!   large layer can use several cores and still give the same bytes.

use std::io::{self, Write};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::parallel_gzip::ParallelGzip;

/// How layers are compressed (the names of nixpkgs' `compressor`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Compressor {
    None,
    #[default]
    Gz,
    Zstd,
}

impl Compressor {
    /// The OCI media type of a layer compressed so.
    pub fn media_type(self) -> &'static str {
        match self {
            Compressor::None => "application/vnd.oci.image.layer.v1.tar",
            Compressor::Gz => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compressor::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }

    /// How the bytes that start with `magic` are compressed (a tar, when
    /// neither gzip nor zstd).
    pub fn of_magic(magic: &[u8]) -> Self {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compressor::Gz
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compressor::Zstd
        } else {
            Compressor::None
        }
    }

    /// Reads `reader`, compressed so, decompressed.
    pub fn decoder<R: io::BufRead + 'static>(self, reader: R) -> io::Result<Box<dyn io::Read>> {
        Ok(match self {
            Compressor::None => Box::new(reader),
            Compressor::Gz => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
            Compressor::Zstd => Box::new(zstd::Decoder::with_buffer(reader)?),
        })
    }

    /// The level layers are compressed at: `level`, or the default.
    pub fn effective_level(self, level: Option<i32>) -> i32 {
        level.unwrap_or(match self {
            Compressor::None => 0,
            Compressor::Gz => 6,
            Compressor::Zstd => 3,
        })
    }

    /// Checks a `compressionLevel` for this compressor.
    pub fn check_level(self, level: Option<i32>) -> Result<()> {
        let Some(level) = level else { return Ok(()) };
        let range = match self {
            Compressor::None => bail!("compressionLevel is {level}, but the compressor is none"),
            Compressor::Gz => 0..=9,
            Compressor::Zstd => 1..=19,
        };
        if !range.contains(&level) {
            bail!(
                "compressionLevel {level} is out of range for {self:?}: use {} to {}",
                range.start(),
                range.end()
            );
        }
        Ok(())
    }
}

/// How a layer's blob is made from its tar: a compressor at a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoding {
    pub compressor: Compressor,
    pub level: i32,
}

/// The annotation on a compressed layer's descriptor that records its
/// [`Encoding::settings`]: a push may take a registry's digest for a layer
/// only when they are the same.
pub const SETTINGS_ANNOTATION: &str = "strata.layer.compression";

impl Encoding {
    /// `compressor` at `level`, or at its default level (no level for no
    /// compression).
    pub fn new(compressor: Compressor, level: Option<i32>) -> Self {
        let level = match compressor {
            Compressor::None => 0,
            _ => compressor.effective_level(level),
        };
        Self { compressor, level }
    }

    pub fn media_type(self) -> &'static str {
        self.compressor.media_type()
    }

    /// Everything besides the tar that decides the compressed bytes: the
    /// compressor, its level and how it cuts its input. `None` for an
    /// uncompressed layer, whose blob is its tar.
    pub fn settings(self) -> Option<String> {
        match self.compressor {
            Compressor::None => None,
            Compressor::Gz => Some(format!(
                "gzip;level={};blocks={}",
                self.level,
                crate::parallel_gzip::BLOCK
            )),
            Compressor::Zstd => Some(format!(
                "zstd;level={};libzstd={};multithreaded",
                self.level,
                zstd::zstd_safe::version_string()
            )),
        }
    }

    /// A writer that compresses into `out`; `workers` is how many threads
    /// zstd may use (at least one), and gzip uses the current thread pool.
    /// Neither changes the output.
    pub fn encoder<W: Write>(self, workers: u32, out: W) -> io::Result<Encoder<W>> {
        Encoder::new(self.compressor, Some(self.level), workers, out)
    }
}

/// A writer that compresses into `W`.
pub enum Encoder<W: Write> {
    Plain(W),
    Gz(ParallelGzip<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    /// `workers` is how many threads zstd may use (at least one); gzip uses
    /// the current thread pool. Neither changes the output.
    pub fn new(
        compressor: Compressor,
        level: Option<i32>,
        workers: u32,
        out: W,
    ) -> io::Result<Self> {
        let level = compressor.effective_level(level);
        Ok(match compressor {
            Compressor::None => Encoder::Plain(out),
            Compressor::Gz => Encoder::Gz(ParallelGzip::new(out, level as u32)?),
            Compressor::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(out, level)?;
                encoder.multithread(workers.max(1))?;
                Encoder::Zstd(encoder)
            }
        })
    }

    /// Ends the compressed stream and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(out) => Ok(out),
            Encoder::Gz(encoder) => encoder.finish(),
            Encoder::Zstd(encoder) => encoder.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(out) => out.write(bytes),
            Encoder::Gz(encoder) => encoder.write(bytes),
            Encoder::Zstd(encoder) => encoder.write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(out) => out.flush(),
            Encoder::Gz(encoder) => encoder.flush(),
            Encoder::Zstd(encoder) => encoder.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn compress(compressor: Compressor, workers: u32, data: &[u8]) -> Vec<u8> {
        let mut encoder = Encoder::new(compressor, None, workers, Vec::new()).unwrap();
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn sample() -> Vec<u8> {
        (0..3_000_000u32)
            .flat_map(|i| (i / 7 % 251).to_le_bytes())
            .collect()
    }

    #[test]
    fn zstd_output_does_not_depend_on_the_workers() {
        let data = sample();
        let one = compress(Compressor::Zstd, 1, &data);
        assert_eq!(one, compress(Compressor::Zstd, 2, &data));
        assert_eq!(one, compress(Compressor::Zstd, 4, &data));
        assert_eq!(zstd::decode_all(&one[..]).unwrap(), data);
    }

    #[test]
    fn gzip_output_is_fixed_and_round_trips() {
        let data = sample();
        let out = compress(Compressor::Gz, 1, &data);
        assert_eq!(out, compress(Compressor::Gz, 3, &data));
        assert_eq!(
            &out[..10],
            &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255],
            "no name, no time"
        );
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn levels_are_checked() {
        assert!(Compressor::Gz.check_level(Some(9)).is_ok());
        assert!(Compressor::Gz.check_level(Some(10)).is_err());
        assert!(Compressor::Zstd.check_level(Some(0)).is_err());
        assert!(Compressor::None.check_level(Some(1)).is_err());
        assert!(Compressor::Zstd.check_level(None).is_ok());
    }
}
