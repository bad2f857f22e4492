//! The Query Routing Protocol descriptor (0x30) payload: RESET (size a table) and PATCH
//! (one chunk of a table update), decoded from hostile bytes into typed values, plus the
//! zlib (RFC 1950, with header) compression of patch data. One compressed stream spans a
//! whole PATCH sequence, so the receiving side inflates with a [`PatchInflater`] that
//! keeps its state from chunk to chunk and never produces more than the table can hold.
//!
//! Layout (all integers little-endian), as in the QRP proposal and gtk-gnutella's
//! `qrp_recv_reset` / `qrp_recv_patch`:
//!
//! | variant | bytes |
//! |---|---|
//! | RESET `0x00` | variant, table length (u32), infinity (u8): exactly 6 bytes |
//! | PATCH `0x01` | variant, seq_no, seq_size, compressor (0 none, 1 zlib), entry bits (1, 2, 4, 8), then at least one data byte |

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::limits::MAX_PAYLOAD_LEN;

/// Variant byte of a RESET.
pub const QRP_RESET: u8 = 0x00;
/// Variant byte of a PATCH.
pub const QRP_PATCH: u8 = 0x01;
/// Length of a RESET payload, bytes: variant, u32 table length, infinity.
pub const QRP_RESET_LEN: usize = 6;
/// Length of a PATCH payload before its data, bytes.
pub const QRP_PATCH_HEADER_LEN: usize = 5;
/// PATCH compressor byte: the data is raw entries.
pub const COMPRESSOR_NONE: u8 = 0x00;
/// PATCH compressor byte: the data is a slice of one zlib stream spanning the sequence.
pub const COMPRESSOR_ZLIB: u8 = 0x01;

/// Smallest table we accept, slots. gtk-gnutella announces an 8-slot table when it shares
/// nothing (its `EMPTY_TABLE_SIZE`); a 1-bit-per-slot table needs whole bytes.
pub const MIN_TABLE_SLOTS: u32 = 8;
/// Largest table we accept, slots: 2^21, gtk-gnutella's `MAX_TABLE_BITS` (it shrinks
/// anything larger; we refuse it). Kept at 1 bit per slot that is 256 KiB per peer.
pub const MAX_TABLE_SLOTS: u32 = 1 << 21;
/// Most PATCH messages in one sequence: seq_size is one byte (gtk-gnutella's
/// `QRT_MAX_SEQSIZE`).
pub const MAX_PATCH_CHUNKS: usize = 255;
/// Most data bytes one PATCH may carry: what is left of the largest payload
/// ([`MAX_PAYLOAD_LEN`]) after the 5-byte PATCH header.
pub const MAX_PATCH_CHUNK_LEN: usize = MAX_PAYLOAD_LEN - QRP_PATCH_HEADER_LEN;

/// Inflation output buffer per step, bytes (gtk-gnutella's `QRT_RECEIVE_BUFSIZE`).
const INFLATE_STEP: usize = 4096;

/// A QRP payload that cannot be accepted. Every one of them ends the table exchange:
/// the driver closes the link (gtk-gnutella says `BYE 413`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrpError {
    /// The variant byte is neither RESET (0) nor PATCH (1); carries the byte.
    #[error("unknown QRP variant 0x{0:02x}")]
    UnknownVariant(u8),
    /// The payload is shorter than its variant needs (a PATCH needs one data byte).
    #[error("QRP {what} is truncated")]
    Truncated {
        /// "reset", "patch" or "payload".
        what: &'static str,
    },
    /// A RESET longer than its 6 bytes.
    #[error("QRP reset has {extra} trailing bytes")]
    TrailingBytes {
        /// Bytes after the sixth.
        extra: usize,
    },
    /// The table length is not a power of two, or outside
    /// [`MIN_TABLE_SLOTS`]..=[`MAX_TABLE_SLOTS`].
    #[error("QRP table length {0} is not a power of two between {MIN_TABLE_SLOTS} and {MAX_TABLE_SLOTS}")]
    TableLength(u32),
    /// Infinity 0: no slot value could mean "absent" (gtk-gnutella refuses it too).
    #[error("QRP infinity 0 is invalid")]
    Infinity,
    /// Entry bits other than 1, 2, 4 or 8.
    #[error("QRP patch entry bits {0} is not 1, 2, 4 or 8")]
    EntryBits(u8),
    /// seq_no is 0 or greater than seq_size.
    #[error("QRP patch seq_no {seq_no} is outside 1..={seq_size}")]
    SeqNo {
        /// The sequence number sent.
        seq_no: u8,
        /// The sequence size sent.
        seq_size: u8,
    },
    /// A compressor other than 0 (none) and 1 (zlib).
    #[error("QRP patch compressor {0} is unknown")]
    Compressor(u8),
    /// A PATCH carries more data than one payload may hold.
    #[error("QRP patch data of {0} bytes exceeds one payload")]
    PatchTooLong(usize),
    /// A PATCH arrived before any RESET sized the table.
    #[error("QRP patch before any reset")]
    PatchBeforeReset,
    /// A PATCH out of order: not the seq_no expected next.
    #[error("QRP patch seq_no {got}, expected {expected}")]
    OutOfOrder {
        /// The seq_no received.
        got: u8,
        /// The seq_no expected.
        expected: u8,
    },
    /// seq_size, entry bits or compressor changed in the middle of a sequence.
    #[error("QRP patch {what} changed in the middle of a sequence")]
    SequenceChanged {
        /// "seq_size", "entry bits" or "compressor".
        what: &'static str,
    },
    /// Patch data goes past the table's last slot.
    #[error("QRP patch overflows the {slots}-slot table")]
    PatchOverflow {
        /// Slots in the table.
        slots: u32,
    },
    /// The last PATCH of a sequence left slots unpatched.
    #[error("QRP patch covered {covered} of {slots} slots")]
    Incomplete {
        /// Slots patched.
        covered: u32,
        /// Slots in the table.
        slots: u32,
    },
    /// Compressed data would inflate past the table's remaining bytes: a bomb, or garbage.
    #[error("QRP patch inflates to more than {limit} bytes")]
    InflatedTooLarge {
        /// The bound it broke, bytes.
        limit: usize,
    },
    /// The zlib stream is corrupt.
    #[error("QRP patch does not inflate: {0}")]
    Zlib(String),
    /// The zlib stream ended before the last PATCH of the sequence.
    #[error("QRP patch zlib stream ended early")]
    EarlyEnd,
}

/// RESET: the sender's table has `table_length` slots, all "absent" (`infinity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QrpReset {
    /// Slots in the table: a power of two.
    pub table_length: u32,
    /// The slot value meaning "absent"; present slots hold less.
    pub infinity: u8,
}

impl QrpReset {
    /// Checks the limits: power-of-two length within
    /// [`MIN_TABLE_SLOTS`]..=[`MAX_TABLE_SLOTS`], infinity at least 1.
    pub fn validate(&self) -> Result<(), QrpError> {
        let len = self.table_length;
        if !len.is_power_of_two() || !(MIN_TABLE_SLOTS..=MAX_TABLE_SLOTS).contains(&len) {
            return Err(QrpError::TableLength(len));
        }
        if self.infinity == 0 {
            return Err(QrpError::Infinity);
        }
        Ok(())
    }
}

/// PATCH: message `seq_no` of `seq_size` carrying a slice of the update's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrpPatch {
    /// 1-based position in the sequence.
    pub seq_no: u8,
    /// Messages in the sequence.
    pub seq_size: u8,
    /// [`COMPRESSOR_NONE`] or [`COMPRESSOR_ZLIB`].
    pub compressor: u8,
    /// Bits per slot entry: 1 (a flip), or 2, 4, 8 (signed deltas: negative = present).
    pub entry_bits: u8,
    /// Entries (or a slice of the zlib stream), slot 0 in the high bits of byte 0.
    pub data: Vec<u8>,
}

impl QrpPatch {
    /// Checks the header fields and the data length.
    pub fn validate(&self) -> Result<(), QrpError> {
        if self.seq_no == 0 || self.seq_no > self.seq_size {
            return Err(QrpError::SeqNo {
                seq_no: self.seq_no,
                seq_size: self.seq_size,
            });
        }
        if !matches!(self.compressor, COMPRESSOR_NONE | COMPRESSOR_ZLIB) {
            return Err(QrpError::Compressor(self.compressor));
        }
        if !matches!(self.entry_bits, 1 | 2 | 4 | 8) {
            return Err(QrpError::EntryBits(self.entry_bits));
        }
        if self.data.is_empty() {
            return Err(QrpError::Truncated { what: "patch" });
        }
        if self.data.len() > MAX_PATCH_CHUNK_LEN {
            return Err(QrpError::PatchTooLong(self.data.len()));
        }
        Ok(())
    }
}

/// One QRP descriptor payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrpMessage {
    /// Variant 0x00.
    Reset(QrpReset),
    /// Variant 0x01.
    Patch(QrpPatch),
}

impl QrpMessage {
    /// Decodes and validates a 0x30 payload; every field is checked.
    pub fn decode(payload: &[u8]) -> Result<QrpMessage, QrpError> {
        let (&variant, rest) = payload
            .split_first()
            .ok_or(QrpError::Truncated { what: "payload" })?;
        match variant {
            QRP_RESET => {
                if payload.len() < QRP_RESET_LEN {
                    return Err(QrpError::Truncated { what: "reset" });
                }
                if payload.len() > QRP_RESET_LEN {
                    return Err(QrpError::TrailingBytes {
                        extra: payload.len() - QRP_RESET_LEN,
                    });
                }
                let reset = QrpReset {
                    table_length: u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]),
                    infinity: rest[4],
                };
                reset.validate()?;
                Ok(QrpMessage::Reset(reset))
            }
            QRP_PATCH => {
                if payload.len() <= QRP_PATCH_HEADER_LEN {
                    return Err(QrpError::Truncated { what: "patch" });
                }
                if payload.len() - QRP_PATCH_HEADER_LEN > MAX_PATCH_CHUNK_LEN {
                    return Err(QrpError::PatchTooLong(payload.len() - QRP_PATCH_HEADER_LEN));
                }
                let patch = QrpPatch {
                    seq_no: rest[0],
                    seq_size: rest[1],
                    compressor: rest[2],
                    entry_bits: rest[3],
                    data: rest[4..].to_vec(),
                };
                patch.validate()?;
                Ok(QrpMessage::Patch(patch))
            }
            other => Err(QrpError::UnknownVariant(other)),
        }
    }

    /// The payload bytes (no validation: encode what you built).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            QrpMessage::Reset(r) => {
                let mut out = Vec::with_capacity(QRP_RESET_LEN);
                out.push(QRP_RESET);
                out.extend_from_slice(&r.table_length.to_le_bytes());
                out.push(r.infinity);
                out
            }
            QrpMessage::Patch(p) => {
                let mut out = Vec::with_capacity(QRP_PATCH_HEADER_LEN + p.data.len());
                out.extend_from_slice(&[
                    QRP_PATCH,
                    p.seq_no,
                    p.seq_size,
                    p.compressor,
                    p.entry_bits,
                ]);
                out.extend_from_slice(&p.data);
                out
            }
        }
    }
}

/// Compresses patch data as one zlib stream (RFC 1950: header, deflate, Adler-32), as
/// gtk-gnutella's `zlib_deflater` and LimeWire's `Deflater` do.
pub fn compress_patch(data: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), true);
    let mut out = Vec::with_capacity(data.len() / 4 + 64);
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.len().max(256));
        }
        let consumed = c.total_in() as usize;
        match c.compress_vec(&data[consumed..], &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return out,
            Ok(_) => {}
            Err(e) => unreachable!("compressing into a growing buffer cannot fail: {e}"),
        }
    }
}

/// Inflates a whole zlib stream, failing with [`QrpError::InflatedTooLarge`] as soon as
/// the output would pass `limit` bytes (nothing past `limit` is ever allocated), with
/// [`QrpError::Zlib`] on corrupt data or a stream missing its end.
pub fn inflate_patch(data: &[u8], limit: usize) -> Result<Vec<u8>, QrpError> {
    let mut inflater = PatchInflater::new();
    let mut out = Vec::new();
    let ended = inflater.feed(data, limit, &mut out)?;
    if !ended {
        return Err(QrpError::Zlib("the stream is unfinished".into()));
    }
    Ok(out)
}

/// The receiving end of a PATCH sequence's zlib stream: fed one chunk at a time, keeping
/// the stream's state in between, as gtk-gnutella's `qrt_handle_patch` does.
pub struct PatchInflater {
    z: Decompress,
    ended: bool,
}

impl Default for PatchInflater {
    fn default() -> Self {
        PatchInflater::new()
    }
}

impl std::fmt::Debug for PatchInflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatchInflater")
            .field("total_in", &self.z.total_in())
            .field("total_out", &self.z.total_out())
            .field("ended", &self.ended)
            .finish()
    }
}

impl PatchInflater {
    /// A fresh zlib stream (with header).
    pub fn new() -> PatchInflater {
        PatchInflater {
            z: Decompress::new(true),
            ended: false,
        }
    }

    /// Inflates `input`, appending to `out`; fails once more than `limit` bytes would be
    /// appended by this call. Returns whether the stream has ended; bytes after its end
    /// are ignored (gtk-gnutella stops reading there too).
    pub fn feed(
        &mut self,
        input: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, QrpError> {
        self.feed_each(input, limit, |bytes| out.extend_from_slice(bytes))
    }

    /// Inflates `input` a few KiB at a time, handing each piece to `each` as it comes out
    /// (nothing is buffered beyond one step, however large the table); fails once more
    /// than `limit` bytes would come out of this call (pieces before that were handed
    /// over). Returns whether the stream has ended.
    pub fn feed_each(
        &mut self,
        input: &[u8],
        limit: usize,
        mut each: impl FnMut(&[u8]),
    ) -> Result<bool, QrpError> {
        let mut step = [0u8; INFLATE_STEP];
        let mut produced = 0usize;
        let mut pos = 0usize;
        while !self.ended {
            let (in0, out0) = (self.z.total_in(), self.z.total_out());
            let status = self
                .z
                .decompress(&input[pos..], &mut step, FlushDecompress::None)
                .map_err(|e| QrpError::Zlib(e.to_string()))?;
            pos += (self.z.total_in() - in0) as usize;
            let n = (self.z.total_out() - out0) as usize;
            if produced + n > limit {
                return Err(QrpError::InflatedTooLarge { limit });
            }
            produced += n;
            each(&step[..n]);
            if status == Status::StreamEnd {
                self.ended = true;
            } else if n == 0 && pos >= input.len() {
                break; // all input used, nothing more to flush: wait for the next chunk
            } else if n == 0 && self.z.total_in() == in0 {
                return Err(QrpError::Zlib("the stream makes no progress".into()));
            }
        }
        Ok(self.ended)
    }

    /// Whether the stream's end has been seen.
    pub fn ended(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(seq_no: u8, seq_size: u8, compressor: u8, bits: u8, data: &[u8]) -> QrpMessage {
        QrpMessage::Patch(QrpPatch {
            seq_no,
            seq_size,
            compressor,
            entry_bits: bits,
            data: data.to_vec(),
        })
    }

    #[test]
    fn reset_wire_bytes_and_round_trip() {
        let m = QrpMessage::Reset(QrpReset {
            table_length: 65536,
            infinity: 7,
        });
        let bytes = m.encode();
        assert_eq!(bytes, [0x00, 0x00, 0x00, 0x01, 0x00, 0x07]);
        assert_eq!(QrpMessage::decode(&bytes), Ok(m));
    }

    #[test]
    fn patch_wire_bytes_and_round_trip() {
        let m = patch(1, 2, COMPRESSOR_ZLIB, 4, &[0xAB, 0xCD]);
        let bytes = m.encode();
        assert_eq!(bytes, [0x01, 1, 2, 1, 4, 0xAB, 0xCD]);
        assert_eq!(QrpMessage::decode(&bytes), Ok(m));
    }

    #[test]
    fn hostile_headers_are_typed_errors() {
        use QrpError::*;
        let cases: Vec<(Vec<u8>, QrpError)> = vec![
            (vec![], Truncated { what: "payload" }),
            (vec![0x02], UnknownVariant(2)),
            (vec![0x00, 0, 0, 1], Truncated { what: "reset" }),
            (vec![0x00, 0, 0, 1, 0, 7, 9], TrailingBytes { extra: 1 }),
            (vec![0x00, 0xFF, 0xFF, 0xFF, 0xFF, 7], TableLength(u32::MAX)),
            (vec![0x00, 0, 0, 0, 0x80, 7], TableLength(1 << 31)),
            (vec![0x00, 0, 0, 0x40, 0, 7], TableLength(1 << 22)),
            (vec![0x00, 4, 0, 0, 0, 7], TableLength(4)),
            (vec![0x00, 0, 0, 0, 0, 7], TableLength(0)),
            (vec![0x00, 0, 0x30, 0, 0, 7], TableLength(0x3000)),
            (vec![0x00, 0, 0, 1, 0, 0], Infinity),
            (vec![0x01, 1, 1, 0, 4], Truncated { what: "patch" }),
            (
                vec![0x01, 0, 1, 0, 4, 0],
                SeqNo {
                    seq_no: 0,
                    seq_size: 1,
                },
            ),
            (
                vec![0x01, 3, 2, 0, 4, 0],
                SeqNo {
                    seq_no: 3,
                    seq_size: 2,
                },
            ),
            (
                vec![0x01, 1, 0, 0, 4, 0],
                SeqNo {
                    seq_no: 1,
                    seq_size: 0,
                },
            ),
            (vec![0x01, 1, 1, 2, 4, 0], Compressor(2)),
            (vec![0x01, 1, 1, 0, 3, 0], EntryBits(3)),
            (vec![0x01, 1, 1, 0, 0, 0], EntryBits(0)),
            (vec![0x01, 1, 1, 0, 16, 0], EntryBits(16)),
        ];
        for (bytes, want) in cases {
            assert_eq!(QrpMessage::decode(&bytes), Err(want), "{bytes:02x?}");
        }
        let mut long = vec![0x01, 1, 1, 0, 4];
        long.resize(QRP_PATCH_HEADER_LEN + MAX_PATCH_CHUNK_LEN + 1, 0);
        assert_eq!(
            QrpMessage::decode(&long),
            Err(PatchTooLong(MAX_PATCH_CHUNK_LEN + 1))
        );
    }

    #[test]
    fn limits_are_accepted_at_their_edges() {
        for len in [MIN_TABLE_SLOTS, 1 << 16, MAX_TABLE_SLOTS] {
            let r = QrpReset {
                table_length: len,
                infinity: 1,
            };
            assert_eq!(
                QrpMessage::decode(&QrpMessage::Reset(r).encode()),
                Ok(QrpMessage::Reset(r))
            );
        }
        for bits in [1, 2, 4, 8] {
            assert!(QrpMessage::decode(&patch(255, 255, 0, bits, &[0]).encode()).is_ok());
        }
    }

    #[test]
    fn zlib_round_trip_has_a_zlib_header() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
        let z = compress_patch(&raw);
        assert_eq!(z[0] & 0x0F, 8, "CM = deflate in a zlib header");
        assert_eq!((u16::from(z[0]) << 8 | u16::from(z[1])) % 31, 0, "FCHECK");
        assert!(z.len() < raw.len() / 10);
        assert_eq!(inflate_patch(&z, raw.len()), Ok(raw.clone()));
        assert_eq!(
            inflate_patch(&z, raw.len() - 1),
            Err(QrpError::InflatedTooLarge {
                limit: raw.len() - 1
            })
        );
        assert!(compress_patch(&[]).len() > 2);
        assert_eq!(inflate_patch(&compress_patch(&[]), 0), Ok(vec![]));
    }

    #[test]
    fn inflater_takes_the_stream_in_slices() {
        let raw: Vec<u8> = (0..50_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let z = compress_patch(&raw);
        let mut inf = PatchInflater::new();
        let mut out = Vec::new();
        let chunks: Vec<&[u8]> = z.chunks(97).collect();
        for (i, c) in chunks.iter().enumerate() {
            let ended = inf.feed(c, raw.len() - out.len(), &mut out).unwrap();
            assert_eq!(ended, i == chunks.len() - 1);
        }
        assert_eq!(out, raw);
    }

    #[test]
    fn zlib_bomb_and_garbage_are_bounded() {
        let bomb = compress_patch(&vec![0u8; 4 << 20]);
        assert!(bomb.len() < 8 * 1024);
        assert_eq!(
            inflate_patch(&bomb, 1 << 18),
            Err(QrpError::InflatedTooLarge { limit: 1 << 18 })
        );
        assert!(matches!(
            inflate_patch(b"not zlib at all", 1000),
            Err(QrpError::Zlib(_))
        ));
        // Raw deflate (GGEP's and the link's style) is not QRP's zlib.
        let mut raw = Vec::new();
        let mut c = Compress::new(Compression::default(), false);
        c.compress_vec(b"abcabcabc", &mut raw, FlushCompress::Finish)
            .unwrap();
        assert!(matches!(inflate_patch(&raw, 1000), Err(QrpError::Zlib(_))));
        let z = compress_patch(b"hello hello hello");
        assert!(matches!(
            inflate_patch(&z[..z.len() - 3], 1000),
            Err(QrpError::Zlib(_))
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u32 = 0x1234_5678;
        for len in 0..64 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        (x >> 24) as u8 & if len % 2 == 0 { 0x0F } else { 0xFF }
                    })
                    .collect();
                if let Ok(m) = QrpMessage::decode(&bytes) {
                    assert_eq!(m.encode(), bytes);
                }
                let _ = inflate_patch(&bytes, 4096);
            }
        }
    }
}
