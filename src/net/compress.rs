//! Deflate-compressed links (`Content-Encoding: deflate`): a zlib stream in each direction,
//! sync-flushed after every batch so the peer can decode what it has. Inflation is done in
//! bounded chunks, so a decompression bomb yields at most one chunk at a time.

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

/// The peer's side of a compressed link: inflates in chunks of at most [`INFLATE_CHUNK`].
/// Inflates into its own scratch chunk (zeroed once per link, not once per read) and
/// copies out only what came out.
pub struct Inflater {
    stream: Decompress,
    scratch: Box<[u8]>,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater {
            stream: Decompress::new(true),
            scratch: vec![0u8; INFLATE_CHUNK].into_boxed_slice(),
        }
    }
}

impl Inflater {
    /// Inflates from `input` into `out`, producing at most [`INFLATE_CHUNK`] bytes.
    /// Returns how many input bytes were consumed; call again with the rest.
    pub fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, CompressError> {
        let (before_in, before_out) = (self.stream.total_in(), self.stream.total_out());
        let status = self
            .stream
            .decompress(input, &mut self.scratch, FlushDecompress::Sync)
            .map_err(|e| CompressError(e.to_string()));
        let produced = (self.stream.total_out() - before_out) as usize;
        out.extend_from_slice(&self.scratch[..produced]);
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
