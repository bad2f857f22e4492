//! The network driver: TCP links around the sans-IO core. One port serves the overlay,
//! HTTP and push callbacks. Tasks, timers and sockets come from [`crate::rt`].

pub mod accept;
pub mod compress;
pub mod config;
pub mod connect;
pub mod deadline;
pub mod dispatch;
pub mod handshake;
pub mod host_cache;
pub mod link;
pub mod mesh;
pub mod node;
pub mod send_queue;
pub mod shared;
pub mod state;
pub mod status;
pub mod timer;
pub mod upkeep;

pub use config::{NodeConfig, Timing};
pub use node::{Node, NodeShare};
pub use state::{SearchEvent, SearchHit};
