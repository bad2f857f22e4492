//! The extension area of a Query and of each QueryHit result: items separated by 0x1C,
//! each a HUGE URN (`urn:sha1:<base32>`), a GGEP block (starting 0xC3) or other bytes we
//! keep verbatim so that forwarding never alters them.

use super::hash::{block_sha1, parse_sha1_urn, Sha1Digest};
use crate::proto::ggep::{GgepBlock, GGEP_MAGIC};

/// Separator between extension items (ASCII FS).
pub const EXTENSION_SEPARATOR: u8 = 0x1C;

#[derive(Debug, Clone, PartialEq, Eq)]
/// One item of an extension area.
pub enum Extension {
    /// A URN such as `urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB`, as sent.
    Urn(String),
    /// A GGEP block (the item starts with 0xC3); raw, with the rest of the area, when it
    /// does not parse.
    Ggep(GgepBlock),
    /// Anything else (plain-text metadata of old servents, empty items).
    Other(Vec<u8>),
}

impl Extension {
    /// The SHA-1 URN, if this item is one (`urn:sha1:` matched case-insensitively).
    pub fn sha1_urn(&self) -> Option<&str> {
        match self {
            // Compared as bytes: a peer's URN may put a multi-byte character across byte 9,
            // where slicing the string would panic.
            Extension::Urn(u)
                if u.len() > 9 && u.as_bytes()[..9].eq_ignore_ascii_case(b"urn:sha1:") =>
            {
                Some(u)
            }
            _ => None,
        }
    }

    /// The SHA-1 this item carries: a valid `urn:sha1:` URN, or a GGEP block whose `H`
    /// extension is of type 1 or 2 with the right length. Anything else is no hash.
    pub fn sha1(&self) -> Option<Sha1Digest> {
        match self {
            Extension::Urn(u) => parse_sha1_urn(u),
            Extension::Ggep(block) => block_sha1(block),
            Extension::Other(_) => None,
        }
    }
}

/// Splits an extension area. Never fails: what is not understood is kept as bytes.
pub fn decode_area(area: &[u8]) -> Vec<Extension> {
    let mut items = Vec::new();
    let mut i = 0;
    while i < area.len() {
        let rest = &area[i..];
        if rest[0] == GGEP_MAGIC {
            let (mut block, mut used) = GgepBlock::decode(rest);
            if rest.get(used).is_some_and(|&b| b != EXTENSION_SEPARATOR) {
                // No separator after the block: keep the rest verbatim so it re-encodes exactly.
                (block, used) = (GgepBlock::Raw(rest.to_vec()), rest.len());
            }
            items.push(Extension::Ggep(block));
            i += used.max(1);
        } else {
            let end = rest
                .iter()
                .position(|&b| b == EXTENSION_SEPARATOR)
                .unwrap_or(rest.len());
            let item = &rest[..end];
            let is_urn = item.len() > 4 && item[..4].eq_ignore_ascii_case(b"urn:");
            items.push(match std::str::from_utf8(item) {
                Ok(s) if is_urn => Extension::Urn(s.to_owned()),
                _ => Extension::Other(item.to_vec()),
            });
            i += end;
        }
        if i < area.len() && area[i] == EXTENSION_SEPARATOR {
            i += 1;
            if i == area.len() {
                // A trailing separator: keep it as an empty item so re-encoding is exact.
                items.push(Extension::Other(Vec::new()));
            }
        }
    }
    items
}

/// Joins extension items with 0x1C.
pub fn encode_area(items: &[Extension], out: &mut Vec<u8>) {
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(EXTENSION_SEPARATOR);
        }
        match item {
            Extension::Urn(u) => out.extend_from_slice(u.as_bytes()),
            Extension::Ggep(g) => g.encode(out),
            Extension::Other(b) => out.extend_from_slice(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_urn_with_a_multibyte_character_at_byte_9_is_not_sha1_and_does_not_panic() {
        // Found by review: `u[..9]` on "urn:shaXé..." split the 'é' and panicked, and any
        // Query or QueryHit could carry it.
        assert_eq!(Extension::Urn("urn:shaXé12345".into()).sha1_urn(), None);
        assert_eq!(Extension::Urn("urn:sha1é".into()).sha1_urn(), None);
        let area = "urn:shaXé12345".as_bytes();
        let items = decode_area(area);
        assert!(items.iter().all(|i| i.sha1_urn().is_none()));
        let u = "URN:SHA1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB";
        assert_eq!(Extension::Urn(u.into()).sha1_urn(), Some(u));
    }
}
