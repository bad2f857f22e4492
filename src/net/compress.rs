//! Deflate-compressed links (`Content-Encoding: deflate`): a zlib stream in each direction,
//! sync-flushed after every batch so the peer can decode what it has. Inflation is done in
//! bounded chunks, so a decompression bomb yields at most one chunk at a time.
//!
//! A compressor is the big part of a link (~300 KB with its hash chains), so an idle link
//! drops it: after a sync flush every byte sent so far is decodable, and a fresh raw
//! compressor that continues the stream never refers back to them, so its blocks follow
//! the earlier ones as one valid zlib stream (the peer's inflater, 32 KiB window or not,
//! sees nothing but more deflate blocks; the stream never ends, so no checksum is due).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Largest amount of inflated data produced per call: the frame buffer never holds more
/// than one partial descriptor plus this.
pub const INFLATE_CHUNK: usize = 64 * 1024;

/// A deflate stream that cannot be decoded (or encoded): the link is closed.
#[derive(Debug, thiserror::Error)]
#[error("deflate stream error: {0}")]
pub struct CompressError(String);

/// Our side of a compressed link: one zlib stream, sync-flushed per batch.
pub struct Deflater(Compress);

impl Default for Deflater {
    fn default() -> Self {
        Deflater(Compress::new(Compression::fast(), true))
    }
}

impl Deflater {
    /// A compressor continuing a stream whose zlib header (and earlier, sync-flushed
    /// blocks) an earlier, dropped [`Deflater`] wrote: raw deflate blocks, no header.
    pub fn resume() -> Deflater {
        Deflater(Compress::new(Compression::fast(), false))
    }

    /// Compresses `input` and sync-flushes, appending to `out`.
    pub fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), CompressError> {
        loop {
            out.reserve(input.len() / 2 + 64);
            let before_in = self.0.total_in();
            self.0
                .compress_vec(input, out, FlushCompress::Sync)
                .map_err(|e| CompressError(e.to_string()))?;
            let used = (self.0.total_in() - before_in) as usize;
            input = &input[used..];
            // Done when all input is consumed and the flush fit (spare room left over).
            if input.is_empty() && out.len() < out.capacity() {
                return Ok(());
            }
        }
    }
}

/// The peer's side of a compressed link: inflates in chunks of at most [`INFLATE_CHUNK`],
/// straight onto the end of the caller's frame buffer (no chunk of its own).
pub struct Inflater {
    stream: Decompress,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater {
            stream: Decompress::new(true),
        }
    }
}

impl Inflater {
    /// Inflates from `input` onto the end of `out`, producing at most [`INFLATE_CHUNK`]
    /// bytes. Returns how many input bytes were consumed; call again with the rest.
    pub fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, CompressError> {
        self.inflate_at_most(input, out, INFLATE_CHUNK)
    }

    /// As [`Inflater::inflate`], producing at most `max` bytes (at least 1).
    pub fn inflate_at_most(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<usize, CompressError> {
        let (before_in, before_out) = (self.stream.total_in(), self.stream.total_out());
        let start = out.len();
        out.resize(start + max.clamp(1, INFLATE_CHUNK), 0);
        let status = self
            .stream
            .decompress(input, &mut out[start..], FlushDecompress::Sync)
            .map_err(|e| CompressError(e.to_string()));
        let produced = (self.stream.total_out() - before_out) as usize;
        out.truncate(start + produced);
        if status? == Status::StreamEnd {
            return Err(CompressError("peer ended its deflate stream".into()));
        }
        Ok((self.stream.total_in() - before_in) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn round_trip_and_plain_zlib_interop() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut d = Deflater::default();
        let mut wire = Vec::new();
        d.compress(&data[..50_000], &mut wire).unwrap();
        d.compress(&data[50_000..], &mut wire).unwrap();
        let mut inf = Inflater::default();
        let mut out = Vec::new();
        let mut input = &wire[..];
        while !input.is_empty() || out.len() < data.len() {
            let used = inf.inflate(input, &mut out).unwrap();
            input = &input[used..];
            if used == 0 && input.is_empty() {
                break;
            }
        }
        assert_eq!(out, data);

        // A stream written by plain flate2 (as another servent would) inflates too.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(b"hello gnutella").unwrap();
        z.flush().unwrap();
        let wire = z.get_ref().clone();
        let mut out = Vec::new();
        Inflater::default().inflate(&wire, &mut out).unwrap();
        assert_eq!(out, b"hello gnutella");
    }

    #[test]
    fn a_dropped_deflater_resumes_the_same_zlib_stream() {
        let data: Vec<u8> = (0..30_000u32).map(|i| (i % 97) as u8).collect();
        let mut wire = Vec::new();
        Deflater::default()
            .compress(&data[..10_000], &mut wire)
            .unwrap();
        // Idle: the compressor is dropped; the next batch comes from a fresh one, twice.
        Deflater::resume()
            .compress(&data[10_000..20_000], &mut wire)
            .unwrap();
        Deflater::resume()
            .compress(&data[20_000..], &mut wire)
            .unwrap();
        // Plain zlib (as gtk-gnutella inflates, with a 32 KiB window) reads one stream.
        let mut z = Decompress::new(true);
        let mut out = Vec::with_capacity(2 * data.len());
        z.decompress_vec(&wire, &mut out, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, data);
        assert_eq!(z.total_in() as usize, wire.len());
        // So does ours, in chunks far smaller than the data.
        let mut inf = Inflater::default();
        let mut ours = Vec::new();
        let mut input = &wire[..];
        while ours.len() < data.len() {
            let used = inf.inflate_at_most(input, &mut ours, 1000).unwrap();
            input = &input[used..];
        }
        assert_eq!(ours, data);
    }

    #[test]
    fn a_bomb_inflates_one_bounded_chunk_at_a_time() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; 10 << 20]).unwrap();
        z.flush().unwrap();
        let wire = z.get_ref().clone();
        let mut out = Vec::new();
        Inflater::default().inflate(&wire, &mut out).unwrap();
        assert!(out.len() <= INFLATE_CHUNK);
    }
}
