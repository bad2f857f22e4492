//! Sending a table: the RESET (when the peer has no table of this size yet) and the PATCH
//! sequence that turns the peer's copy of our old table into the new one.
//!
//! Entries, slot 0 in the high bits of the first byte (gtk-gnutella's `qrt_diff_4` and
//! `qrt_diff_1`):
//! - 1 bit: a flip (old XOR new);
//! - 2, 4 or 8 bits: a signed delta on the slot's value, where "absent" is `infinity`
//!   and "present" is 1: a newly present slot gets `1 - infinity`, a removed one
//!   `infinity - 1`, each clamped to what the entry can hold and at least 1 in size
//!   (receivers look only at the sign, gtk-gnutella explicitly); unchanged slots get 0.
//!
//! The entries are compressed as one zlib stream (or sent raw) and cut into chunks, each
//! one PATCH, numbered 1..=seq_size.

use super::table::QueryRoutingTable;
use crate::proto::qrp::{
    compress_patch, QrpMessage, QrpPatch, QrpReset, COMPRESSOR_NONE, COMPRESSOR_ZLIB,
    MAX_PATCH_CHUNKS, MAX_PATCH_CHUNK_LEN,
};

/// How to encode a table update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchOptions {
    /// The RESET's infinity (at least 1).
    pub infinity: u8,
    /// Bits per entry: 1, 2, 4 or 8.
    pub entry_bits: u8,
    /// Largest data per PATCH, bytes; raised when 255 chunks would not hold the update,
    /// capped at what one payload holds.
    pub chunk_bytes: usize,
    /// Whether to zlib-compress the entries.
    pub compress: bool,
}

impl Default for PatchOptions {
    /// [`super::DEFAULT_INFINITY`], [`super::DEFAULT_ENTRY_BITS`],
    /// [`super::DEFAULT_CHUNK_BYTES`], compressed.
    fn default() -> Self {
        PatchOptions {
            infinity: super::DEFAULT_INFINITY,
            entry_bits: super::DEFAULT_ENTRY_BITS,
            chunk_bytes: super::DEFAULT_CHUNK_BYTES,
            compress: true,
        }
    }
}

/// The messages that bring a peer holding `old` (None: nothing yet) to `new`, compressed:
/// [`table_update_with`] with `compress: true`.
pub fn table_update(
    new: &QueryRoutingTable,
    old: Option<&QueryRoutingTable>,
    infinity: u8,
    entry_bits: u8,
    chunk_bytes: usize,
) -> Vec<QrpMessage> {
    table_update_with(
        new,
        old,
        PatchOptions {
            infinity,
            entry_bits,
            chunk_bytes,
            compress: true,
        },
    )
}

/// The messages that bring a peer holding `old` to `new`: a RESET first when there is no
/// old table or its size differs (the patch is then against an empty table), then the
/// PATCH sequence. Nothing at all when `old` equals `new`.
///
/// # Panics
/// If `entry_bits` is not 1, 2, 4 or 8 or `infinity` is 0 (programming errors).
pub fn table_update_with(
    new: &QueryRoutingTable,
    old: Option<&QueryRoutingTable>,
    opts: PatchOptions,
) -> Vec<QrpMessage> {
    assert!(
        matches!(opts.entry_bits, 1 | 2 | 4 | 8),
        "QRP entry bits {}",
        opts.entry_bits
    );
    assert!(opts.infinity > 0, "QRP infinity 0");
    let base = old.filter(|o| o.bits() == new.bits());
    if base == Some(new) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if base.is_none() {
        out.push(QrpMessage::Reset(QrpReset {
            table_length: new.slots(),
            infinity: opts.infinity,
        }));
    }
    let entries = encode_entries(new, base, opts.entry_bits, opts.infinity);
    let (data, compressor) = if opts.compress {
        (compress_patch(&entries), COMPRESSOR_ZLIB)
    } else {
        (entries, COMPRESSOR_NONE)
    };
    let chunk = opts
        .chunk_bytes
        .max(data.len().div_ceil(MAX_PATCH_CHUNKS))
        .clamp(1, MAX_PATCH_CHUNK_LEN);
    let chunks: Vec<&[u8]> = data.chunks(chunk).collect();
    let seq_size = chunks.len() as u8; // at most 255: 2^21 slots * 8 bits / 255 < 64 KiB
    for (n, c) in chunks.into_iter().enumerate() {
        out.push(QrpMessage::Patch(QrpPatch {
            seq_no: n as u8 + 1,
            seq_size,
            compressor,
            entry_bits: opts.entry_bits,
            data: c.to_vec(),
        }));
    }
    out
}

/// The raw entries (before compression) turning `old` (None: empty) into `new`.
fn encode_entries(
    new: &QueryRoutingTable,
    old: Option<&QueryRoutingTable>,
    bits: u8,
    infinity: u8,
) -> Vec<u8> {
    let slots = new.slots() as usize;
    let old_bytes = old.map(QueryRoutingTable::as_bytes);
    if bits == 1 {
        return match old_bytes {
            Some(o) => new.as_bytes().iter().zip(o).map(|(n, o)| n ^ o).collect(),
            None => new.as_bytes().to_vec(),
        };
    }
    let max_positive = (1u8 << (bits - 1)) - 1; // 1, 7 or 127
    let step = (infinity - 1).clamp(1, max_positive);
    let mask = if bits == 8 { 0xFF } else { (1u8 << bits) - 1 };
    let present = step.wrapping_neg() & mask; // two's complement in `bits` bits
    let absent = step;
    let per_byte = 8 / bits as usize;
    let mut out = vec![0u8; slots / per_byte];
    for i in 0..slots as u32 {
        let now = new.slot(i);
        let before = old.is_some_and(|o| o.slot(i));
        let entry = match (before, now) {
            (false, true) => present,
            (true, false) => absent,
            _ => continue,
        };
        let pos = i as usize % per_byte;
        let shift = 8 - bits as usize * (pos + 1);
        out[i as usize / per_byte] |= entry << shift;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::qrp::inflate_patch;

    fn table(slots: &[u32], bits: u8) -> QueryRoutingTable {
        let mut t = QueryRoutingTable::new(bits);
        for &s in slots {
            t.set_slot(s);
        }
        t
    }

    fn patches(msgs: &[QrpMessage]) -> Vec<&QrpPatch> {
        msgs.iter()
            .filter_map(|m| match m {
                QrpMessage::Patch(p) => Some(p),
                QrpMessage::Reset(_) => None,
            })
            .collect()
    }

    #[test]
    fn four_bit_entries_as_gtk_gnutella_and_limewire_send_them() {
        let t = table(&[0, 3], 3);
        // infinity 2 (gtk-gnutella): present = -1 = 0xF.
        assert_eq!(encode_entries(&t, None, 4, 2), [0xF0, 0x0F, 0, 0]);
        // infinity 7 (LimeWire): present = 1 - 7 = -6 = 0xA; removed = +6.
        assert_eq!(encode_entries(&t, None, 4, 7), [0xA0, 0x0A, 0, 0]);
        let old = table(&[3, 5], 3);
        assert_eq!(encode_entries(&t, Some(&old), 4, 7), [0xA0, 0x00, 0x06, 0]);
        assert_eq!(encode_entries(&t, Some(&old), 1, 7), [0b1000_0100]);
        assert_eq!(
            encode_entries(&t, None, 8, 7),
            [0xFA, 0, 0, 0xFA, 0, 0, 0, 0]
        );
        assert_eq!(encode_entries(&t, None, 2, 7), [0b1100_0011, 0]);
        // infinity 1 still makes a negative delta.
        assert_eq!(encode_entries(&t, None, 4, 1), [0xF0, 0x0F, 0, 0]);
    }

    #[test]
    fn reset_only_when_needed_and_nothing_when_unchanged() {
        let a = table(&[1, 2, 3], 8);
        let b = table(&[1, 2, 4], 8);
        let first = table_update(&a, None, 7, 4, 512);
        assert!(matches!(
            first[0],
            QrpMessage::Reset(QrpReset {
                table_length: 256,
                infinity: 7
            })
        ));
        assert_eq!(patches(&first).len(), 1);
        assert!(table_update(&a, Some(&a), 7, 4, 512).is_empty());
        let next = table_update(&b, Some(&a), 7, 4, 512);
        assert!(matches!(next[0], QrpMessage::Patch(_)));
        let resized = table_update(&table(&[1], 9), Some(&a), 7, 4, 512);
        assert!(matches!(resized[0], QrpMessage::Reset(_)));
    }

    #[test]
    fn chunks_cover_the_stream_in_order() {
        let t = QueryRoutingTable::from_keywords((0..3000).map(|i| format!("w{i}")), 16);
        let msgs = table_update_with(
            &t,
            None,
            PatchOptions {
                chunk_bytes: 100,
                ..PatchOptions::default()
            },
        );
        let ps = patches(&msgs);
        assert!(ps.len() > 5);
        let mut stream = Vec::new();
        for (n, p) in ps.iter().enumerate() {
            assert_eq!(usize::from(p.seq_no), n + 1);
            assert_eq!(usize::from(p.seq_size), ps.len());
            assert!(p.data.len() <= 100);
            assert_eq!(p.compressor, COMPRESSOR_ZLIB);
            assert!(p.validate().is_ok());
            stream.extend_from_slice(&p.data);
        }
        let raw = inflate_patch(&stream, 1 << 15).unwrap();
        assert_eq!(raw, encode_entries(&t, None, 4, 7));
    }

    #[test]
    fn big_uncompressed_update_raises_the_chunk_size() {
        let t = table(&[0, 99_999], 21);
        let msgs = table_update_with(
            &t,
            None,
            PatchOptions {
                entry_bits: 8,
                compress: false,
                chunk_bytes: 512,
                ..PatchOptions::default()
            },
        );
        let ps = patches(&msgs);
        assert_eq!(ps.len(), MAX_PATCH_CHUNKS);
        assert!(ps.iter().all(|p| p.validate().is_ok()));
        let total: usize = ps.iter().map(|p| p.data.len()).sum();
        assert_eq!(total, 1 << 21);
    }
}
