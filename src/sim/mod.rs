//! A deterministic discrete-event driver for many unmodified [`crate::core::Servent`]s:
//! a global event queue over virtual time, links with latency, one seeded RNG. Used by
//! the routing tests (exact message counts) and by the strategy experiments
//! (`servent compare`): topologies, workloads, per-query cost records, reports.

pub mod experiment;
pub mod generators;
pub mod network;
pub mod report;
pub mod spec;
pub mod svg;
pub mod topology;
pub mod workload;

pub use experiment::{
    node_config, run_one_query, run_search, Experiment, SearchOutcome, SimCost, Summary,
};
pub use network::{Latency, Network, NodeId};
pub use spec::{StrategyItem, TopologySpec};
pub use topology::Graph;
pub use workload::{Allocation, Workload, WorkloadSpec};
