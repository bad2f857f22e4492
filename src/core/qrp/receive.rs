//! Rebuilding a peer's table from its RESET and PATCH messages, which are hostile: sizes
//! are checked before anything is allocated, the sequence must run 1..=seq_size with the
//! same size, entry bits and compressor, data may not pass the table's last slot (the
//! zlib stream is inflated at most to the table's remaining bytes) and the last PATCH must
//! have covered every slot. Any error leaves the receiver without a table: the driver
//! closes the link (gtk-gnutella's `qrt_handle_reset` / `qrt_handle_patch` say BYE 413).
//!
//! Entries are read as gtk-gnutella's `qrt_apply_patch*` read them: 1 bit flips the slot;
//! 2, 4 or 8 bits are signed deltas, negative = present, positive = absent, 0 = unchanged.
//! Tables keep the size their sender chose (8 to 2^21 slots): routing hashes with the
//! table's own bits.

use super::table::QueryRoutingTable;
use crate::proto::qrp::{PatchInflater, QrpError, QrpMessage, QrpPatch, QrpReset, COMPRESSOR_ZLIB};

/// A PATCH sequence under way.
#[derive(Debug)]
struct Sequence {
    seq_size: u8,
    next_seq_no: u8,
    entry_bits: u8,
    compressor: u8,
    /// Next slot to patch.
    slot: u32,
    inflater: PatchInflater,
}

/// The table a peer is sending us, message by message.
#[derive(Debug, Default)]
pub struct QrpReceiver {
    /// The table as patched so far (None before a RESET or after an error).
    table: Option<QueryRoutingTable>,
    infinity: u8,
    sequence: Option<Sequence>,
}

impl QrpReceiver {
    /// A receiver expecting a RESET.
    pub fn new() -> QrpReceiver {
        QrpReceiver::default()
    }

    /// Takes the next message: `Ok(Some(table))` when it completed a PATCH sequence (the
    /// peer's whole table, to route by), `Ok(None)` while one is under way or after a
    /// RESET. A later sequence (seq_no 1 again, no RESET) patches that table further.
    pub fn handle(&mut self, msg: QrpMessage) -> Result<Option<QueryRoutingTable>, QrpError> {
        let result = match msg {
            QrpMessage::Reset(r) => self.reset(r).map(|()| None),
            QrpMessage::Patch(p) => self.patch(&p),
        };
        if result.is_err() {
            self.table = None;
            self.sequence = None;
        }
        result
    }

    /// The RESET's infinity (0 before any RESET).
    pub fn infinity(&self) -> u8 {
        self.infinity
    }

    /// Whether a PATCH sequence is under way.
    pub fn in_sequence(&self) -> bool {
        self.sequence.is_some()
    }

    fn reset(&mut self, r: QrpReset) -> Result<(), QrpError> {
        r.validate()?; // bounds the allocation below
        self.table = Some(QueryRoutingTable::new(r.table_length.trailing_zeros() as u8));
        self.infinity = r.infinity;
        self.sequence = None;
        Ok(())
    }

    fn patch(&mut self, p: &QrpPatch) -> Result<Option<QueryRoutingTable>, QrpError> {
        p.validate()?;
        let Some(table) = self.table.as_mut() else {
            return Err(QrpError::PatchBeforeReset);
        };
        let seq = match self.sequence.as_mut() {
            None if p.seq_no != 1 => {
                return Err(QrpError::OutOfOrder {
                    got: p.seq_no,
                    expected: 1,
                })
            }
            None => self.sequence.insert(Sequence {
                seq_size: p.seq_size,
                next_seq_no: 1,
                entry_bits: p.entry_bits,
                compressor: p.compressor,
                slot: 0,
                inflater: PatchInflater::new(),
            }),
            Some(s) => s,
        };
        check_continues(seq, p)?;
        seq.next_seq_no = seq.next_seq_no.wrapping_add(1);
        let last = p.seq_no == seq.seq_size;
        let remaining_slots = table.slots() - seq.slot;
        let remaining_bytes = (remaining_slots as usize * usize::from(seq.entry_bits)).div_ceil(8);
        if seq.compressor == COMPRESSOR_ZLIB {
            // Entries are applied as they are inflated: nothing the size of the table is
            // buffered per link (an error drops the half-patched table anyway).
            let Sequence {
                inflater,
                slot,
                entry_bits,
                ..
            } = seq;
            let slots = table.slots();
            let ended = inflater
                .feed_each(&p.data, remaining_bytes, |entries| {
                    apply_entries(table, slot, *entry_bits, entries)
                })
                .map_err(|e| match e {
                    QrpError::InflatedTooLarge { .. } => QrpError::PatchOverflow { slots },
                    other => other,
                })?;
            if ended && !last {
                return Err(QrpError::EarlyEnd);
            }
        } else {
            if p.data.len() > remaining_bytes {
                return Err(QrpError::PatchOverflow {
                    slots: table.slots(),
                });
            }
            apply_entries(table, &mut seq.slot, seq.entry_bits, &p.data);
        }
        if !last {
            return Ok(None);
        }
        let covered = seq.slot;
        self.sequence = None;
        if covered < table.slots() {
            return Err(QrpError::Incomplete {
                covered,
                slots: table.slots(),
            });
        }
        Ok(Some(table.clone()))
    }
}

/// A PATCH must be the next of its sequence, with the sequence's size, bits, compressor.
fn check_continues(seq: &Sequence, p: &QrpPatch) -> Result<(), QrpError> {
    if p.seq_no != seq.next_seq_no {
        return Err(QrpError::OutOfOrder {
            got: p.seq_no,
            expected: seq.next_seq_no,
        });
    }
    let changed = if p.seq_size != seq.seq_size {
        Some("seq_size")
    } else if p.entry_bits != seq.entry_bits {
        Some("entry bits")
    } else if p.compressor != seq.compressor {
        Some("compressor")
    } else {
        None
    };
    match changed {
        Some(what) => Err(QrpError::SequenceChanged { what }),
        None => Ok(()),
    }
}

/// Applies entries from slot `*slot` on; the caller has checked they fit.
fn apply_entries(table: &mut QueryRoutingTable, slot: &mut u32, bits: u8, entries: &[u8]) {
    if bits == 1 && *slot % 8 == 0 {
        let first = (*slot / 8) as usize;
        for (n, &b) in entries.iter().enumerate() {
            table.flip_byte(first + n, b);
        }
        *slot += entries.len() as u32 * 8;
        return;
    }
    let per_byte = 8 / u32::from(bits);
    let mask = if bits == 8 { 0xFF } else { (1u8 << bits) - 1 };
    let sign = 1u8 << (bits - 1);
    for &b in entries {
        for k in 0..per_byte {
            let shift = 8 - u32::from(bits) * (k + 1);
            let e = (b >> shift) & mask;
            if bits == 1 {
                if e != 0 {
                    if table.slot(*slot) {
                        table.clear_slot(*slot);
                    } else {
                        table.set_slot(*slot);
                    }
                }
            } else if e & sign != 0 {
                table.set_slot(*slot);
            } else if e != 0 {
                table.clear_slot(*slot);
            }
            *slot += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::qrp::patch::{table_update_with, PatchOptions};
    use crate::proto::qrp::{compress_patch, COMPRESSOR_NONE};

    fn reset(len: u32) -> QrpMessage {
        QrpMessage::Reset(QrpReset {
            table_length: len,
            infinity: 7,
        })
    }

    fn patch(seq_no: u8, seq_size: u8, compressor: u8, bits: u8, data: Vec<u8>) -> QrpMessage {
        QrpMessage::Patch(QrpPatch {
            seq_no,
            seq_size,
            compressor,
            entry_bits: bits,
            data,
        })
    }

    fn receive(msgs: Vec<QrpMessage>) -> Result<Option<QueryRoutingTable>, QrpError> {
        let mut r = QrpReceiver::new();
        let mut last = None;
        for m in msgs {
            last = r.handle(m)?;
        }
        Ok(last)
    }

    #[test]
    fn applies_each_entry_size() {
        // 8 slots: slots 0 and 3 present.
        for (bits, data) in [
            (1, vec![0b1001_0000]),
            (2, vec![0b1100_0011, 0]),
            (4, vec![0xA0, 0x0F, 0, 0]),
            (8, vec![0x80, 0, 0, 0xFF, 0, 0, 0, 0]),
        ] {
            let t = receive(vec![reset(8), patch(1, 1, COMPRESSOR_NONE, bits, data)])
                .unwrap()
                .unwrap();
            assert_eq!(t.set_slots().collect::<Vec<_>>(), [0, 3], "{bits} bits");
        }
    }

    #[test]
    fn round_trip_every_option() {
        let t = QueryRoutingTable::from_keywords((0..700).map(|i| format!("k{i}")), 13);
        for bits in [1, 2, 4, 8] {
            for compress in [false, true] {
                for chunk_bytes in [64, 512, 100_000] {
                    let opts = PatchOptions {
                        infinity: 7,
                        entry_bits: bits,
                        chunk_bytes,
                        compress,
                    };
                    let got = receive(table_update_with(&t, None, opts)).unwrap();
                    assert_eq!(got.as_ref(), Some(&t), "{opts:?}");
                }
            }
        }
    }

    #[test]
    fn update_without_reset_patches_the_last_table() {
        let a = QueryRoutingTable::from_keywords(["one", "two", "three"], 10);
        let b = QueryRoutingTable::from_keywords(["two", "four"], 10);
        for bits in [1, 4] {
            let opts = PatchOptions {
                entry_bits: bits,
                ..PatchOptions::default()
            };
            let mut r = QrpReceiver::new();
            let mut got = None;
            for m in table_update_with(&a, None, opts) {
                got = r.handle(m).unwrap();
            }
            assert_eq!(got.as_ref(), Some(&a));
            let msgs = table_update_with(&b, Some(&a), opts);
            assert!(matches!(msgs[0], QrpMessage::Patch(_)));
            for m in msgs {
                got = r.handle(m).unwrap();
            }
            assert_eq!(got, Some(b.clone()));
        }
    }

    #[test]
    fn sequence_errors() {
        let z = compress_patch(&[0u8; 512]);
        let (a, b) = z.split_at(z.len() / 2);
        use QrpError::*;
        for (msgs, want) in [
            (vec![patch(1, 1, 0, 4, vec![0; 512])], PatchBeforeReset),
            (
                vec![reset(1024), patch(2, 2, 0, 4, vec![0; 256])],
                OutOfOrder {
                    got: 2,
                    expected: 1,
                },
            ),
            (
                vec![
                    reset(1024),
                    patch(1, 3, 0, 4, vec![0; 10]),
                    patch(3, 3, 0, 4, vec![0; 10]),
                ],
                OutOfOrder {
                    got: 3,
                    expected: 2,
                },
            ),
            (
                vec![
                    reset(1024),
                    patch(1, 2, 0, 4, vec![0; 10]),
                    patch(2, 3, 0, 4, vec![0; 10]),
                ],
                SequenceChanged { what: "seq_size" },
            ),
            (
                vec![
                    reset(1024),
                    patch(1, 2, 0, 4, vec![0; 10]),
                    patch(2, 2, 0, 8, vec![0; 10]),
                ],
                SequenceChanged { what: "entry bits" },
            ),
            (
                vec![
                    reset(1024),
                    patch(1, 2, 1, 4, a.to_vec()),
                    patch(2, 2, 0, 4, b.to_vec()),
                ],
                SequenceChanged { what: "compressor" },
            ),
            (
                vec![reset(1024), patch(1, 1, 0, 4, vec![0; 513])],
                PatchOverflow { slots: 1024 },
            ),
            (
                vec![reset(1024), patch(1, 1, 0, 4, vec![0; 511])],
                Incomplete {
                    covered: 1022,
                    slots: 1024,
                },
            ),
            (vec![reset(1024), patch(1, 2, 1, 4, z.clone())], EarlyEnd),
            (
                vec![reset(1024), patch(1, 1, 1, 4, compress_patch(&[0u8; 513]))],
                PatchOverflow { slots: 1024 },
            ),
        ] {
            assert_eq!(receive(msgs), Err(want.clone()), "{want}");
        }
    }

    #[test]
    fn hostile_sizes_and_streams() {
        let huge = QrpMessage::Reset(QrpReset {
            table_length: 1 << 31,
            infinity: 7,
        });
        assert_eq!(receive(vec![huge]), Err(QrpError::TableLength(1 << 31)));
        let zero_inf = QrpMessage::Reset(QrpReset {
            table_length: 64,
            infinity: 0,
        });
        assert_eq!(receive(vec![zero_inf]), Err(QrpError::Infinity));
        let garbage = receive(vec![reset(1024), patch(1, 1, 1, 4, b"garbage!".to_vec())]);
        assert!(matches!(garbage, Err(QrpError::Zlib(_))), "{garbage:?}");
        // A bomb: 16 MiB of zeros against a 2^21-slot 8-bit table (2 MiB) fails at the
        // table's end, having inflated at most that.
        let bomb = compress_patch(&vec![0u8; 16 << 20]);
        assert!(bomb.len() < 20_000);
        assert_eq!(
            receive(vec![reset(1 << 21), patch(1, 1, 1, 8, bomb)]),
            Err(QrpError::PatchOverflow { slots: 1 << 21 })
        );
    }

    #[test]
    fn a_completed_table_is_shared_until_a_later_sequence_changes_it() {
        // 64 slots, 1-bit entries, compressed: slots 0..8 set, then slot 0 flipped off.
        let first = compress_patch(&[0xFF, 0, 0, 0, 0, 0, 0, 0]);
        let second = compress_patch(&[0x80, 0, 0, 0, 0, 0, 0, 0]);
        let mut r = QrpReceiver::new();
        r.handle(reset(64)).unwrap();
        let t1 = r.handle(patch(1, 1, 1, 1, first)).unwrap().unwrap();
        assert_eq!(t1.set_count(), 8);
        let kept = r.table.as_ref().unwrap();
        assert!(
            t1.shares_bytes_with(kept),
            "the receiver and the caller share"
        );
        let t2 = r.handle(patch(1, 1, 1, 1, second)).unwrap().unwrap();
        assert_eq!((t1.set_count(), t2.set_count()), (8, 7));
        assert!(t1.slot(0) && !t2.slot(0), "the first table is untouched");
        assert!(!t1.shares_bytes_with(&t2));
    }

    #[test]
    fn error_drops_the_table_and_reset_starts_over() {
        let mut r = QrpReceiver::new();
        assert!(r.handle(reset(64)).unwrap().is_none());
        assert!(r.handle(patch(2, 2, 0, 4, vec![0; 16])).is_err());
        assert_eq!(
            r.handle(patch(1, 1, 0, 4, vec![0; 32])),
            Err(QrpError::PatchBeforeReset)
        );
        r.handle(reset(64)).unwrap();
        r.handle(patch(1, 2, 0, 4, vec![0xF0; 16])).unwrap();
        assert!(r.in_sequence());
        r.handle(reset(32)).unwrap(); // a RESET mid-sequence starts over
        assert!(!r.in_sequence());
        let t = r.handle(patch(1, 1, 0, 1, vec![0xFF; 4])).unwrap().unwrap();
        assert_eq!((t.slots(), t.set_count()), (32, 32));
    }
}
