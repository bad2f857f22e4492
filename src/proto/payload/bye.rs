//! Bye: code (u16 LE) and a NUL-terminated reason. Sent with TTL 1, never forwarded, and
//! only to peers that announced `Bye-Packet: 0.1`.

use crate::proto::error::DecodeError;
use crate::proto::wire;

#[derive(Debug, Clone, PartialEq, Eq)]
/// A Bye payload: why the sender is closing the link.
pub struct Bye {
    /// 200/201 normal shutdown, 400-407 the peer's fault, 500-502 our own trouble.
    pub code: u16,
    /// Human-readable reason, up to the NUL, lossily decoded; NUL bytes in it are dropped
    /// on encoding.
    pub reason: String,
}

impl Bye {
    /// Reads a Bye payload: [`DecodeError::Truncated`] under 2 bytes; a missing NUL is
    /// accepted (the reason is then the rest).
    pub fn decode(buf: &[u8]) -> Result<Bye, DecodeError> {
        if buf.len() < 2 {
            return Err(DecodeError::Truncated { what: "bye" });
        }
        let code = u16::from_le_bytes([buf[0], buf[1]]);
        // Some servents omit the NUL; the reason is then the rest of the payload.
        let rest = &buf[2..];
        let text = wire::take_until_nul(rest).map_or(rest, |(t, _)| t);
        Ok(Bye {
            code,
            reason: String::from_utf8_lossy(text).into_owned(),
        })
    }

    /// Appends code (u16 LE), reason and a NUL.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.code.to_le_bytes());
        out.extend(self.reason.bytes().filter(|&b| b != 0));
        out.push(0);
    }
}
