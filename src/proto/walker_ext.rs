//! The walker's two optional GGEP extensions beside `RW`: `RA`, in a walker Query, the
//! requester's UDP address, where holders send check requests directly ([`ReplyAddr`]);
//! and `RS`, in a walker's QueryHit trailer, the walker's steps when it found the hit
//! ([`FindSteps`]). Fixed lengths, checked before a byte is read; no allocation on
//! decode. Layout: protocol/README.md, sections 9.3 and 9.7.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::error::WalkerError;
use super::ggep::{GgepBlock, GgepExtension};
use super::payload::query_hit::FLAG_GGEP;
use super::payload::{Extension, Query, QueryHit};
use super::walker::WALKER_GGEP_ID;

/// GGEP extension ID of the requester's UDP address in a walker Query.
pub const REPLY_ADDR_GGEP_ID: &str = "RA";
/// Length of `RA`'s data: IPv4 address (4, network order) and port (2, little-endian), as
/// GGEP `IPP` writes a host.
pub const REPLY_ADDR_LEN: usize = 6;
/// GGEP extension ID of the finding walker's steps in a walker's QueryHit trailer.
pub const FIND_STEPS_GGEP_ID: &str = "RS";
/// Length of `RS`'s data: walker number (1), steps (2, little-endian).
pub const FIND_STEPS_LEN: usize = 3;

/// Where the requester of a walk takes check requests by UDP (`RA`, 6 bytes).
///
/// | byte | field |
/// |---|---|
/// | 0-3 | IPv4 address, network order |
/// | 4-5 | UDP port, little-endian |
///
/// A zero address or port is malformed. The requester puts `RA` in the same GGEP block
/// as `RW`, before it, so the extension area still ends with `RW`'s non-zero flags byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyAddr(pub SocketAddrV4);

impl ReplyAddr {
    /// The 6 data bytes.
    pub fn encode(&self) -> [u8; REPLY_ADDR_LEN] {
        let mut out = [0u8; REPLY_ADDR_LEN];
        out[..4].copy_from_slice(&self.0.ip().octets());
        out[4..].copy_from_slice(&self.0.port().to_le_bytes());
        out
    }

    /// Reads exactly 6 bytes; a zero address or port is [`WalkerError::ReplyAddr`].
    pub fn decode(data: &[u8]) -> Result<ReplyAddr, WalkerError> {
        let d: &[u8; REPLY_ADDR_LEN] = data.try_into().map_err(|_| WalkerError::TagLength {
            len: data.len(),
            expected: REPLY_ADDR_LEN,
        })?;
        let ip = Ipv4Addr::new(d[0], d[1], d[2], d[3]);
        let port = u16::from_le_bytes([d[4], d[5]]);
        if ip.is_unspecified() || port == 0 {
            return Err(WalkerError::ReplyAddr);
        }
        Ok(ReplyAddr(SocketAddrV4::new(ip, port)))
    }

    /// The `RA` of a walker Query: `None` when absent, an error when malformed or
    /// encoded. Looked for in the GGEP block holding `RW` (the first parsed block with
    /// one), as the requester writes it.
    pub fn find(query: &Query) -> Option<Result<ReplyAddr, WalkerError>> {
        for item in &query.extensions {
            if let Extension::Ggep(GgepBlock::Parsed(exts)) = item {
                if exts.iter().any(|e| e.id == WALKER_GGEP_ID) {
                    let e = exts.iter().find(|e| e.id == REPLY_ADDR_GGEP_ID)?;
                    return Some(if e.cobs || e.deflate {
                        Err(WalkerError::TagEncoded)
                    } else {
                        ReplyAddr::decode(&e.data)
                    });
                }
            }
        }
        None
    }

    /// `query` (already marked with `RW`) with this `RA` inserted just before `RW` in
    /// `RW`'s block, replacing an `RA` already there. Unchanged when it has no `RW`.
    pub fn apply(&self, query: &Query) -> Query {
        let mut q = query.clone();
        for item in &mut q.extensions {
            if let Extension::Ggep(GgepBlock::Parsed(exts)) = item {
                if exts.iter().any(|e| e.id == WALKER_GGEP_ID) {
                    exts.retain(|e| e.id != REPLY_ADDR_GGEP_ID);
                    let at = exts
                        .iter()
                        .position(|e| e.id == WALKER_GGEP_ID)
                        .unwrap_or(exts.len());
                    exts.insert(
                        at,
                        GgepExtension::new(REPLY_ADDR_GGEP_ID, self.encode().to_vec()),
                    );
                    return q;
                }
            }
        }
        q
    }

    /// `query` without any `RA`: a holder whose direct check went unanswered sends the
    /// walker on without it, so one walker makes at most one unanswered datagram.
    pub fn strip(query: &Query) -> Query {
        let mut q = query.clone();
        for item in &mut q.extensions {
            if let Extension::Ggep(GgepBlock::Parsed(exts)) = item {
                exts.retain(|e| e.id != REPLY_ADDR_GGEP_ID);
            }
        }
        q
    }
}

/// The steps of the walker that found a hit (`RS`, 3 bytes, in the QueryHit trailer's
/// GGEP block): walker number (1), then its steps when the responder answered (2,
/// little-endian). The requester reads it from its first hit (`QueryCost::first_hit_steps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindSteps {
    /// The walker number, 0..k-1.
    pub walker: u8,
    /// Its steps when it reached the responder (1 at the requester's neighbour).
    pub steps: u16,
}

impl FindSteps {
    /// The 3 data bytes.
    pub fn encode(&self) -> [u8; FIND_STEPS_LEN] {
        let s = self.steps.to_le_bytes();
        [self.walker, s[0], s[1]]
    }

    /// Reads exactly 3 bytes.
    pub fn decode(data: &[u8]) -> Result<FindSteps, WalkerError> {
        let d: &[u8; FIND_STEPS_LEN] = data.try_into().map_err(|_| WalkerError::TagLength {
            len: data.len(),
            expected: FIND_STEPS_LEN,
        })?;
        Ok(FindSteps {
            walker: d[0],
            steps: u16::from_le_bytes([d[1], d[2]]),
        })
    }

    /// The `RS` of a QueryHit, if its trailer's GGEP block holds a well-formed one.
    pub fn find(hit: &QueryHit) -> Option<FindSteps> {
        let t = hit.trailer.as_ref()?;
        let Some(GgepBlock::Parsed(exts)) = &t.ggep else {
            return None;
        };
        let e = exts.iter().find(|e| e.id == FIND_STEPS_GGEP_ID)?;
        if e.cobs || e.deflate {
            return None;
        }
        FindSteps::decode(&e.data).ok()
    }

    /// Adds `RS` to the hit's trailer GGEP block (creating the block and setting the
    /// trailer's GGEP flag when there is none). A 0.4 hit without a trailer, or one with
    /// an unparsed block, is left as it is.
    pub fn apply(&self, hit: &mut QueryHit) {
        let Some(t) = hit.trailer.as_mut() else {
            return;
        };
        let ext = GgepExtension::new(FIND_STEPS_GGEP_ID, self.encode().to_vec());
        match &mut t.ggep {
            Some(GgepBlock::Parsed(exts)) => {
                exts.retain(|e| e.id != FIND_STEPS_GGEP_ID);
                exts.push(ext);
            }
            Some(GgepBlock::Raw(_)) => return,
            None => t.ggep = Some(GgepBlock::Parsed(vec![ext])),
        }
        t.set_flag(FLAG_GGEP, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::walker::WalkerTag;

    fn tag() -> WalkerTag {
        WalkerTag {
            walker: 2,
            check_every: 4,
            remember_neighbours: true,
            look_ahead: false,
            degree_bias: false,
            steps: 4,
            steps_left: 10,
            sender_path: 3,
        }
    }

    #[test]
    fn reply_addr_sits_before_rw_and_survives_steps() {
        let a = ReplyAddr(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 6346));
        assert_eq!(a.encode(), [127, 0, 0, 1, 0xCA, 0x18]);
        assert_eq!(ReplyAddr::decode(&a.encode()), Ok(a));
        let q = a.apply(&tag().apply(&Query::new("abc")));
        assert_eq!(ReplyAddr::find(&q), Some(Ok(a)));
        let Extension::Ggep(GgepBlock::Parsed(exts)) = q.extensions.last().unwrap() else {
            panic!("a parsed block");
        };
        assert_eq!(
            exts.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
            ["RA", "RW"],
            "RW stays last"
        );
        let next = WalkerTag { steps: 5, ..tag() }.apply(&q);
        assert_eq!(
            ReplyAddr::find(&next),
            Some(Ok(a)),
            "kept as RW is rewritten"
        );
        assert_eq!(WalkerTag::find(&next).unwrap().unwrap().steps, 5);
        let stripped = ReplyAddr::strip(&next);
        assert_eq!(ReplyAddr::find(&stripped), None);
        assert!(WalkerTag::find(&stripped).is_some());
        assert_eq!(ReplyAddr::find(&Query::new("abc")), None);
    }

    #[test]
    fn malformed_reply_addrs_are_errors() {
        for len in [0, 5, 7] {
            assert!(matches!(
                ReplyAddr::decode(&vec![1; len]),
                Err(WalkerError::TagLength { .. })
            ));
        }
        assert_eq!(
            ReplyAddr::decode(&[0, 0, 0, 0, 1, 0]),
            Err(WalkerError::ReplyAddr)
        );
        assert_eq!(
            ReplyAddr::decode(&[127, 0, 0, 1, 0, 0]),
            Err(WalkerError::ReplyAddr)
        );
    }

    #[test]
    fn find_steps_round_trip_in_a_trailer() {
        use crate::proto::payload::Trailer;
        use crate::proto::Guid;
        let mut hit = QueryHit {
            port: 1,
            ip: Ipv4Addr::LOCALHOST,
            speed: 0,
            results: Vec::new(),
            trailer: Some(Trailer::new(*b"SRVT", false, false, false, false)),
            servent_id: Guid([1; 16]),
        };
        assert_eq!(FindSteps::find(&hit), None);
        let s = FindSteps {
            walker: 3,
            steps: 513,
        };
        s.apply(&mut hit);
        assert_eq!(FindSteps::find(&hit), Some(s));
        let mut bytes = Vec::new();
        hit.encode(&mut bytes);
        let back = QueryHit::decode(&bytes).unwrap();
        assert_eq!(FindSteps::find(&back), Some(s), "survives the wire");
        assert_eq!(back.trailer.unwrap().flag(FLAG_GGEP), Some(true));
    }
}
