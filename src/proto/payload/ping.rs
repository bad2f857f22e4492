//! Ping: an empty payload, or one GGEP block (e.g. `SCP` in modern servents).

use super::trailing::{decode_trailing_ggep, encode_trailing_ggep};
use crate::proto::ggep::GgepBlock;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
/// A Ping payload: empty, or one GGEP block filling it.
pub struct Ping {
    /// The GGEP block filling the payload (e.g. `SCP`), `None` when empty; raw unless the
    /// bytes parse as exactly one block.
    pub ggep: Option<GgepBlock>,
}

impl Ping {
    /// Reads a Ping payload; never fails (bytes that do not parse become a raw GGEP block).
    pub fn decode(buf: &[u8]) -> Ping {
        Ping {
            ggep: decode_trailing_ggep(buf),
        }
    }

    /// Appends the GGEP block, if any.
    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_trailing_ggep(&self.ggep, out);
    }
}
