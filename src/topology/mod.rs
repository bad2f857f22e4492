//! Overlay topologies, shared by the simulator and by in-process meshes of real servents:
//! the [`Graph`], its generators, SNAP edge lists, its measures, and the
//! `plrg:n=10000,exponent=2.1` / `two-tier:...` / `file:PATH` descriptions experiments
//! name them by, and the two-tier ultrapeer/leaf shape.
//! Pure graph code: no servent, no socket, no clock (randomness is passed in).

mod edge_list;
mod generators;
mod graph;
mod measures;
pub(crate) mod spec;
mod two_tier;

pub use edge_list::TopologyError;
pub use graph::Graph;
pub use spec::{TopologyKind, TopologySpec, TopologySpecError};
pub use two_tier::{TwoTier, DEFAULT_LEAF_ULTRAPEERS, DEFAULT_MAX_LEAVES};
