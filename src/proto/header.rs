//! The fixed 23-byte descriptor header and the payload type byte.

use serde::{Deserialize, Serialize};

use super::guid::Guid;
use super::limits::HEADER_LEN;
use super::wire;

/// The payload type byte (header byte 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PayloadType {
    /// Ping (0x00): asks for Pongs; broadcast.
    Ping,
    /// Pong (0x01): answers a Ping along its reverse path.
    Pong,
    /// Bye (0x02): announces the close of a link; never forwarded.
    Bye,
    /// Query Routing Protocol table update (0x30); hop-local, carried opaque.
    Qrp,
    /// Vendor message (0x31); hop-local, carried opaque.
    Vendor,
    /// Standard vendor message (0x32); hop-local, carried opaque.
    StandardVendor,
    /// Push (0x40): asks a firewalled servent to upload; routed by servent ID.
    Push,
    /// Query (0x80): a search; broadcast.
    Query,
    /// QueryHit (0x81): answers a Query along its reverse path.
    QueryHit,
}

impl PayloadType {
    /// All 9 payload types, in [`PayloadType::index`] order.
    pub const ALL: [PayloadType; 9] = [
        PayloadType::Ping,
        PayloadType::Pong,
        PayloadType::Bye,
        PayloadType::Qrp,
        PayloadType::Vendor,
        PayloadType::StandardVendor,
        PayloadType::Push,
        PayloadType::Query,
        PayloadType::QueryHit,
    ];

    /// The type a header's byte 16 names; `None` for a byte that is none of the 9.
    pub fn from_byte(b: u8) -> Option<PayloadType> {
        Some(match b {
            0x00 => PayloadType::Ping,
            0x01 => PayloadType::Pong,
            0x02 => PayloadType::Bye,
            0x30 => PayloadType::Qrp,
            0x31 => PayloadType::Vendor,
            0x32 => PayloadType::StandardVendor,
            0x40 => PayloadType::Push,
            0x80 => PayloadType::Query,
            0x81 => PayloadType::QueryHit,
            _ => return None,
        })
    }

    /// The byte written in header byte 16.
    pub fn to_byte(self) -> u8 {
        match self {
            PayloadType::Ping => 0x00,
            PayloadType::Pong => 0x01,
            PayloadType::Bye => 0x02,
            PayloadType::Qrp => 0x30,
            PayloadType::Vendor => 0x31,
            PayloadType::StandardVendor => 0x32,
            PayloadType::Push => 0x40,
            PayloadType::Query => 0x80,
            PayloadType::QueryHit => 0x81,
        }
    }

    /// Dense index 0..9, for per-type counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case protocol name, as used in the spec, vectors and `/status`.
    pub fn name(self) -> &'static str {
        match self {
            PayloadType::Ping => "ping",
            PayloadType::Pong => "pong",
            PayloadType::Bye => "bye",
            PayloadType::Qrp => "qrp",
            PayloadType::Vendor => "vendor",
            PayloadType::StandardVendor => "standard-vendor",
            PayloadType::Push => "push",
            PayloadType::Query => "query",
            PayloadType::QueryHit => "query-hit",
        }
    }
}

/// The descriptor header as it sits on the wire (all integers little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Descriptor ID (bytes 0-15).
    pub guid: Guid,
    /// Payload type byte (byte 16) as received, possibly unknown (see [`PayloadType::from_byte`]).
    pub payload_type: u8,
    /// Hops the descriptor may still travel (byte 17).
    pub ttl: u8,
    /// Hops travelled so far (byte 18).
    pub hops: u8,
    /// Payload length in bytes (bytes 19-22, u32 LE); framing refuses more than 65,536.
    pub payload_len: u32,
}

impl Header {
    /// Decodes the first 23 bytes of `buf`, which must hold at least that many.
    pub fn decode(buf: &[u8]) -> Option<Header> {
        if buf.len() < HEADER_LEN {
            return None;
        }
        wire::decode_fixed(&buf[..HEADER_LEN])
    }

    /// Appends the 23 header bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        wire::encode_fixed(self, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_23_bytes_little_endian() {
        let h = Header {
            guid: Guid([7; 16]),
            payload_type: 0x80,
            ttl: 7,
            hops: 0,
            payload_len: 0x0102_0304,
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out.len(), HEADER_LEN);
        assert_eq!(&out[16..], &[0x80, 7, 0, 0x04, 0x03, 0x02, 0x01]);
        assert_eq!(Header::decode(&out), Some(h));
        for t in PayloadType::ALL {
            assert_eq!(PayloadType::from_byte(t.to_byte()), Some(t));
        }
    }
}
