//! The Query Routing Protocol's building blocks, pure (no clock, no socket): the hash
//! ([`hash`]), tables and the routing rule ([`table`]), what queries and tables are keyed
//! by ([`keys`]), the RESET + PATCH sequence that sends a table ([`patch`]) and the
//! receiver that rebuilds one from hostile messages ([`receive`]). The wire format is
//! [`crate::proto::qrp`]; what is routed where is the servent's decision.

pub mod hash;
pub mod keys;
pub mod patch;
pub mod receive;
pub mod table;

pub use hash::{qrp_hash, qrp_hashcode};
pub use keys::{table_words, QueryKeys, QRP_HVEC_MAX, QRP_MIN_WORD_LENGTH};
pub use patch::{table_update, table_update_with, PatchOptions};
pub use receive::QrpReceiver;
pub use table::{QueryRoutingTable, MAX_TABLE_BITS, MIN_TABLE_BITS};

/// Our table's size, bits: 2^16 = 65,536 slots, LimeWire's fixed size and within
/// gtk-gnutella's 2^14..2^21 range; 1 % full at about 650 distinct words and prefixes.
pub const DEFAULT_TABLE_BITS: u8 = 16;
/// The infinity we announce in RESET: 7, LimeWire's (gtk-gnutella sends 2 with 4-bit
/// patches and 1 with 1-bit ones; every servent only reads the deltas' signs).
pub const DEFAULT_INFINITY: u8 = 7;
/// Entry bits of the patches we send: 4, the one size every servent accepts
/// (gtk-gnutella sends 1-bit patches only to peers announcing `X-Query-Routing: 0.2`).
pub const DEFAULT_ENTRY_BITS: u8 = 4;
/// Compressed bytes per PATCH message: 512, gtk-gnutella's `QRT_PATCH_LEN` (small enough
/// not to hold up a link's other traffic).
pub const DEFAULT_CHUNK_BYTES: usize = 512;
