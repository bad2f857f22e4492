//! The network driver: TCP links around the sans-IO core. One port serves the overlay,
//! HTTP and push callbacks. Tasks, timers and sockets come from [`crate::rt`].

pub mod compress;
pub mod config;
pub mod connect;
pub mod dispatch;
pub mod handshake;
pub mod host_cache;
pub mod link;
pub mod mesh;
pub mod node;
pub mod router;
pub mod send_queue;
pub mod status;
pub mod upkeep;

pub use config::{NodeConfig, Timing};
pub use node::{Node, NodeShare};
pub use router::{SearchEvent, SearchHit};
