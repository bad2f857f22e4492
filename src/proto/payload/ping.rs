//! Ping: an empty payload, or one GGEP block (e.g. `SCP` in modern servents).

use super::trailing::{decode_trailing_ggep, encode_trailing_ggep};
use crate::proto::ggep::GgepBlock;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ping {
    pub ggep: Option<GgepBlock>,
}

impl Ping {
    pub fn decode(buf: &[u8]) -> Ping {
        Ping {
            ggep: decode_trailing_ggep(buf),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        encode_trailing_ggep(&self.ggep, out);
    }
}
