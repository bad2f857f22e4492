//! A query routing table: 2^bits slots, one bit each ("some file has a word hashing
//! here"), stored as gtk-gnutella compacts its tables: slot `i` is bit `7 - i % 8` of byte
//! `i / 8`. The routing rule ([`QueryRoutingTable::may_route`]) and the OR-merge of leaf
//! tables into an ultrapeer's are gtk-gnutella's. The bytes are shared copy-on-write:
//! a clone (the table a receiver completes and the servent routes by, the merged table
//! every ultrapeer link was sent) costs a reference count until one side changes it.

use std::sync::Arc;

use super::hash::{qrp_hash, slot_of};
use super::keys::QueryKeys;

/// Fewest slot bits a table may have: 8 slots, gtk-gnutella's empty table.
pub const MIN_TABLE_BITS: u8 = 3;
/// Most slot bits a table may have: 2^21 slots (gtk-gnutella's `MAX_TABLE_BITS`).
pub const MAX_TABLE_BITS: u8 = 21;

/// One servent's (or one merged set of servents') query routing table.
#[derive(Clone, PartialEq, Eq)]
pub struct QueryRoutingTable {
    bits: u8,
    /// The slots' bits (2^bits / 8 bytes), shared by clones until one is changed.
    arena: Arc<Vec<u8>>,
    set_count: u32,
}

impl std::fmt::Debug for QueryRoutingTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryRoutingTable")
            .field("slots", &self.slots())
            .field("set", &self.set_count)
            .finish()
    }
}

impl QueryRoutingTable {
    /// An empty table of 2^`bits` slots.
    ///
    /// # Panics
    /// If `bits` is outside [`MIN_TABLE_BITS`]..=[`MAX_TABLE_BITS`] (a programming error:
    /// sizes from the network are checked by the receiver first).
    pub fn new(bits: u8) -> QueryRoutingTable {
        assert!(
            (MIN_TABLE_BITS..=MAX_TABLE_BITS).contains(&bits),
            "QRP table bits {bits} outside {MIN_TABLE_BITS}..={MAX_TABLE_BITS}"
        );
        QueryRoutingTable {
            bits,
            arena: Arc::new(vec![0; (1usize << bits) / 8]),
            set_count: 0,
        }
    }

    /// A table of 2^`bits` slots holding `words` (already canonical, e.g. from
    /// [`super::table_words`]).
    pub fn from_keywords<S: AsRef<str>>(
        words: impl IntoIterator<Item = S>,
        bits: u8,
    ) -> QueryRoutingTable {
        let mut t = QueryRoutingTable::new(bits);
        for w in words {
            t.insert_word(w.as_ref());
        }
        t
    }

    /// Sets the slot of a canonical word.
    pub fn insert_word(&mut self, word: &str) {
        self.set_slot(qrp_hash(word, self.bits));
    }

    /// Sets the slot of a 32-bit hash code.
    pub fn insert_hashcode(&mut self, hashcode: u32) {
        self.set_slot(slot_of(hashcode, self.bits));
    }

    /// Whether the slot of a 32-bit hash code is set.
    pub fn contains_hashcode(&self, hashcode: u32) -> bool {
        self.slot(slot_of(hashcode, self.bits))
    }

    /// Whether a query with these keys may match something behind this table
    /// (gtk-gnutella's `qrp_can_route`): a URN whose slot is set routes at once;
    /// otherwise every word must hit when there are fewer than 3, two thirds of them
    /// (rounded down) from 3 on. URNs with no word and no URN hit do not route. Keys with
    /// nothing hashable (neither words nor URNs) cannot be judged and route.
    pub fn may_route(&self, keys: &QueryKeys) -> bool {
        if keys.urns().iter().any(|&h| self.contains_hashcode(h)) {
            return true;
        }
        let words = keys.words().len();
        if words == 0 {
            return keys.urns().is_empty();
        }
        let hits = keys
            .words()
            .iter()
            .filter(|&&h| self.contains_hashcode(h))
            .count();
        if words < 3 {
            hits == words
        } else {
            3 * hits / words >= 2
        }
    }

    /// ORs `other` into this table. A smaller table's slot covers 2^k slots of a larger
    /// one (the hash's next bits), so it is spread over all of them, as gtk-gnutella
    /// merges leaf tables into its own; a larger table is folded down (a slot is set when
    /// any slot it covers is): both only ever add routes, never lose one.
    pub fn merge_from(&mut self, other: &QueryRoutingTable) {
        if other.bits <= self.bits {
            let shift = self.bits - other.bits;
            let span = 1u32 << shift;
            for i in other.set_slots() {
                for j in (i << shift)..(i << shift) + span {
                    self.set_slot(j);
                }
            }
        } else {
            let shift = other.bits - self.bits;
            for i in other.set_slots() {
                self.set_slot(i >> shift);
            }
        }
    }

    /// Slots in the table (2^bits).
    pub fn slots(&self) -> u32 {
        1 << self.bits
    }

    /// The table's size as a power of two.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Slots set.
    pub fn set_count(&self) -> u32 {
        self.set_count
    }

    /// Share of slots set, 0.0 to 1.0 (gtk-gnutella throttles leaves whose table is more
    /// than 5 % full).
    pub fn fill_ratio(&self) -> f64 {
        f64::from(self.set_count) / f64::from(self.slots())
    }

    /// Whether no slot is set.
    pub fn is_empty(&self) -> bool {
        self.set_count == 0
    }

    /// Whether slot `i` is set (false past the end).
    pub fn slot(&self, i: u32) -> bool {
        self.arena
            .get((i / 8) as usize)
            .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
    }

    /// The set slots, in order.
    pub fn set_slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.arena.iter().enumerate().flat_map(|(n, &b)| {
            (0..8u32)
                .filter(move |k| b & (0x80 >> k) != 0)
                .map(move |k| n as u32 * 8 + k)
        })
    }

    /// The compact bytes: slot `i` is bit `7 - i % 8` of byte `i / 8`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.arena
    }

    /// Whether this table and `other` share their bytes (one is an unchanged clone of
    /// the other): what a servent holding many copies pays once.
    pub fn shares_bytes_with(&self, other: &QueryRoutingTable) -> bool {
        Arc::ptr_eq(&self.arena, &other.arena)
    }

    /// Heap bytes of the slots (shared ones counted in full by every holder).
    pub fn heap_bytes(&self) -> usize {
        self.arena.len()
    }

    /// Sets slot `i` (ignored past the end).
    pub fn set_slot(&mut self, i: u32) {
        if let Some(b) = Arc::make_mut(&mut self.arena).get_mut((i / 8) as usize) {
            let mask = 0x80 >> (i % 8);
            if *b & mask == 0 {
                *b |= mask;
                self.set_count += 1;
            }
        }
    }

    /// Clears slot `i` (ignored past the end).
    pub fn clear_slot(&mut self, i: u32) {
        if let Some(b) = Arc::make_mut(&mut self.arena).get_mut((i / 8) as usize) {
            let mask = 0x80 >> (i % 8);
            if *b & mask != 0 {
                *b &= !mask;
                self.set_count -= 1;
            }
        }
    }

    /// XORs `mask` into byte `n` (a 1-bit patch), keeping the count right.
    pub(super) fn flip_byte(&mut self, n: usize, mask: u8) {
        if let Some(b) = Arc::make_mut(&mut self.arena).get_mut(n) {
            self.set_count -= b.count_ones();
            *b ^= mask;
            self.set_count += b.count_ones();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::qrp_hashcode;
    use super::*;

    fn keys(words: &[&str], urns: &[&str]) -> QueryKeys {
        let mut k = QueryKeys::default();
        for w in words {
            k.add_word(w);
        }
        for u in urns {
            k.add_urn(u);
        }
        k
    }

    #[test]
    fn slots_are_big_endian_bits() {
        let mut t = QueryRoutingTable::new(4);
        assert_eq!(t.as_bytes(), [0, 0]);
        t.set_slot(0);
        t.set_slot(6);
        t.set_slot(15);
        t.set_slot(16); // past the end: ignored
        assert_eq!(t.as_bytes(), [0x82, 0x01]);
        assert_eq!(t.set_count(), 3);
        assert_eq!(t.set_slots().collect::<Vec<_>>(), [0, 6, 15]);
        t.clear_slot(6);
        t.clear_slot(6);
        assert_eq!(t.set_count(), 2);
        assert!(!t.slot(6) && t.slot(0) && !t.slot(99));
        assert_eq!(t.fill_ratio(), 2.0 / 16.0);
    }

    #[test]
    fn routing_rule_is_gtk_gnutellas() {
        let t = QueryRoutingTable::from_keywords(["alpha", "beta", "gamma", "urn:sha1:abc"], 16);
        assert!(t.may_route(&keys(&["alpha"], &[])));
        assert!(t.may_route(&keys(&["alpha", "beta"], &[])));
        assert!(!t.may_route(&keys(&["alpha", "zzzzqqq"], &[])));
        // From three words, two thirds (rounded down) suffice.
        assert!(t.may_route(&keys(&["alpha", "beta", "zzzzqqq"], &[])));
        assert!(!t.may_route(&keys(&["alpha", "zzzzqqq", "yyyyxxx"], &[])));
        assert!(!t.may_route(&keys(&["alpha", "beta", "zzzzqqq", "yyyyxxx"], &[])));
        assert!(t.may_route(&keys(&["alpha", "beta", "gamma", "zzzzqqq"], &[])));
        // A URN hit routes whatever the words say; URNs alone that miss do not.
        assert!(t.may_route(&keys(&["zzzzqqq"], &["urn:sha1:abc"])));
        assert!(!t.may_route(&keys(&[], &["urn:sha1:def"])));
        assert!(t.may_route(&keys(&["alpha"], &["urn:sha1:def"])));
        // Nothing hashable: cannot tell, so route.
        assert!(t.may_route(&QueryKeys::default()));
        assert!(QueryRoutingTable::new(16).may_route(&QueryKeys::default()));
        assert!(!QueryRoutingTable::new(16).may_route(&keys(&["alpha"], &[])));
    }

    #[test]
    fn merge_scales_both_ways() {
        let words = ["linux", "debian", "iso", "music", "beatles"];
        let small = QueryRoutingTable::from_keywords(words, 10);
        let big = QueryRoutingTable::from_keywords(["other", "words"], 16);
        let mut merged = big.clone();
        merged.merge_from(&small);
        for w in words.iter().chain(&["other", "words"]) {
            assert!(merged.contains_hashcode(qrp_hashcode(w)), "{w}");
        }
        assert_eq!(merged.set_count(), big.set_count() + small.set_count() * 64);
        let mut folded = QueryRoutingTable::new(8);
        folded.merge_from(&big);
        folded.merge_from(&small);
        for w in words.iter().chain(&["other", "words"]) {
            assert!(folded.contains_hashcode(qrp_hashcode(w)), "{w}");
        }
        let mut same = QueryRoutingTable::new(10);
        same.merge_from(&small);
        assert_eq!(same, small);
    }

    #[test]
    #[should_panic(expected = "outside")]
    fn oversized_table_is_a_programming_error() {
        QueryRoutingTable::new(MAX_TABLE_BITS + 1);
    }
}
