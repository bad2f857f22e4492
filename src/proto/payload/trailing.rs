//! The optional GGEP block that may follow a fixed payload (Ping, Pong, Push): decoded when
//! it parses as exactly one block, else kept verbatim.

use crate::proto::ggep::GgepBlock;

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
