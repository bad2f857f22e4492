//! The network driver: TCP links around the sans-IO core. One port serves the overlay,
//! HTTP and push callbacks. Tasks, timers and sockets come from [`crate::rt`].

mod accept;
pub mod compress;
mod config;
mod connect;
mod deadline;
pub mod dispatch;
pub mod fd_limit;
mod giv;
pub mod handshake;
mod host_cache;
mod inbox;
mod link;
pub mod mesh;
mod node;
pub mod push;
pub mod roles;
mod router;
mod send_queue;
mod shared;
mod state;
mod status;
mod timer;
pub mod udp;
mod upkeep;

pub use config::{NodeConfig, Timing};
pub use node::{Node, NodeShare};
pub use push::{GivConnection, PushError};
pub use state::{SearchEvent, SearchHit, UdpCounters};
