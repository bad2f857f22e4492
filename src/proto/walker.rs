//! The random-walk search extension's two wire forms: the `RW` GGEP extension that marks a
//! Query as a walker ([`WalkerTag`]) and the check exchange's vendor messages
//! ([`CheckMessage`]). Both have fixed lengths, checked before a byte is read; decoding
//! never allocates and never panics. What they mean and when they are sent is the core's
//! (`core::strategy::walk`, `core::servent::walker`); the layout is in protocol/README.md,
//! sections 9.3 and 9.4.

use super::error::WalkerError;
use super::ggep::{GgepBlock, GgepExtension};
use super::payload::{Extension, Query};

/// GGEP extension ID marking a Query as a walker.
pub const WALKER_GGEP_ID: &str = "RW";
/// Length of the `RW` extension's data, bytes.
pub const WALKER_TAG_LEN: usize = 9;
/// Vendor code of our vendor messages (the check exchange).
pub const CHECK_VENDOR: [u8; 4] = *b"SRVT";
/// Vendor message selector: a walker's holder asks the requester whether to go on.
pub const CHECK_REQUEST_SELECTOR: u16 = 1;
/// Vendor message selector: the requester's answer, routed back to the holder.
pub const CHECK_VERDICT_SELECTOR: u16 = 2;
/// Version of both check messages.
pub const CHECK_VERSION: u16 = 1;
/// Vendor message header: vendor code (4), selector (2), version (2), bytes.
const VENDOR_HEADER_LEN: usize = 8;
/// Data bytes after the header: walker (1), steps (2), path (2).
const CHECK_REQUEST_DATA_LEN: usize = 5;
/// Data bytes after the header: walker (1), verdict (1), hits (2).
const CHECK_VERDICT_DATA_LEN: usize = 4;

/// Flags bit always set: format 1 (keeps the last byte non-zero, see [`WalkerTag`]).
const FLAG_FORMAT: u8 = 0x80;
/// Flags bit: the walk prefers neighbours not yet sent a walker of the query.
const FLAG_REMEMBER: u8 = 0x01;
/// Flags bit: each servent on the walk looks one hop ahead through its ultrapeer
/// neighbours' query routing tables, and the walker ends where it finds.
const FLAG_LOOK_AHEAD: u8 = 0x02;
/// Flags bit: the next step is drawn with weights by the neighbours' degree.
const FLAG_DEGREE_BIAS: u8 = 0x04;
/// Every flags bit a tag of format 1 may carry.
const KNOWN_FLAGS: u8 = FLAG_FORMAT | FLAG_REMEMBER | FLAG_LOOK_AHEAD | FLAG_DEGREE_BIAS;

/// The `RW` extension: what a walker carries from step to step. Integers little-endian.
///
/// | byte | field |
/// |---|---|
/// | 0 | walker number, 0..k-1 |
/// | 1 | check every (steps; 0 never) |
/// | 2-3 | steps taken, counting the step that delivered it (1 at the first servent) |
/// | 4-5 | steps left after that one |
/// | 6-7 | length of the sender's reverse path to the requester (0 when the requester sends) |
/// | 8 | flags: 0x80 always set (format 1), 0x01 remember neighbours, 0x02 look ahead, 0x04 degree bias; other bits 0 |
///
/// The flags byte comes last and is never 0: a Query's extension area may end with a NUL
/// that decoders strip (LimeWire sends one), which would clip a last data byte of 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkerTag {
    /// Walker number within its query, 0..k-1 (k at most 255).
    pub walker: u8,
    /// Steps between checks with the requester; 0 never checks.
    pub check_every: u8,
    /// Flag 0x01: each servent prefers neighbours it has not yet sent a walker of this query.
    pub remember_neighbours: bool,
    /// Flag 0x02: each servent the walker reaches first hands the Query, one hop on, to
    /// its ultrapeer neighbours whose query routing tables may match, and the walker ends
    /// where it finds (protocol/README.md section 9.8).
    pub look_ahead: bool,
    /// Flag 0x04: the next neighbour is drawn with weights by its degree (`X-Degree`).
    pub degree_bias: bool,
    /// Steps taken, counting the step that delivered this tag (1 at the first servent).
    pub steps: u16,
    /// Steps the walker may still take after this one; 0 ends the walk here.
    pub steps_left: u16,
    /// The sender's reverse path length to the requester, hops (0 when the requester sends).
    pub sender_path: u16,
}

impl WalkerTag {
    /// The 9 data bytes of the `RW` extension, with the format bit 0x80 set.
    pub fn encode(&self) -> [u8; WALKER_TAG_LEN] {
        let mut out = [0u8; WALKER_TAG_LEN];
        out[0] = self.walker;
        out[1] = self.check_every;
        out[2..4].copy_from_slice(&self.steps.to_le_bytes());
        out[4..6].copy_from_slice(&self.steps_left.to_le_bytes());
        out[6..8].copy_from_slice(&self.sender_path.to_le_bytes());
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        out[8] = FLAG_FORMAT
            | flag(self.remember_neighbours, FLAG_REMEMBER)
            | flag(self.look_ahead, FLAG_LOOK_AHEAD)
            | flag(self.degree_bias, FLAG_DEGREE_BIAS);
        out
    }

    /// Reads the extension's data: exactly 9 bytes with the format bit set and no unknown
    /// flag bit (0x08-0x40).
    pub fn decode(data: &[u8]) -> Result<WalkerTag, WalkerError> {
        let d: &[u8; WALKER_TAG_LEN] = data.try_into().map_err(|_| WalkerError::TagLength {
            len: data.len(),
            expected: WALKER_TAG_LEN,
        })?;
        let flags = d[8];
        if flags & FLAG_FORMAT == 0 || flags & !KNOWN_FLAGS != 0 {
            return Err(WalkerError::TagFlags { flags });
        }
        Ok(WalkerTag {
            walker: d[0],
            check_every: d[1],
            steps: u16::from_le_bytes([d[2], d[3]]),
            steps_left: u16::from_le_bytes([d[4], d[5]]),
            sender_path: u16::from_le_bytes([d[6], d[7]]),
            remember_neighbours: flags & FLAG_REMEMBER != 0,
            look_ahead: flags & FLAG_LOOK_AHEAD != 0,
            degree_bias: flags & FLAG_DEGREE_BIAS != 0,
        })
    }

    /// Finds the walker marking of a Query: `None` for a plain Query, `Some(Err(_))` when
    /// an `RW` extension is there but malformed (or COBS/deflate encoded, which we never
    /// send). The first `RW` of the first parsed GGEP block holding one counts.
    pub fn find(query: &Query) -> Option<Result<WalkerTag, WalkerError>> {
        for item in &query.extensions {
            if let Extension::Ggep(GgepBlock::Parsed(exts)) = item {
                if let Some(e) = exts.iter().find(|e| e.id == WALKER_GGEP_ID) {
                    return Some(if e.cobs || e.deflate {
                        Err(WalkerError::TagEncoded)
                    } else {
                        WalkerTag::decode(&e.data)
                    });
                }
            }
        }
        None
    }

    /// `query` marked with this tag: an existing `RW` extension is replaced in place;
    /// otherwise a GGEP block holding only `RW` is appended to the extension area (before
    /// an unparsed GGEP block, which would swallow it on the wire).
    pub fn apply(&self, query: &Query) -> Query {
        let mut q = query.clone();
        let data = self.encode().to_vec();
        for item in &mut q.extensions {
            if let Extension::Ggep(GgepBlock::Parsed(exts)) = item {
                if let Some(e) = exts.iter_mut().find(|e| e.id == WALKER_GGEP_ID) {
                    *e = GgepExtension::new(WALKER_GGEP_ID, data);
                    return q;
                }
            }
        }
        // Before any unparsed GGEP block: one swallows the rest of the area when decoded,
        // so a tag after it would be lost on the wire (found by fuzzing).
        let at = q
            .extensions
            .iter()
            .position(|e| matches!(e, Extension::Ggep(GgepBlock::Raw(_))))
            .unwrap_or(q.extensions.len());
        q.extensions.insert(
            at,
            Extension::Ggep(GgepBlock::Parsed(vec![GgepExtension::new(
                WALKER_GGEP_ID,
                data,
            )])),
        );
        q
    }
}

/// The check exchange: vendor messages (0x31) with vendor `SRVT`, selector, version
/// (little-endian u16 each, the usual vendor-message layout), then the data below. Both
/// carry the walker's Query descriptor ID as their own descriptor ID, TTL 1, hops counting
/// the hops travelled.
///
/// | bytes | request (selector 1), 13 bytes | verdict (selector 2), 12 bytes |
/// |---|---|---|
/// | 0-3 | `SRVT` | `SRVT` |
/// | 4-5 | selector 1 | selector 2 |
/// | 6-7 | version 1 | version 1 |
/// | 8 | walker number | walker number |
/// | 9-10 | steps taken | 9: verdict (1 go on, 0 stop); 10-11: distinct results the requester has (saturating) |
/// | 11-12 | holder's reverse path length | - |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMessage {
    /// Selector 1, from the holder back along the walker's reverse path to the requester.
    /// Data: walker number (1), steps taken (2), holder's reverse path length (2).
    Request {
        /// Number of the walker held.
        walker: u8,
        /// Steps the walker has taken.
        steps: u16,
        /// The holder's reverse path length to the requester, hops.
        path: u16,
    },
    /// Selector 2, from the requester forward to the holder along the path the request
    /// came. Data: walker number (1), verdict (1: 1 go on, 0 stop), distinct results the
    /// requester has (2, saturating).
    Verdict {
        /// Number of the walker the verdict is for.
        walker: u8,
        /// `true` (byte 1): walk on; `false` (byte 0): stop, the walker ends.
        go_on: bool,
        /// Distinct results the requester has so far, saturating at 65,535.
        hits: u16,
    },
}

impl CheckMessage {
    /// The number of the walker either message is about.
    pub fn walker(&self) -> u8 {
        match *self {
            CheckMessage::Request { walker, .. } | CheckMessage::Verdict { walker, .. } => walker,
        }
    }

    /// The vendor message payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(VENDOR_HEADER_LEN + CHECK_REQUEST_DATA_LEN);
        out.extend_from_slice(&CHECK_VENDOR);
        match *self {
            CheckMessage::Request {
                walker,
                steps,
                path,
            } => {
                out.extend_from_slice(&CHECK_REQUEST_SELECTOR.to_le_bytes());
                out.extend_from_slice(&CHECK_VERSION.to_le_bytes());
                out.push(walker);
                out.extend_from_slice(&steps.to_le_bytes());
                out.extend_from_slice(&path.to_le_bytes());
            }
            CheckMessage::Verdict {
                walker,
                go_on,
                hits,
            } => {
                out.extend_from_slice(&CHECK_VERDICT_SELECTOR.to_le_bytes());
                out.extend_from_slice(&CHECK_VERSION.to_le_bytes());
                out.push(walker);
                out.push(u8::from(go_on));
                out.extend_from_slice(&hits.to_le_bytes());
            }
        }
        out
    }

    /// Reads a vendor message payload. [`WalkerError::NotACheck`] when it is not one of
    /// ours (another vendor, selector or version); other errors when it is malformed
    /// (short header, wrong length, verdict other than 0 or 1).
    pub fn decode(b: &[u8]) -> Result<CheckMessage, WalkerError> {
        let Some((header, d)) = b.split_first_chunk::<VENDOR_HEADER_LEN>() else {
            return Err(WalkerError::VendorTruncated { len: b.len() });
        };
        let selector = u16::from_le_bytes([header[4], header[5]]);
        let version = u16::from_le_bytes([header[6], header[7]]);
        if header[..4] != CHECK_VENDOR || version != CHECK_VERSION {
            return Err(WalkerError::NotACheck);
        }
        let expected = match selector {
            CHECK_REQUEST_SELECTOR => CHECK_REQUEST_DATA_LEN,
            CHECK_VERDICT_SELECTOR => CHECK_VERDICT_DATA_LEN,
            _ => return Err(WalkerError::NotACheck),
        };
        if d.len() != expected {
            return Err(WalkerError::CheckLength {
                selector,
                len: d.len(),
                expected,
            });
        }
        if selector == CHECK_REQUEST_SELECTOR {
            return Ok(CheckMessage::Request {
                walker: d[0],
                steps: u16::from_le_bytes([d[1], d[2]]),
                path: u16::from_le_bytes([d[3], d[4]]),
            });
        }
        if d[1] > 1 {
            return Err(WalkerError::Verdict { value: d[1] });
        }
        Ok(CheckMessage::Verdict {
            walker: d[0],
            go_on: d[1] == 1,
            hits: u16::from_le_bytes([d[2], d[3]]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag() -> WalkerTag {
        WalkerTag {
            walker: 3,
            check_every: 4,
            remember_neighbours: true,
            look_ahead: false,
            degree_bias: false,
            steps: 8,
            steps_left: 1016,
            sender_path: 5,
        }
    }

    #[test]
    fn tag_round_trips_and_marks_a_query() {
        let tag = tag();
        assert_eq!(WalkerTag::decode(&tag.encode()), Ok(tag));
        let q = Query::new("abc");
        assert_eq!(WalkerTag::find(&q), None);
        let marked = tag.apply(&q);
        assert_eq!(WalkerTag::find(&marked), Some(Ok(tag)));
        let next = WalkerTag { steps: 9, ..tag };
        let remarked = next.apply(&marked);
        assert_eq!(remarked.extensions.len(), 1, "replaced in place");
        assert_eq!(WalkerTag::find(&remarked), Some(Ok(next)));
    }

    #[test]
    fn malformed_tags_are_typed_errors() {
        let mut bad = tag().encode();
        bad[8] = 0x01;
        assert_eq!(
            WalkerTag::decode(&bad),
            Err(WalkerError::TagFlags { flags: 0x01 }),
            "format bit missing"
        );
        bad[8] = 0x88;
        assert_eq!(
            WalkerTag::decode(&bad),
            Err(WalkerError::TagFlags { flags: 0x88 }),
            "unknown flag"
        );
        bad[8] = 0x87;
        let all = WalkerTag::decode(&bad).unwrap();
        assert!(all.remember_neighbours && all.look_ahead && all.degree_bias);
        assert_eq!(all.encode()[8], 0x87);
        for len in [0, 8, 10, 300] {
            let data = vec![0x81; len];
            assert_eq!(
                WalkerTag::decode(&data),
                Err(WalkerError::TagLength {
                    len,
                    expected: WALKER_TAG_LEN
                })
            );
        }
        let mut ext = GgepExtension::new(WALKER_GGEP_ID, tag().encode().to_vec());
        ext.cobs = true;
        let mut q = Query::new("abc");
        q.extensions
            .push(Extension::Ggep(GgepBlock::Parsed(vec![ext])));
        assert_eq!(WalkerTag::find(&q), Some(Err(WalkerError::TagEncoded)));
    }

    #[test]
    fn check_messages_round_trip() {
        for m in [
            CheckMessage::Request {
                walker: 7,
                steps: 12,
                path: 9,
            },
            CheckMessage::Verdict {
                walker: 7,
                go_on: true,
                hits: 0,
            },
            CheckMessage::Verdict {
                walker: 0,
                go_on: false,
                hits: 3,
            },
        ] {
            assert_eq!(CheckMessage::decode(&m.encode()), Ok(m));
        }
    }

    #[test]
    fn foreign_and_malformed_vendor_messages_are_refused() {
        let request = CheckMessage::Request {
            walker: 1,
            steps: 1,
            path: 1,
        }
        .encode();
        let mut other = request.clone();
        other[0] = b'L';
        assert_eq!(CheckMessage::decode(&other), Err(WalkerError::NotACheck));
        let mut version = request.clone();
        version[6] = 2;
        assert_eq!(CheckMessage::decode(&version), Err(WalkerError::NotACheck));
        assert_eq!(
            CheckMessage::decode(b"SRVT\x03\x00\x01\x00\x01\x02\x00\x00"),
            Err(WalkerError::NotACheck),
            "unknown selector"
        );
        assert_eq!(
            CheckMessage::decode(b"SRVT\x02\x00\x01\x00\x01\x02\x00\x00"),
            Err(WalkerError::Verdict { value: 2 })
        );
        assert_eq!(
            CheckMessage::decode(&request[..12]),
            Err(WalkerError::CheckLength {
                selector: 1,
                len: 4,
                expected: 5
            })
        );
        for n in 0..8 {
            assert_eq!(
                CheckMessage::decode(&request[..n]),
                Err(WalkerError::VendorTruncated { len: n })
            );
        }
    }
}
