//! The QRP hash every servent must share: gtk-gnutella's `qrp_hashcode` / `qrp_hash`
//! (the QRP proposal's function). The low byte of each character (of each UTF-16
//! surrogate for characters above U+FFFF) is XORed into a little-endian 32-bit word at
//! rolling byte positions 0, 8, 16, 24; the word is multiplied by 0x4F1BBCDC and the top
//! `bits` bits are the slot. The input must already be canonical (lowercase, folded): the
//! hash itself folds nothing.

/// The multiplier of the QRP proposal (Knuth's multiplicative hashing, "golden ratio").
pub const QRP_HASH_MULTIPLIER: u32 = 0x4F1B_BCDC;

/// The 32-bit hash code of a canonical word; [`qrp_hash`] keeps its top bits. Stops at a
/// NUL character, as the C string would.
pub fn qrp_hashcode(word: &str) -> u32 {
    let mut x: u32 = 0;
    let mut shift: u32 = 0;
    let mut xor = |byte: u32| {
        x ^= (byte & 0xFF) << shift;
        shift = (shift + 8) & 24;
    };
    for c in word.chars() {
        if c == '\0' {
            break;
        }
        let mut units = [0u16; 2];
        for unit in c.encode_utf16(&mut units) {
            xor(u32::from(*unit));
        }
    }
    x.wrapping_mul(QRP_HASH_MULTIPLIER)
}

/// The slot of `word` in a table of 2^`bits` slots (`bits` at most 32; 0 gives slot 0).
pub fn qrp_hash(word: &str, bits: u8) -> u32 {
    slot_of(qrp_hashcode(word), bits)
}

/// The slot of a hash code in a table of 2^`bits` slots.
pub fn slot_of(hashcode: u32, bits: u8) -> u32 {
    match bits {
        0 => 0,
        b if b >= 32 => hashcode,
        b => hashcode >> (32 - u32::from(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// gtk-gnutella's `test_hash` values (from the QRP proposal and LimeWire's tests).
    #[test]
    fn published_values() {
        for (word, bits, want) in [
            ("", 13, 0),
            ("eb", 13, 6791),
            ("ebc", 13, 7082),
            ("ebck", 13, 6698),
            ("ebckl", 13, 3179),
            ("ebcklm", 13, 3235),
            ("ebcklme", 13, 6438),
            ("ebcklmen", 13, 1062),
            ("ebcklmenq", 13, 3527),
            ("", 16, 0),
            ("n", 16, 65003),
            ("nd", 16, 54193),
            ("ndf", 16, 4953),
            ("ndfl", 16, 58201),
            ("ndfla", 16, 34830),
            ("ndflal", 16, 36910),
            ("ndflale", 16, 34586),
            ("ndflalem", 16, 37658),
            ("ndflaleme", 16, 45559),
            ("ol2j34lj", 10, 318),
            ("asdfas23", 10, 503),
            ("9um3o34fd", 10, 758),
            ("a234d", 10, 281),
            ("a3f", 10, 767),
            ("3nja9", 10, 581),
            ("2459345938032343", 10, 146),
            ("7777a88a8a8a8", 10, 342),
            ("asdfjklkj3k", 10, 861),
            ("adfk32l", 10, 1011),
            ("zzzzzzzzzzz", 10, 944),
        ] {
            assert_eq!(qrp_hash(word, bits), want, "{word:?} at {bits} bits");
        }
        // The hash does not fold case: callers canonicalise first.
        assert_ne!(qrp_hash("FAIL", 16), qrp_hash("fail", 16));
    }

    /// gtk-gnutella's non-ASCII cases: only the low byte of each UTF-16 unit counts.
    #[test]
    fn non_ascii_uses_low_bytes_of_utf16_units() {
        for (text, want) in [
            ("\u{30a2}\u{30cb}\u{30e1}", 46), // a-ni-me
            ("\u{30e9}", 0),                  // ra
            ("\u{58f0}\u{512a}", 731),        // voice actor
            ("\u{10400}", 316),               // DESERET CAPITAL LETTER LONG I
            ("\u{10428}", 658),               // DESERET SMALL LETTER LONG I
            ("\u{0001}\u{0028}", 658),
            ("\u{ff01}\u{9428}", 658),
            ("\u{1001}\u{2000}", 316),
        ] {
            assert_eq!(qrp_hash(text, 10), want, "{text:?}");
        }
        assert_eq!(qrp_hashcode("ab\0cd"), qrp_hashcode("ab"));
    }

    #[test]
    fn slot_of_edges() {
        assert_eq!(slot_of(0xFFFF_FFFF, 0), 0);
        assert_eq!(slot_of(0xFFFF_FFFF, 1), 1);
        assert_eq!(slot_of(0x8000_0000, 16), 0x8000);
        assert_eq!(slot_of(0x1234_5678, 32), 0x1234_5678);
        assert_eq!(slot_of(0x1234_5678, 40), 0x1234_5678);
    }
}
