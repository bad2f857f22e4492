//! A whole descriptor: header fields plus a typed payload, and its encoding.

use std::sync::Arc;

use super::error::{DecodeError, EncodeError};
use super::guid::Guid;
use super::header::{Header, PayloadType};
use super::limits::{HEADER_LEN, MAX_HITS_PER_QUERY_HIT, MAX_PAYLOAD_LEN};
use super::payload::{Bye, Ping, Pong, Push, Query, QueryHit};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Ping(Ping),
    Pong(Pong),
    Bye(Bye),
    Push(Push),
    Query(Query),
    QueryHit(QueryHit),
    /// QRP (0x30) and vendor messages (0x31, 0x32): hop-local, carried through as bytes.
    Opaque {
        kind: PayloadType,
        bytes: Vec<u8>,
    },
}

/// A descriptor: header fields plus a shared payload. Forwarding changes only TTL and
/// hops, so the payload sits behind an `Arc`: relaying to many neighbours never copies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub guid: Guid,
    pub ttl: u8,
    pub hops: u8,
    pub payload: Arc<Payload>,
}

impl Payload {
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
    pub fn new(guid: Guid, ttl: u8, hops: u8, payload: Payload) -> Descriptor {
        Descriptor {
            guid,
            ttl,
            hops,
            payload: Arc::new(payload),
        }
    }

    /// The same descriptor one hop further on: TTL - 1, hops + 1, payload shared.
    pub fn next_hop(&self, ttl: u8) -> Descriptor {
        Descriptor {
            guid: self.guid,
            ttl: ttl.saturating_sub(1),
            hops: self.hops.saturating_add(1),
            payload: Arc::clone(&self.payload),
        }
    }

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
        self.payload.encode(out);
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
