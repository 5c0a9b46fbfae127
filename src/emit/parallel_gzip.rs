//! gzip on every core, with bytes that depend only on the input and the
//! level.
//!
//! The input is cut into blocks of [`GZIP_BLOCK`] bytes, counted from the
//! start of the stream. Each block is compressed on its own, as raw deflate
//! primed with the 32 KiB of input before it, and ends on a byte boundary
//! (a sync flush), all but the last, which ends the deflate stream; the
//! blocks, one after another, are one valid deflate stream inside one gzip
//! member (this is how pigz works). Since a block's bytes depend on nothing
//! but its input, the 32 KiB before it and the level, any number of
//! threads gives the same stream, and compressing them side by side
//! (rayon, in the current thread pool) changes only the speed.

use std::io::{self, Write};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use rayon::prelude::*;

use crate::format::compression::GZIP_BLOCK;

/// What deflate can refer back to: each block is primed with this much of
/// the input before it.
const WINDOW: usize = 32 * 1024;
/// Blocks compressed at once, per thread of the pool: enough that threads
/// seldom wait for the slowest block of a batch, few enough that a push of
/// several blobs at once stays well within 100 MiB.
const BLOCKS_PER_THREAD: usize = 2;

/// A gzip header without name, time or flags, OS "unknown", as every
/// layer strata writes has.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// Compresses into `W` as gzip, a batch of blocks at a time.
pub struct ParallelGzip<W: Write> {
    out: W,
    level: Compression,
    /// Input not yet compressed; after the first batch it starts with the
    /// [`WINDOW`] bytes before it, which prime the first block.
    pending: Vec<u8>,
    /// How many bytes at the start of `pending` are the window.
    primed: usize,
    /// Bytes to gather before compressing a batch.
    batch: usize,
    crc: Crc,
}

impl<W: Write> ParallelGzip<W> {
    pub fn new(out: W, level: u32) -> io::Result<Self> {
        let mut out = out;
        out.write_all(&HEADER)?;
        let batch = GZIP_BLOCK * BLOCKS_PER_THREAD * rayon::current_num_threads();
        Ok(Self {
            out,
            level: Compression::new(level),
            pending: Vec::with_capacity(WINDOW + batch),
            primed: 0,
            batch,
            crc: Crc::new(),
        })
    }

    /// Compresses the whole blocks of `pending`, and when `last`, the rest
    /// as the final block.
    fn compress_pending(&mut self, last: bool) -> io::Result<()> {
        let input = &self.pending[self.primed..];
        let whole = input.len() / GZIP_BLOCK * GZIP_BLOCK;
        let end = if last { input.len() } else { whole };
        // (start, end) of each block in `pending`, the window before it
        // included in the slice it is compressed from.
        let mut blocks: Vec<(usize, usize)> = (0..whole)
            .step_by(GZIP_BLOCK)
            .map(|start| (self.primed + start, self.primed + start + GZIP_BLOCK))
            .collect();
        if last {
            blocks.push((self.primed + whole, self.primed + end));
        }
        let level = self.level;
        let pending = &self.pending;
        let compressed: Vec<io::Result<Vec<u8>>> = blocks
            .par_iter()
            .enumerate()
            .map(|(i, &(start, stop))| {
                let window = start.saturating_sub(WINDOW);
                let is_final = last && i + 1 == blocks.len();
                deflate_block(
                    &pending[window..start],
                    &pending[start..stop],
                    level,
                    is_final,
                )
            })
            .collect();
        for block in compressed {
            self.out.write_all(&block?)?;
        }
        self.crc
            .update(&self.pending[self.primed..self.primed + end]);
        // Keep the window for the next block, and what is left over.
        let consumed = self.primed + end;
        let keep_from = consumed.saturating_sub(WINDOW);
        self.pending.drain(..keep_from);
        self.primed = consumed - keep_from;
        Ok(())
    }

    /// Ends the gzip member and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.compress_pending(true)?;
        self.out.write_all(&self.crc.sum().to_le_bytes())?;
        self.out.write_all(&self.crc.amount().to_le_bytes())?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let room = self.primed + self.batch - self.pending.len();
        let taken = bytes.len().min(room);
        self.pending.extend_from_slice(&bytes[..taken]);
        if self.pending.len() == self.primed + self.batch {
            self.compress_pending(false)?;
        }
        Ok(taken)
    }

    /// Compressed output exists only for whole blocks: flushing passes on
    /// what has been written, and leaves the pending input be.
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `data` as raw deflate primed with `window`: ending the stream when
/// `is_final`, else on a byte boundary so that the next block can follow.
fn deflate_block(
    window: &[u8],
    data: &[u8],
    level: Compression,
    is_final: bool,
) -> io::Result<Vec<u8>> {
    let mut deflate = Compress::new(level, false);
    if !window.is_empty() {
        deflate.set_dictionary(window).map_err(io::Error::other)?;
    }
    let flush = if is_final {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 1024);
    loop {
        let consumed = deflate.total_in() as usize;
        let status = deflate
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let done = deflate.total_in() as usize == data.len()
            && match status {
                Status::StreamEnd => true,
                // A sync flush is complete when it left room in the output.
                Status::Ok | Status::BufError => !is_final && out.len() < out.capacity(),
            };
        if done {
            return Ok(out);
        }
        out.reserve(out.capacity().max(1024));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Real bytes: this test program's own machine code and data.
    fn sample(len: usize) -> Vec<u8> {
        let mut bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        bytes.truncate(len);
        bytes
    }

    fn gzip_with(threads: usize, data: &[u8], level: u32) -> Vec<u8> {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let mut gzip = ParallelGzip::new(Vec::new(), level).unwrap();
                // Uneven writes, as a tar writer makes them.
                for chunk in data.chunks(100_003) {
                    gzip.write_all(chunk).unwrap();
                }
                gzip.finish().unwrap()
            })
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn the_thread_count_does_not_change_the_bytes() {
        let data = sample(5 * GZIP_BLOCK + 12_345);
        let one = gzip_with(1, &data, 6);
        assert_eq!(one, gzip_with(2, &data, 6));
        assert_eq!(one, gzip_with(8, &data, 6));
        assert_eq!(&one[..10], &HEADER, "no name, no time");
        assert_eq!(gunzip(&one), data);
    }

    #[test]
    fn every_length_round_trips() {
        for len in [
            0,
            1,
            WINDOW,
            GZIP_BLOCK - 1,
            GZIP_BLOCK,
            GZIP_BLOCK + 1,
            3 * GZIP_BLOCK,
        ] {
            let data = sample(len);
            assert_eq!(gunzip(&gzip_with(3, &data, 6)), data, "{len} bytes");
        }
    }

    #[test]
    fn blocks_compress_within_three_percent_of_one_stream() {
        let data = sample(8 << 20);
        for level in [1, 6, 9] {
            let blocks = gzip_with(2, &data, level).len();
            let mut one = flate2::write::GzEncoder::new(Vec::new(), Compression::new(level));
            one.write_all(&data).unwrap();
            let one = one.finish().unwrap().len();
            let ratio = blocks as f64 / one as f64;
            assert!(
                ratio < 1.03,
                "level {level}: {blocks} bytes in blocks, {one} in one stream ({ratio:.4})"
            );
        }
    }
}
