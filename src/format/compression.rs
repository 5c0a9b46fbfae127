//! How a layer is compressed: the compressor, its level, and the settings
//! that decide the compressed bytes (recorded on descriptors, so that a
//! registry's blob is reused only when it was made the same way).

use std::io;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// The input of one independently compressed gzip block: big enough that
/// priming it with the 32 KiB window and flushing it cost little, small
/// enough to spread a layer of a few MiB over the cores.
pub const GZIP_BLOCK: usize = 1024 * 1024;

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
            Compressor::Gz => Some(format!("gzip;level={};blocks={}", self.level, GZIP_BLOCK)),
            Compressor::Zstd => Some(format!(
                "zstd;level={};libzstd={};multithreaded",
                self.level,
                zstd::zstd_safe::version_string()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_checked() {
        assert!(Compressor::Gz.check_level(Some(9)).is_ok());
        assert!(Compressor::Gz.check_level(Some(10)).is_err());
        assert!(Compressor::Zstd.check_level(Some(0)).is_err());
        assert!(Compressor::None.check_level(Some(1)).is_err());
        assert!(Compressor::Zstd.check_level(None).is_ok());
    }
}
