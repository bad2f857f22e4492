//! A deterministic discrete-event driver for many unmodified [`crate::core::Servent`]s:
//! a global event queue over virtual time (per-instant batches or a calendar queue, in
//! `queue`), links with latency, one seeded RNG, servents built when traffic first
//! reaches them on a graph shared by threads. Used by
//! the routing tests (exact message counts) and by the strategy experiments
//! (`servent compare`): workloads, per-query cost records, reports, charts. The overlays
//! it runs on come from [`crate::topology`].

pub mod churn;
mod datagrams;
pub mod experiment;
pub mod labels;
mod latency;
mod links;
mod network;
mod query_cost;
mod queue;
pub mod report;
pub mod seeds;
mod sessions;
pub mod spec;
pub mod stats;
mod summary;
pub mod svg;
mod svg_bars;
pub mod svg_dist;
pub mod svg_draw;
pub mod workload;

/// The graph every simulated network is built on, named here too for the routing and
/// strategy tests that build networks; new code names [`crate::topology::Graph`].
pub use crate::topology::Graph;
pub use churn::{Churn, ChurnCounts};
pub use datagrams::{sim_udp_addr, SimDatagrams};
pub use experiment::{
    node_config, run_one_query, run_search, run_search_with, Experiment, SearchOutcome, SimCost,
    Summary,
};
pub use network::{Latency, Network, NodeId, ServentFactory};
pub use spec::StrategyItem;
pub use workload::{Allocation, Origins, Workload, WorkloadSpec};
