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
/// A Pong payload: a servent's address and what it shares.
pub struct Pong {
    /// Port the servent listens on.
    pub port: u16,
    /// IPv4 address the servent listens on.
    pub ip: Ipv4Addr,
    /// Number of files it shares.
    pub files_shared: u32,
    /// Total size of those files, in units of 1,024 bytes.
    pub kbytes_shared: u32,
    /// Trailing GGEP block (e.g. `DU` uptime, `VC` vendor code, `IPP` packed hosts); `None`
    /// when the payload ends after 14 bytes.
    pub ggep: Option<GgepBlock>,
}

impl Pong {
    /// Reads a Pong payload: [`DecodeError::Truncated`] under 14 bytes.
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

    /// Appends the 14-byte fixed part and the GGEP block, if any.
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
