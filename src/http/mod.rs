//! HTTP on the servent's one port (hyper 1.x): `/status`, shared files with ranges
//! ([`files`], [`range`]), and the client side used by the downloader ([`client`]).

pub mod client;
pub mod disk;
pub mod files;
pub mod io;
pub mod listener;
pub mod range;
pub mod server;

pub use listener::{serve_listener, ServerHandle};
