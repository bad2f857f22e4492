//! Gnutella over UDP: one whole descriptor (23-byte header and payload) per datagram, as
//! gtk-gnutella and LimeWire send UDP Pings, Pongs and out-of-band replies. The size is
//! bounded before a byte is read and the header's length must match the datagram exactly;
//! decoding never panics and allocates only what the bounded payload decoders do.
//! Layout and rules: protocol/README.md, section 9.7.

use super::descriptor::Descriptor;
use super::error::{DecodeError, EncodeError};
use super::header::Header;
use super::limits::HEADER_LEN;

/// Largest datagram we read or send, bytes. A Ping, a Pong with its GGEP, and our check
/// messages (36 and 35 bytes) fit many times over; gtk-gnutella keeps its UDP Pongs and
/// hits under 1.5 KB so they cross a path MTU unfragmented. 4 KiB leaves room for those
/// and bounds what one hostile datagram can make us decode (the receive buffer is one
/// fixed allocation of this size plus one byte, so an oversize datagram is seen as such).
pub const MAX_DATAGRAM_LEN: usize = 4 * 1024;

/// Why a datagram was dropped before it reached the core's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    /// Longer than [`MAX_DATAGRAM_LEN`]: dropped unread.
    #[error("datagram of {len} bytes is over the {limit}-byte limit")]
    Oversize {
        /// Bytes received (at least `limit + 1`: the buffer reads no more).
        len: usize,
        /// [`MAX_DATAGRAM_LEN`].
        limit: usize,
    },
    /// Shorter than the 23-byte descriptor header.
    #[error("datagram of {len} bytes is shorter than a descriptor header")]
    Truncated {
        /// Bytes received.
        len: usize,
    },
    /// The header's payload length is not what the datagram holds after the header.
    #[error("header says {declared} payload bytes, the datagram holds {actual}")]
    LengthMismatch {
        /// The header's length field.
        declared: u32,
        /// Bytes after the header.
        actual: usize,
    },
    /// The descriptor itself did not decode.
    #[error("descriptor: {0}")]
    Descriptor(#[from] DecodeError),
}

impl DatagramError {
    /// Short name for counters.
    pub fn name(&self) -> &'static str {
        match self {
            DatagramError::Oversize { .. } => "oversize",
            DatagramError::Truncated { .. } => "truncated",
            DatagramError::LengthMismatch { .. } => "bad_length",
            DatagramError::Descriptor(_) => "bad_descriptor",
        }
    }
}

/// Reads one datagram: size bound first, then the header, then the length field against
/// the bytes actually there, then the payload.
pub fn decode(datagram: &[u8]) -> Result<Descriptor, DatagramError> {
    let len = datagram.len();
    if len > MAX_DATAGRAM_LEN {
        return Err(DatagramError::Oversize {
            len,
            limit: MAX_DATAGRAM_LEN,
        });
    }
    let header = Header::decode(datagram).ok_or(DatagramError::Truncated { len })?;
    let actual = len - HEADER_LEN;
    if header.payload_len as usize != actual {
        return Err(DatagramError::LengthMismatch {
            declared: header.payload_len,
            actual,
        });
    }
    Ok(Descriptor::decode(&header, &datagram[HEADER_LEN..])?)
}

/// Writes `d` as one datagram into `out` (cleared first); returns its length.
pub fn encode(d: &Descriptor, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
    out.clear();
    d.encode(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::payload::Ping;
    use crate::proto::{Guid, Payload};

    fn ping() -> Vec<u8> {
        let d = Descriptor::new(Guid([7; 16]), 1, 0, Payload::Ping(Ping::default()));
        let mut out = Vec::new();
        encode(&d, &mut out).unwrap();
        out
    }

    #[test]
    fn a_ping_round_trips_and_hostile_sizes_are_typed_errors() {
        let b = ping();
        assert_eq!(b.len(), HEADER_LEN);
        assert_eq!(decode(&b).unwrap().guid, Guid([7; 16]));
        for n in 0..HEADER_LEN {
            assert_eq!(decode(&b[..n]), Err(DatagramError::Truncated { len: n }));
        }
        let mut long = b.clone();
        long.push(0);
        assert_eq!(
            decode(&long),
            Err(DatagramError::LengthMismatch {
                declared: 0,
                actual: 1
            })
        );
        let mut lying = b.clone();
        lying[19..23].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            decode(&lying),
            Err(DatagramError::LengthMismatch {
                declared: u32::MAX,
                actual: 0
            })
        );
        let huge = vec![0u8; MAX_DATAGRAM_LEN + 1];
        assert!(matches!(decode(&huge), Err(DatagramError::Oversize { .. })));
        let mut bad_type = b;
        bad_type[16] = 0x77;
        assert!(matches!(
            decode(&bad_type),
            Err(DatagramError::Descriptor(_))
        ));
    }
}
