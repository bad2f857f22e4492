//! Typed codec errors, one enum per concern: framing (the link must close), decoding one
//! descriptor (the descriptor is dropped, the link survives) and encoding.

use super::limits::MAX_PAYLOAD_LEN;

/// The byte stream cannot be framed any more: the link must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header's payload length exceeds [`MAX_PAYLOAD_LEN`] (65,536 bytes); found before
    /// anything is allocated for it.
    #[error("payload length {len} exceeds the {limit}-byte limit")]
    PayloadTooLarge {
        /// Payload length the header announces, bytes.
        len: u32,
        /// The limit it breaks, bytes.
        limit: usize,
    },
}

/// One complete frame could not be decoded. Framing is intact (the length field was
/// within limits), so the descriptor is dropped and counted and the link goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Header byte 16 is none of the 9 payload types; carries the byte.
    #[error("unknown payload type 0x{0:02x}")]
    UnknownPayloadType(u8),
    /// The header, a payload or a part of one (a QueryHit result or trailer) is shorter than
    /// its layout needs, or a QueryHit announces more results than its bytes can hold.
    #[error("{what} is truncated")]
    Truncated {
        /// The part that is short, e.g. "pong" or "query hit trailer".
        what: &'static str,
    },
    /// A NUL-terminated field (Query text, QueryHit file name or extension area) has no NUL.
    #[error("{what} lacks its NUL terminator")]
    MissingNul {
        /// The field, e.g. "query text".
        what: &'static str,
    },
    /// A payload is longer than its type allows: a Query over
    /// [`MAX_QUERY_LEN`](super::limits::MAX_QUERY_LEN) (4,096 bytes). Counted `limit`, not
    /// `malformed`.
    #[error("{what} has {len} bytes, more than the {limit}-byte limit")]
    TooLong {
        /// The payload, e.g. "query".
        what: &'static str,
        /// Its length, bytes.
        len: usize,
        /// The limit it breaks, bytes.
        limit: usize,
    },
    /// Bytes are left after a part that must end the payload. No decoder returns it today:
    /// extra bytes are kept (trailing GGEP, extension area, QueryHit trailer) or ignored.
    #[error("{what} has {extra} unexpected trailing bytes")]
    TrailingBytes {
        /// The part followed by extra bytes.
        what: &'static str,
        /// Number of extra bytes.
        extra: usize,
    },
    /// The payload given to [`Descriptor::decode`](super::Descriptor::decode) is not as long
    /// as its header says: a caller's bug, since [`check`](super::check) frames by that length.
    #[error("frame holds {got} payload bytes but the header announces {announced}")]
    LengthMismatch {
        /// Payload length in the header, bytes.
        announced: u32,
        /// Payload bytes given, bytes.
        got: usize,
    },
}

/// A descriptor could not be encoded within the protocol's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The encoded payload would exceed [`MAX_PAYLOAD_LEN`] (65,536 bytes); nothing is
    /// written.
    #[error("payload of {len} bytes exceeds the {MAX_PAYLOAD_LEN}-byte limit")]
    PayloadTooLarge {
        /// Length the payload encodes to, bytes.
        len: usize,
    },
    /// A QueryHit has more than 255 results
    /// ([`MAX_HITS_PER_QUERY_HIT`](super::limits::MAX_HITS_PER_QUERY_HIT)): its count is one
    /// byte. Nothing is written.
    #[error("{count} results do not fit the one-byte hit count")]
    TooManyResults {
        /// Number of results in the QueryHit.
        count: usize,
    },
}

/// A walker tag (the `RW` GGEP extension) or a walker check message (vendor `SRVT`) could
/// not be read. Decoding allocates nothing: both have fixed lengths, checked first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalkerError {
    /// The `RW` data is not exactly 9 bytes long.
    #[error("walker tag has {len} bytes, not {expected}")]
    TagLength {
        /// Length of the `RW` data, bytes.
        len: usize,
        /// Length of a tag: [`WALKER_TAG_LEN`](super::walker::WALKER_TAG_LEN), 9.
        expected: usize,
    },
    /// The tag's flags byte lacks the format bit 0x80, or has a bit other than 0x80, 0x04, 0x02 and 0x01.
    #[error("walker tag flags 0x{flags:02x}: format bit clear or an unknown bit set")]
    TagFlags {
        /// The flags byte (tag byte 8) as received.
        flags: u8,
    },
    /// The `RW` extension is flagged COBS or deflate; a tag is always sent plain.
    #[error("walker tag is COBS- or deflate-encoded")]
    TagEncoded,
    /// The vendor payload is shorter than the 8-byte vendor header (vendor code, selector,
    /// version).
    #[error("vendor message of {len} bytes is shorter than its 8-byte vendor header")]
    VendorTruncated {
        /// Length of the vendor payload, bytes.
        len: usize,
    },
    /// Someone else's vendor message: vendor code not `SRVT`, version not 1, or selector
    /// neither 1 (request) nor 2 (verdict).
    #[error("vendor message is not a walker check (another vendor, selector or version)")]
    NotACheck,
    /// A check message's data after the vendor header is not as long as its selector's:
    /// 5 bytes for a request, 4 for a verdict.
    #[error("check message with selector {selector} has {len} data bytes, not {expected}")]
    CheckLength {
        /// The selector: 1 request, 2 verdict.
        selector: u16,
        /// Data bytes after the 8-byte vendor header.
        len: usize,
        /// Data bytes that selector has (5 or 4).
        expected: usize,
    },
    /// A walker's `RA` (requester's UDP address) names address 0.0.0.0 or port 0.
    #[error("walker reply address with a zero address or port")]
    ReplyAddr,
    /// A verdict's verdict byte is neither 0 (stop) nor 1 (go on).
    #[error("check verdict {value} is neither 0 (stop) nor 1 (go on)")]
    Verdict {
        /// The verdict byte as received.
        value: u8,
    },
}
