//! Every limit the codec enforces, with the reason for its value. Limits are checked
//! before anything is allocated for a length a peer sent.

/// Size of the descriptor header on the wire: GUID (16), type, TTL, hops, length (4).
pub const HEADER_LEN: usize = 23;

/// Largest payload we accept. The 0.6 draft and every real servent close the link on
/// anything larger: the length field is the only framing, so a huge length means the
/// stream is out of sync or hostile. 64 KiB.
pub const MAX_PAYLOAD_LEN: usize = 64 * 1024;

/// Largest Query payload we accept. Real queries are under 256 bytes; gtk-gnutella and
/// LimeWire drop anything over 4 KiB, so a bigger one is dropped (the link stays up).
pub const MAX_QUERY_LEN: usize = 4 * 1024;

/// Largest TTL a broadcast may carry on arrival. Anything above is dropped, as 0.6 says:
/// no honest servent sends more than 7, and 15 leaves room for experiments.
pub const HARD_MAX_TTL: u8 = 15;

/// Largest number of results one QueryHit may announce (the count is one byte).
pub const MAX_HITS_PER_QUERY_HIT: usize = 255;

/// Largest GGEP data length the 3-byte length encoding can express (18 bits).
pub const MAX_GGEP_DATA_LEN: usize = (1 << 18) - 1;

/// Largest size a deflated GGEP value may inflate to. Bounds a decompression bomb: a
/// whole payload is at most 64 KiB, so its decoded extensions need no more than that.
pub const MAX_GGEP_INFLATED_LEN: usize = 64 * 1024;

/// Largest handshake block (status line plus headers plus blank line). Real handshakes
/// are 300-1500 bytes; 8 KiB bounds what a peer can make us buffer before a decision.
pub const MAX_HANDSHAKE_LEN: usize = 8 * 1024;

/// Largest number of header lines in one handshake block. gtk-gnutella sends ~25.
pub const MAX_HANDSHAKE_HEADERS: usize = 64;
