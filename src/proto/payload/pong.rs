//! Pong: port (u16 LE), IPv4 (network order), files shared and KB shared (u32 LE), then
//! an optional GGEP block.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::trailing::{decode_trailing_ggep, encode_trailing_ggep};
use crate::proto::error::DecodeError;
use crate::proto::ggep::GgepBlock;
use crate::proto::wire;

/// Length of the fixed part of a Pong.
pub(super) const PONG_FIXED_LEN: usize = 14;

#[derive(Serialize, Deserialize)]
struct PongFixed {
    port: u16,
    ip: [u8; 4],
    files_shared: u32,
    kbytes_shared: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
    pub port: u16,
    pub ip: Ipv4Addr,
    pub files_shared: u32,
    pub kbytes_shared: u32,
    pub ggep: Option<GgepBlock>,
}

impl Pong {
    pub fn decode(buf: &[u8]) -> Result<Pong, DecodeError> {
        if buf.len() < PONG_FIXED_LEN {
            return Err(DecodeError::Truncated { what: "pong" });
        }
        let fixed: PongFixed =
            wire::decode_fixed(buf).ok_or(DecodeError::Truncated { what: "pong" })?;
        Ok(Pong {
            port: fixed.port,
            ip: Ipv4Addr::from(fixed.ip),
            files_shared: fixed.files_shared,
            kbytes_shared: fixed.kbytes_shared,
            ggep: decode_trailing_ggep(&buf[PONG_FIXED_LEN..]),
        })
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        let fixed = PongFixed {
            port: self.port,
            ip: self.ip.octets(),
            files_shared: self.files_shared,
            kbytes_shared: self.kbytes_shared,
        };
        wire::encode_fixed(&fixed, out);
        encode_trailing_ggep(&self.ggep, out);
    }
}
