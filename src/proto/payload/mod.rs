//! Payload codecs, one file per descriptor type, plus the extension area shared by Query
//! and QueryHit results.

pub mod bye;
pub mod extension;
pub mod ping;
pub mod pong;
pub mod push;
pub mod query;
pub mod query_hit;

pub use bye::Bye;
pub use extension::Extension;
pub use ping::Ping;
pub use pong::Pong;
pub use push::Push;
pub use query::Query;
pub use query_hit::{HitResult, QueryHit, Trailer};

use super::ggep::GgepBlock;

/// Decodes the optional GGEP block that may follow a fixed payload (Ping, Pong, Push).
/// Bytes we cannot decode are kept verbatim, so forwarding never alters them.
pub(crate) fn decode_trailing_ggep(buf: &[u8]) -> Option<GgepBlock> {
    if buf.is_empty() {
        return None;
    }
    let (block, used) = GgepBlock::decode(buf);
    Some(if used == buf.len() {
        block
    } else {
        GgepBlock::Raw(buf.to_vec())
    })
}

pub(crate) fn encode_trailing_ggep(ggep: &Option<GgepBlock>, out: &mut Vec<u8>) {
    if let Some(block) = ggep {
        block.encode(out);
    }
}
