//! Layer compression, with output that depends only on the bytes, the
//! compressor and its level.
//!
//! - gzip: independent blocks compressed side by side on the cores (see
//!   [`crate::emit::parallel_gzip`]), with a fixed header (no name, no time, OS
//!   "unknown"); the bytes do not depend on the number of threads.
//! - zstd: libzstd's multi-threaded mode, always: its output does not depend
//!   on the number of workers (while single-threaded mode's differs), so a
//!   large layer can use several cores and still give the same bytes.

use std::io::{self, Write};

use crate::emit::parallel_gzip::ParallelGzip;
use crate::format::compression::{Compressor, Encoding};

/// A writer that compresses into `W`.
pub enum Encoder<W: Write> {
    Plain(W),
    Gz(ParallelGzip<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    /// A writer that compresses into `out` as `encoding` says.
    pub fn for_encoding(encoding: Encoding, workers: u32, out: W) -> io::Result<Self> {
        Self::new(encoding.compressor, Some(encoding.level), workers, out)
    }

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
}
