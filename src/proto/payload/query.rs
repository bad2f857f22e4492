//! Query: a 2-byte flags word (read big-endian: modern servents set 0x8000 and the other
//! bits as flags; a word without 0x8000 is an old little-endian minimum speed), the search
//! text up to a NUL, then the extension area (URNs, GGEP) up to the end of the payload.

use super::extension::{decode_area, encode_area, Extension};
use super::hash::{sha1_urn, Sha1Digest};
use crate::proto::error::DecodeError;
use crate::proto::limits::MAX_QUERY_LEN;
use crate::proto::wire;

/// Flags word bit: the word holds flags, not an old minimum speed.
pub const QUERY_FLAG_MARKER: u16 = 0x8000;
/// Flags word bit: the requester is firewalled.
pub const QUERY_FLAG_FIREWALLED: u16 = 0x4000;
/// Flags word bit: the requester wants XML metadata.
pub const QUERY_FLAG_XML: u16 = 0x2000;
/// Flags word bit: leaf-guided dynamic query.
pub const QUERY_FLAG_LEAF_GUIDED: u16 = 0x1000;
/// Flags word bit: GGEP "H" hashes are understood.
pub const QUERY_FLAG_GGEP_H: u16 = 0x0800;
/// Flags word bit: out-of-band reply requested.
pub const QUERY_FLAG_OOB: u16 = 0x0400;
/// Low bits of the flags word: maximum number of hits wanted (0 = no limit).
pub const QUERY_MAX_HITS_MASK: u16 = 0x01FF;

#[derive(Debug, Clone, PartialEq, Eq)]
/// A Query payload: flags word, search text and extension area.
pub struct Query {
    /// The flags word as read big-endian from the first two bytes.
    pub flags: u16,
    /// The search text as sent (usually UTF-8, sometimes Latin-1: kept as bytes so that
    /// forwarding never alters it).
    pub text: Vec<u8>,
    /// The extension area's items (HUGE URNs, GGEP blocks, other bytes), in order.
    pub extensions: Vec<Extension>,
}

impl Query {
    /// A query as we originate it: flags word with 0x8000 set, as gtk-gnutella requires.
    pub fn new(text: &str) -> Query {
        Query {
            flags: QUERY_FLAG_MARKER | QUERY_FLAG_GGEP_H,
            text: text.as_bytes().to_vec(),
            extensions: Vec::new(),
        }
    }

    /// The text, lossily decoded for display and matching.
    pub fn text_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.text)
    }

    /// Whether the first two bytes are a modern flags word.
    pub fn has_flags_word(&self) -> bool {
        self.flags & QUERY_FLAG_MARKER != 0
    }

    /// The maximum number of hits wanted, when the flags word says so.
    pub fn max_hits(&self) -> Option<u16> {
        let n = self.flags & QUERY_MAX_HITS_MASK;
        (self.has_flags_word() && n != 0).then_some(n)
    }

    /// Every SHA-1 the Query asks for, in order and without repeats: valid text
    /// `urn:sha1:` items and GGEP `H` extensions (type 1 or 2) alike.
    pub fn sha1s(&self) -> Vec<Sha1Digest> {
        let mut out: Vec<Sha1Digest> = Vec::new();
        for d in self.extensions.iter().filter_map(Extension::sha1) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    /// The first SHA-1 the Query asks for ([`Query::sha1s`]) as `urn:sha1:<BASE32>`.
    pub fn sha1_urn(&self) -> Option<String> {
        self.extensions
            .iter()
            .find_map(Extension::sha1)
            .map(|d| sha1_urn(&d))
    }

    /// Whether the Query asks by hash: it has a `urn:sha1:` item (valid or not) or a GGEP
    /// `H` that names a SHA-1. Such a Query is answered by hash only.
    pub fn is_by_hash(&self) -> bool {
        self.extensions
            .iter()
            .any(|e| e.sha1_urn().is_some() || e.sha1().is_some())
    }

    /// Reads a Query payload: [`DecodeError::TooLong`] over 4,096 bytes,
    /// [`DecodeError::Truncated`] under 3, [`DecodeError::MissingNul`] without a NUL after
    /// the text. One NUL ending the extension area is dropped.
    pub fn decode(buf: &[u8]) -> Result<Query, DecodeError> {
        if buf.len() > MAX_QUERY_LEN {
            return Err(DecodeError::TooLong {
                what: "query",
                len: buf.len(),
                limit: MAX_QUERY_LEN,
            });
        }
        if buf.len() < 3 {
            return Err(DecodeError::Truncated { what: "query" });
        }
        let flags = u16::from_be_bytes([buf[0], buf[1]]);
        let (text, used) = wire::take_until_nul(&buf[2..])
            .ok_or(DecodeError::MissingNul { what: "query text" })?;
        let mut area = &buf[2 + used..];
        // LimeWire ends the extension area with a NUL too; accept it.
        if let [head @ .., 0] = area {
            area = head;
        }
        Ok(Query {
            flags,
            text: text.to_vec(),
            extensions: decode_area(area),
        })
    }

    /// Appends the flags word (big-endian), the text without NUL bytes, a NUL and the
    /// extension area.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.extend(self.text.iter().copied().filter(|&b| b != 0));
        out.push(0);
        let area_start = out.len();
        encode_area(&self.extensions, out);
        // The decoder drops one trailing NUL (LimeWire's end mark): an area that itself
        // ends in NUL needs one more, so that it decodes back whole.
        if out.len() > area_start && out.last() == Some(&0) {
            out.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the descriptor fuzzer: an extension area ending in NUL must survive a
    /// decode/encode round trip (the decoder strips one LimeWire end mark).
    #[test]
    fn extension_area_ending_in_nul_round_trips() {
        let payload = [0x88, 0x00, 0x00, 0x00, 0x00];
        let q = Query::decode(&payload).unwrap();
        let mut out = Vec::new();
        q.encode(&mut out);
        assert_eq!(Query::decode(&out).unwrap(), q);
        assert_eq!(out, payload);
    }
}
