//! Push: servent ID (16), file index (u32 LE), IPv4 (network order), port (u16 LE), then
//! an optional GGEP block. Routed by servent ID along the path the QueryHit came by.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::trailing::{decode_trailing_ggep, encode_trailing_ggep};
use crate::proto::error::DecodeError;
use crate::proto::ggep::GgepBlock;
use crate::proto::guid::Guid;
use crate::proto::wire;

/// Length of the fixed part of a Push.
pub(super) const PUSH_FIXED_LEN: usize = 26;

#[derive(Serialize, Deserialize)]
struct PushFixed {
    servent_id: Guid,
    file_index: u32,
    ip: [u8; 4],
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A Push payload: asks a firewalled servent to connect to `ip:port` and upload a file.
pub struct Push {
    /// Servent ID of the servent asked to push (the one ending its QueryHits).
    pub servent_id: Guid,
    /// Index of the file wanted, as in that servent's QueryHit result.
    pub file_index: u32,
    /// IPv4 address the pushing servent is to connect to.
    pub ip: Ipv4Addr,
    /// Port it is to connect to.
    pub port: u16,
    /// Trailing GGEP block; `None` when the payload ends after 26 bytes.
    pub ggep: Option<GgepBlock>,
}

impl Push {
    /// Reads a Push payload: [`DecodeError::Truncated`] under 26 bytes.
    pub fn decode(buf: &[u8]) -> Result<Push, DecodeError> {
        if buf.len() < PUSH_FIXED_LEN {
            return Err(DecodeError::Truncated { what: "push" });
        }
        let fixed: PushFixed =
            wire::decode_fixed(buf).ok_or(DecodeError::Truncated { what: "push" })?;
        Ok(Push {
            servent_id: fixed.servent_id,
            file_index: fixed.file_index,
            ip: Ipv4Addr::from(fixed.ip),
            port: fixed.port,
            ggep: decode_trailing_ggep(&buf[PUSH_FIXED_LEN..]),
        })
    }

    /// Appends the 26-byte fixed part and the GGEP block, if any.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let fixed = PushFixed {
            servent_id: self.servent_id,
            file_index: self.file_index,
            ip: self.ip.octets(),
            port: self.port,
        };
        wire::encode_fixed(&fixed, out);
        encode_trailing_ggep(&self.ggep, out);
    }
}
