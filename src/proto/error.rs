//! Typed codec errors, one enum per concern: framing (the link must close), decoding one
//! descriptor (the descriptor is dropped, the link survives) and encoding.

use super::limits::MAX_PAYLOAD_LEN;

/// The byte stream cannot be framed any more: the link must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("payload length {len} exceeds the {limit}-byte limit")]
    PayloadTooLarge { len: u32, limit: usize },
}

/// One complete frame could not be decoded. Framing is intact (the length field was
/// within limits), so the descriptor is dropped and counted and the link goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown payload type 0x{0:02x}")]
    UnknownPayloadType(u8),
    #[error("{what} is truncated")]
    Truncated { what: &'static str },
    #[error("{what} lacks its NUL terminator")]
    MissingNul { what: &'static str },
    #[error("{what} has {len} bytes, more than the {limit}-byte limit")]
    TooLong {
        what: &'static str,
        len: usize,
        limit: usize,
    },
    #[error("{what} has {extra} unexpected trailing bytes")]
    TrailingBytes { what: &'static str, extra: usize },
    #[error("frame holds {got} payload bytes but the header announces {announced}")]
    LengthMismatch { announced: u32, got: usize },
}

/// A descriptor could not be encoded within the protocol's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("payload of {len} bytes exceeds the {MAX_PAYLOAD_LEN}-byte limit")]
    PayloadTooLarge { len: usize },
    #[error("{count} results do not fit the one-byte hit count")]
    TooManyResults { count: usize },
}

/// A walker tag (the `RW` GGEP extension) or a walker check message (vendor `SRVT`) could
/// not be read. Decoding allocates nothing: both have fixed lengths, checked first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkerError {
    #[error("walker tag has {len} bytes, not {expected}")]
    TagLength { len: usize, expected: usize },
    #[error("walker tag flags 0x{flags:02x}: format bit clear or an unknown bit set")]
    TagFlags { flags: u8 },
    #[error("walker tag is COBS- or deflate-encoded")]
    TagEncoded,
    #[error("vendor message of {len} bytes is shorter than its 8-byte vendor header")]
    VendorTruncated { len: usize },
    #[error("vendor message is not a walker check (another vendor, selector or version)")]
    NotACheck,
    #[error("check message with selector {selector} has {len} data bytes, not {expected}")]
    CheckLength {
        selector: u16,
        len: usize,
        expected: usize,
    },
    #[error("check verdict {value} is neither 0 (stop) nor 1 (go on)")]
    Verdict { value: u8 },
}
