//! A whole descriptor: header fields plus a typed payload, and its encoding.

use std::sync::Arc;

use super::error::{DecodeError, EncodeError};
use super::guid::Guid;
use super::header::{Header, PayloadType};
use super::limits::{HEADER_LEN, MAX_HITS_PER_QUERY_HIT, MAX_PAYLOAD_LEN};
use super::payload::{Bye, Ping, Pong, Push, Query, QueryHit};

#[derive(Debug, Clone, PartialEq, Eq)]
/// A descriptor's payload, decoded by type; QRP and vendor messages stay opaque bytes.
pub enum Payload {
    /// Ping (0x00): asks for Pongs; broadcast.
    Ping(Ping),
    /// Pong (0x01): a servent's address and library totals, routed back along the Ping's path.
    Pong(Pong),
    /// Bye (0x02): the sender is about to close the link; never forwarded.
    Bye(Bye),
    /// Push (0x40): asks a firewalled servent to connect out and upload; routed by servent ID.
    Push(Push),
    /// Query (0x80): a search; broadcast (or walked, when it carries an `RW` tag).
    Query(Query),
    /// QueryHit (0x81): results for a Query, routed back along the Query's path.
    QueryHit(QueryHit),
    /// QRP (0x30) and vendor messages (0x31, 0x32): hop-local, carried through as bytes.
    Opaque {
        /// Which of the three opaque types: `Qrp`, `Vendor` or `StandardVendor`.
        kind: PayloadType,
        /// The whole payload as received; encoded back unchanged.
        bytes: Vec<u8>,
    },
}

/// A descriptor: header fields plus a shared payload. Forwarding changes only TTL and
/// hops, so the payload sits behind an `Arc`: relaying to many neighbours never copies it.
/// A decoded descriptor also keeps its payload bytes as received, so relaying sends them
/// unchanged (byte-exact, whatever form the sender chose) without encoding again.
#[derive(Debug, Clone)]
pub struct Descriptor {
    /// Descriptor ID: replies reuse their request's; the key of duplicate detection and routing.
    pub guid: Guid,
    /// Hops this descriptor may still travel (header byte 17).
    pub ttl: u8,
    /// Hops travelled so far (header byte 18).
    pub hops: u8,
    /// The decoded payload, shared by every copy relayed.
    pub payload: Arc<Payload>,
    /// The payload bytes as received (None for descriptors we built). Must encode to the
    /// same `payload`: only [`Descriptor::decode`] sets it.
    wire: Option<Arc<[u8]>>,
}

/// Equality is by header fields and decoded payload; the kept wire bytes do not count.
impl PartialEq for Descriptor {
    fn eq(&self, other: &Self) -> bool {
        (self.guid, self.ttl, self.hops) == (other.guid, other.ttl, other.hops)
            && self.payload == other.payload
    }
}

impl Eq for Descriptor {}

impl Payload {
    /// The type this payload is sent as (header byte 16).
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Payload::Ping(_) => PayloadType::Ping,
            Payload::Pong(_) => PayloadType::Pong,
            Payload::Bye(_) => PayloadType::Bye,
            Payload::Push(_) => PayloadType::Push,
            Payload::Query(_) => PayloadType::Query,
            Payload::QueryHit(_) => PayloadType::QueryHit,
            Payload::Opaque { kind, .. } => *kind,
        }
    }

    /// Decodes a payload of the given type byte.
    pub fn decode(type_byte: u8, buf: &[u8]) -> Result<Payload, DecodeError> {
        let kind =
            PayloadType::from_byte(type_byte).ok_or(DecodeError::UnknownPayloadType(type_byte))?;
        Ok(match kind {
            PayloadType::Ping => Payload::Ping(Ping::decode(buf)),
            PayloadType::Pong => Payload::Pong(Pong::decode(buf)?),
            PayloadType::Bye => Payload::Bye(Bye::decode(buf)?),
            PayloadType::Push => Payload::Push(Push::decode(buf)?),
            PayloadType::Query => Payload::Query(Query::decode(buf)?),
            PayloadType::QueryHit => Payload::QueryHit(QueryHit::decode(buf)?),
            PayloadType::Qrp | PayloadType::Vendor | PayloadType::StandardVendor => {
                Payload::Opaque {
                    kind,
                    bytes: buf.to_vec(),
                }
            }
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Payload::Ping(p) => p.encode(out),
            Payload::Pong(p) => p.encode(out),
            Payload::Bye(p) => p.encode(out),
            Payload::Push(p) => p.encode(out),
            Payload::Query(p) => p.encode(out),
            Payload::QueryHit(p) => p.encode(out),
            Payload::Opaque { bytes, .. } => out.extend_from_slice(bytes),
        }
    }
}

impl Descriptor {
    /// A descriptor we build (originate or answer): encoding runs the payload's encoder.
    pub fn new(guid: Guid, ttl: u8, hops: u8, payload: Payload) -> Descriptor {
        Descriptor {
            guid,
            ttl,
            hops,
            payload: Arc::new(payload),
            wire: None,
        }
    }

    /// The same descriptor without the bytes it was decoded from: encoding it runs the
    /// encoder (tests and fuzzing compare that with the original bytes).
    pub fn rebuilt(&self) -> Descriptor {
        Descriptor {
            wire: None,
            ..self.clone()
        }
    }

    /// The same payload with other header fields (a reply relayed on, a walker's step).
    pub fn with_header(&self, ttl: u8, hops: u8) -> Descriptor {
        Descriptor {
            ttl,
            hops,
            ..self.clone()
        }
    }

    /// The same descriptor one hop further on: TTL - 1, hops + 1, payload shared.
    pub fn next_hop(&self, ttl: u8) -> Descriptor {
        Descriptor {
            guid: self.guid,
            ttl: ttl.saturating_sub(1),
            hops: self.hops.saturating_add(1),
            payload: Arc::clone(&self.payload),
            wire: self.wire.clone(),
        }
    }

    /// The payload's type (header byte 16).
    pub fn payload_type(&self) -> PayloadType {
        self.payload.payload_type()
    }

    /// Decodes a payload whose header has already been read.
    pub fn decode(header: &Header, payload: &[u8]) -> Result<Descriptor, DecodeError> {
        if payload.len() != header.payload_len as usize {
            return Err(DecodeError::LengthMismatch {
                announced: header.payload_len,
                got: payload.len(),
            });
        }
        Ok(Descriptor {
            guid: header.guid,
            ttl: header.ttl,
            hops: header.hops,
            payload: Arc::new(Payload::decode(header.payload_type, payload)?),
            wire: Some(Arc::from(payload)),
        })
    }

    /// Appends header and payload to `out`; returns the number of bytes written. On error
    /// `out` is left as it was.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
        if let Payload::QueryHit(hit) = &*self.payload {
            if hit.results.len() > MAX_HITS_PER_QUERY_HIT {
                return Err(EncodeError::TooManyResults {
                    count: hit.results.len(),
                });
            }
        }
        let start = out.len();
        let header = Header {
            guid: self.guid,
            payload_type: self.payload_type().to_byte(),
            ttl: self.ttl,
            hops: self.hops,
            payload_len: 0,
        };
        header.encode(out);
        match &self.wire {
            Some(bytes) => out.extend_from_slice(bytes),
            None => self.payload.encode(out),
        }
        let len = out.len() - start - HEADER_LEN;
        if len > MAX_PAYLOAD_LEN {
            out.truncate(start);
            return Err(EncodeError::PayloadTooLarge { len });
        }
        out[start + 19..start + HEADER_LEN].copy_from_slice(&(len as u32).to_le_bytes());
        Ok(HEADER_LEN + len)
    }

    /// Encodes into a fresh buffer.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(HEADER_LEN + 64);
        self.encode(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame::parse;

    /// A relayed descriptor carries the sender's payload bytes unchanged, even where our
    /// encoder would write them differently (here LimeWire's NUL after the extensions).
    #[test]
    fn relaying_keeps_the_payload_bytes_as_received() {
        let payload = b"\x80\x00abc\x00urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB\x00";
        let mut frame = Vec::new();
        Header {
            guid: Guid([5; 16]),
            payload_type: PayloadType::Query.to_byte(),
            ttl: 4,
            hops: 1,
            payload_len: payload.len() as u32,
        }
        .encode(&mut frame);
        frame.extend_from_slice(payload);
        let d = parse(&frame).unwrap();
        let relayed = d.next_hop(d.ttl).to_bytes().unwrap();
        assert_eq!(&relayed[HEADER_LEN..], payload);
        assert_eq!(
            (relayed[17], relayed[18]),
            (3, 2),
            "only TTL and hops change"
        );
        // Our encoder drops the end mark: the rebuilt form differs, the decoded one not.
        let rebuilt = d.rebuilt().to_bytes().unwrap();
        assert_eq!(rebuilt.len(), relayed.len() - 1);
        assert_eq!(parse(&rebuilt).unwrap(), d);
    }
}
