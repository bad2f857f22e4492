//! The sans-IO servent core, in the style of quinn-proto: a deterministic state machine
//! that takes inputs (`handle_connected`, `handle_descriptor`, `handle_closed`,
//! `handle_timeout`, and local requests such as `ping` and `query`) and produces outputs
//! drained with `poll_transmit`, `poll_event` and `poll_timeout`. Time is a `Duration`
//! since an epoch the driver picks; randomness comes from a seeded RNG. It never touches a
//! socket or a clock, so the TCP driver and the simulator run exactly the same code.

pub mod config;
mod event;
mod expiring;
mod lazy;
pub mod matcher;
pub(crate) mod peer;
mod pong_cache;
pub mod qrp;
pub mod role;
mod seeded;
mod servent;
mod stats;
pub mod strategy;

pub use config::Config;
pub use event::{Datagram, Event, Priority, Transmit};
pub use matcher::{LocalFile, NoMatcher, QueryMatcher, SharedFiles};
pub use peer::{PeerId, PeerInfo};
pub use role::{Role, RolePolicy};
pub use servent::{Origin, Servent, UdpStats, MAX_BETTER_TTL_RELAYS, MERGED_TABLE_INTERVAL};
pub use stats::{DropReason, Stats};
pub use strategy::{
    QueryCost, QueryTraffic, SearchEnd, SearchId, Strategy, WALKER_HEADER, WALKER_VERSION,
};
