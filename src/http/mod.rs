//! HTTP on the servent's one port (hyper 1.x): `/status`, shared files with ranges
//! ([`files`], [`range`]), and the client side used by the downloader ([`client`]).

mod body;
pub(crate) mod client;
mod context;
mod disk;
mod files;
pub mod io;
mod listener;
mod open_files;
pub mod range;
mod response;
pub mod server;
mod uploads;

pub use context::{HttpContext, HttpStats};
pub use listener::{serve_listener, ServerHandle};
