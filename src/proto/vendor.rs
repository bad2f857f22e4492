//! The query status vendor messages of dynamic querying (0x31, vendor `BEAR`, as
//! gtk-gnutella and LimeWire send them): an ultrapeer running a leaf's query asks the leaf
//! how many results it kept (selector 11), and the leaf answers with the count (selector
//! 12), or 65,535 to say "stop". Both travel one hop (TTL 1) and carry the query's
//! descriptor ID as their own.
//!
//! | bytes | request (selector 11), 8 bytes | response (selector 12), 10 bytes |
//! |---|---|---|
//! | 0-3 | `BEAR` | `BEAR` |
//! | 4-5 | 11, little-endian | 12, little-endian |
//! | 6-7 | version 1, little-endian | version 1, little-endian |
//! | 8-9 | - | results kept, little-endian (65,535: stop) |
//!
//! Bytes after these are tolerated (a later version may add some), as gtk-gnutella does.

/// Vendor code of the query status messages (BearShare's, which defined them).
pub const QUERY_STATUS_VENDOR: [u8; 4] = *b"BEAR";
/// Selector of the request: "how many results did you keep for this query?".
pub const QUERY_STATUS_REQUEST_SELECTOR: u16 = 11;
/// Selector of the response: the count of results kept.
pub const QUERY_STATUS_RESPONSE_SELECTOR: u16 = 12;
/// The only version of both messages.
pub const QUERY_STATUS_VERSION: u16 = 1;
/// The count a leaf reports to stop its ultrapeer's query (it has enough, or closed the
/// search); a real count is reported as at most 65,534.
pub const QUERY_STATUS_STOP: u16 = 0xFFFF;
/// Vendor message header: vendor code (4), selector (2), version (2).
const VENDOR_HEADER_LEN: usize = 8;
/// The response's data: the count of results kept (2).
const RESPONSE_DATA_LEN: usize = 2;

/// Why a vendor payload is not a query status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VendorError {
    /// Shorter than the 8-byte vendor header.
    #[error("vendor message of {len} bytes is shorter than its 8-byte vendor header")]
    Truncated {
        /// Length of the payload, bytes.
        len: usize,
    },
    /// Another vendor's message, another selector or another version.
    #[error("vendor message is not a query status message")]
    NotQueryStatus,
    /// A response whose data is shorter than its 2-byte count.
    #[error("query status response has {len} data bytes, needs {RESPONSE_DATA_LEN}")]
    ShortResponse {
        /// Data bytes after the vendor header.
        len: usize,
    },
}

/// A query status vendor message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryStatus {
    /// Selector 11, ultrapeer to leaf: how many results have you kept for this query?
    Request,
    /// Selector 12, leaf to ultrapeer: this many results kept
    /// ([`QUERY_STATUS_STOP`]: stop the query).
    Response {
        /// Results the leaf kept, or [`QUERY_STATUS_STOP`].
        kept: u16,
    },
}

impl QueryStatus {
    /// The vendor message payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(VENDOR_HEADER_LEN + RESPONSE_DATA_LEN);
        out.extend_from_slice(&QUERY_STATUS_VENDOR);
        let selector = match self {
            QueryStatus::Request => QUERY_STATUS_REQUEST_SELECTOR,
            QueryStatus::Response { .. } => QUERY_STATUS_RESPONSE_SELECTOR,
        };
        out.extend_from_slice(&selector.to_le_bytes());
        out.extend_from_slice(&QUERY_STATUS_VERSION.to_le_bytes());
        if let QueryStatus::Response { kept } = self {
            out.extend_from_slice(&kept.to_le_bytes());
        }
        out
    }

    /// Reads a vendor message payload: [`VendorError::NotQueryStatus`] for anyone else's
    /// message, other errors when it is malformed. Never allocates.
    pub fn decode(b: &[u8]) -> Result<QueryStatus, VendorError> {
        let Some((header, data)) = b.split_first_chunk::<VENDOR_HEADER_LEN>() else {
            return Err(VendorError::Truncated { len: b.len() });
        };
        let selector = u16::from_le_bytes([header[4], header[5]]);
        let version = u16::from_le_bytes([header[6], header[7]]);
        if header[..4] != QUERY_STATUS_VENDOR || version != QUERY_STATUS_VERSION {
            return Err(VendorError::NotQueryStatus);
        }
        match selector {
            QUERY_STATUS_REQUEST_SELECTOR => Ok(QueryStatus::Request),
            QUERY_STATUS_RESPONSE_SELECTOR => match data.first_chunk::<RESPONSE_DATA_LEN>() {
                Some(k) => Ok(QueryStatus::Response {
                    kept: u16::from_le_bytes(*k),
                }),
                None => Err(VendorError::ShortResponse { len: data.len() }),
            },
            _ => Err(VendorError::NotQueryStatus),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_gtk_gnutellas() {
        assert_eq!(QueryStatus::Request.encode(), b"BEAR\x0b\x00\x01\x00");
        let r = QueryStatus::Response { kept: 0x0102 };
        assert_eq!(r.encode(), b"BEAR\x0c\x00\x01\x00\x02\x01");
        for m in [
            QueryStatus::Request,
            r,
            QueryStatus::Response {
                kept: QUERY_STATUS_STOP,
            },
        ] {
            assert_eq!(QueryStatus::decode(&m.encode()), Ok(m));
        }
        // Later versions' extra bytes are tolerated.
        assert_eq!(
            QueryStatus::decode(b"BEAR\x0c\x00\x01\x00\x05\x00\xff\xff"),
            Ok(QueryStatus::Response { kept: 5 })
        );
    }

    #[test]
    fn hostile_or_foreign_payloads_are_typed_errors() {
        assert_eq!(
            QueryStatus::decode(b"BEAR\x0c"),
            Err(VendorError::Truncated { len: 5 })
        );
        assert_eq!(
            QueryStatus::decode(b"BEAR\x0c\x00\x01\x00\x07"),
            Err(VendorError::ShortResponse { len: 1 })
        );
        for other in [
            &b"SRVT\x0b\x00\x01\x00"[..],
            b"BEAR\x0b\x00\x02\x00",
            b"BEAR\x04\x00\x01\x00\x01",
            b"LIME\x0c\x00\x01\x00\x01\x00",
        ] {
            assert_eq!(QueryStatus::decode(other), Err(VendorError::NotQueryStatus));
        }
        // Every short prefix and every byte value at every position: never a panic.
        let full = QueryStatus::Response { kept: 9 }.encode();
        for n in 0..full.len() {
            let _ = QueryStatus::decode(&full[..n]);
            for v in [0u8, 0x0b, 0x0c, 0xff] {
                let mut b = full.clone();
                b[n] = v;
                let _ = QueryStatus::decode(&b);
            }
        }
    }
}
