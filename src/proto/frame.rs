//! Two-phase framing of the descriptor stream. [`check`] looks at buffered bytes and says
//! whether one whole descriptor is there, without allocating; [`parse`] then decodes it.
//! A payload length over [`MAX_PAYLOAD_LEN`] is a [`FrameError`]: the stream cannot be
//! trusted any more and the link must be closed.

use super::descriptor::Descriptor;
use super::error::{DecodeError, FrameError};
use super::header::Header;
use super::limits::{HEADER_LEN, MAX_PAYLOAD_LEN};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// What [`check`] found at the front of the buffer.
pub enum Check {
    /// More bytes are needed.
    Incomplete,
    /// The first descriptor in the buffer is complete and this many bytes long.
    Complete(usize),
}

/// Step one: is a whole descriptor at the front of `buf`?
pub fn check(buf: &[u8]) -> Result<Check, FrameError> {
    if buf.len() < HEADER_LEN {
        return Ok(Check::Incomplete);
    }
    let len = u32::from_le_bytes([buf[19], buf[20], buf[21], buf[22]]);
    if len as usize > MAX_PAYLOAD_LEN {
        return Err(FrameError::PayloadTooLarge {
            len,
            limit: MAX_PAYLOAD_LEN,
        });
    }
    let total = HEADER_LEN + len as usize;
    Ok(if buf.len() >= total {
        Check::Complete(total)
    } else {
        Check::Incomplete
    })
}

/// Step two: decode exactly one descriptor, the `frame` that [`check`] delimited.
pub fn parse(frame: &[u8]) -> Result<Descriptor, DecodeError> {
    let header = Header::decode(frame).ok_or(DecodeError::Truncated { what: "header" })?;
    Descriptor::decode(&header, &frame[HEADER_LEN..])
}

/// Reads a whole buffer of back-to-back descriptors (tests, vectors, fuzzing). Stops at
/// the first framing error; a descriptor that fails to decode is returned as its error.
pub fn parse_all(mut buf: &[u8]) -> Result<Vec<Result<Descriptor, DecodeError>>, FrameError> {
    let mut out = Vec::new();
    while let Check::Complete(n) = check(buf)? {
        out.push(parse(&buf[..n]));
        buf = &buf[n..];
    }
    Ok(out)
}
