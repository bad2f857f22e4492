//! A deterministic discrete-event driver for many unmodified [`crate::core::Servent`]s:
//! a global event queue over virtual time, links with latency, one seeded RNG. Used by
//! the routing tests (exact message counts) and by the strategy experiments.

pub mod network;
pub mod topology;

pub use network::{Latency, Network, NodeId};
pub use topology::Graph;
