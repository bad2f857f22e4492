//! The SHA-1 a Query asks for or a QueryHit result names, in its two wire forms: the text
//! HUGE URN `urn:sha1:<32 base32>` and the binary GGEP `H` extension (a type byte, then
//! the SHA-1 for type 1, or the SHA-1 and the Tiger tree root for type 2, a "bitprint"),
//! which gtk-gnutella sends instead of the text to Queries that set flag 0x0800.

use data_encoding::BASE32_NOPAD;

use crate::proto::ggep::{cobs_encode, GgepBlock, GgepExtension};

/// A SHA-1 digest as carried on the wire.
pub type Sha1Digest = [u8; SHA1_LEN];

/// Bytes of a SHA-1 digest.
pub const SHA1_LEN: usize = 20;
/// Bytes of a Tiger tree root, after the SHA-1 in a bitprint.
pub const TTH_LEN: usize = 24;
/// GGEP ID of the binary hash extension.
pub const GGEP_H_ID: &str = "H";
/// `H` type byte: the SHA-1 alone follows (21 bytes in all).
pub const GGEP_H_SHA1: u8 = 1;
/// `H` type byte: SHA-1 then Tiger tree root follow (45 bytes in all).
pub const GGEP_H_BITPRINT: u8 = 2;
/// `urn:sha1:` plus the 32 base32 characters of a SHA-1.
const SHA1_URN_LEN: usize = 9 + 32;

/// `urn:sha1:<BASE32>`: lower-case prefix, upper-case base32, as we send it.
pub fn sha1_urn(digest: &Sha1Digest) -> String {
    format!("urn:sha1:{}", BASE32_NOPAD.encode(digest))
}

/// Parses `urn:sha1:<32 base32>` (prefix and base32 in any case); `None` for anything
/// else, never a panic.
pub fn parse_sha1_urn(text: &str) -> Option<Sha1Digest> {
    let b = text.as_bytes();
    if b.len() != SHA1_URN_LEN || !b[..9].eq_ignore_ascii_case(b"urn:sha1:") {
        return None;
    }
    let upper = b[9..].to_ascii_uppercase();
    BASE32_NOPAD.decode(&upper).ok()?.try_into().ok()
}

/// The SHA-1 of a decoded `H` value: type 1 with exactly 20 bytes after it, or type 2 with
/// exactly 44 (its first 20 are the SHA-1). Any other type or length is no hash.
pub fn decode_h(value: &[u8]) -> Option<Sha1Digest> {
    let (&kind, rest) = value.split_first()?;
    let want = match kind {
        GGEP_H_SHA1 => SHA1_LEN,
        GGEP_H_BITPRINT => SHA1_LEN + TTH_LEN,
        _ => return None,
    };
    if rest.len() != want {
        return None;
    }
    rest[..SHA1_LEN].try_into().ok()
}

/// The SHA-1 of a GGEP block's first `H` extension (COBS and deflate undone), if it holds
/// a valid one.
pub fn block_sha1(block: &GgepBlock) -> Option<Sha1Digest> {
    decode_h(&block.get(GGEP_H_ID)?.decoded().ok()?)
}

/// A GGEP `H` extension of type 1 for `digest`, COBS-encoded when the value holds a zero
/// byte (a QueryHit result's extension area ends at the first NUL), as gtk-gnutella does.
pub fn h_extension(digest: &Sha1Digest) -> GgepExtension {
    let mut raw = Vec::with_capacity(1 + SHA1_LEN);
    raw.push(GGEP_H_SHA1);
    raw.extend_from_slice(digest);
    let mut h = GgepExtension::new(GGEP_H_ID, raw);
    if h.data.contains(&0) {
        h.cobs = true;
        h.data = cobs_encode(&h.data);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ggep::GgepBlock;

    const URN: &str = "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB";

    #[test]
    fn urn_text_round_trips_in_any_case() {
        let d = parse_sha1_urn(URN).unwrap();
        assert_eq!(sha1_urn(&d), URN);
        assert_eq!(parse_sha1_urn(&URN.to_lowercase()), Some(d));
        assert_eq!(parse_sha1_urn(&URN.to_uppercase()), Some(d));
        for bad in [
            "urn:sha1:short",
            "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPF1",
            "urn:sha2:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB",
            "urn:shaé:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPF",
            "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPéB",
            "",
        ] {
            assert_eq!(parse_sha1_urn(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn h_types_and_bad_values() {
        let d: Sha1Digest = core::array::from_fn(|i| i as u8 + 1);
        let mut t1 = vec![GGEP_H_SHA1];
        t1.extend_from_slice(&d);
        assert_eq!(decode_h(&t1), Some(d));
        let mut t2 = vec![GGEP_H_BITPRINT];
        t2.extend_from_slice(&d);
        t2.extend_from_slice(&[0xEE; TTH_LEN]);
        assert_eq!(decode_h(&t2), Some(d));
        // Wrong lengths, unknown types, truncation: no hash.
        assert_eq!(decode_h(&[]), None);
        assert_eq!(decode_h(&[GGEP_H_SHA1]), None);
        assert_eq!(decode_h(&t1[..20]), None);
        assert_eq!(decode_h(&[&t1[..], &[0]].concat()), None);
        assert_eq!(
            decode_h(&t2[..21]),
            None,
            "a bitprint cut to a SHA-1's length"
        );
        assert_eq!(decode_h(&t2[..44]), None);
        let mut t3 = t1.clone();
        t3[0] = 3;
        assert_eq!(decode_h(&t3), None);
        t3[0] = 0;
        assert_eq!(decode_h(&t3), None);
    }

    #[test]
    fn h_extension_has_no_nul_on_the_wire_and_decodes_back() {
        for d in [
            [0u8; 20],
            [7u8; 20],
            core::array::from_fn(|i| (i * 13) as u8),
        ] {
            let h = h_extension(&d);
            assert!(!h.data.contains(&0));
            assert_eq!(h.cobs, d.contains(&0));
            let block = GgepBlock::Parsed(vec![h]);
            let mut wire = Vec::new();
            block.encode(&mut wire);
            assert!(!wire.contains(&0));
            assert_eq!(block_sha1(&GgepBlock::decode(&wire).0), Some(d));
        }
        assert_eq!(block_sha1(&GgepBlock::Raw(vec![0xC3])), None);
        let bad_cobs = GgepExtension {
            cobs: true,
            ..GgepExtension::new("H", vec![0])
        };
        assert_eq!(block_sha1(&GgepBlock::Parsed(vec![bad_cobs])), None);
    }
}
