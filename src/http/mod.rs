//! HTTP on the servent's one port (hyper 1.x): `/status`, shared files with ranges
//! ([`files`], [`range`]), connection caps and deadlines ([`admission`], [`deadline`]),
//! and the client side used by the downloader ([`client`]).

mod access_log;
pub mod admission;
pub mod alt;
mod answer;
pub mod app;
mod body;
pub mod browse;
pub(crate) mod client;
mod context;
mod deadline;
mod disk;
mod ended;
mod fast;
mod files;
pub mod io;
pub mod limits;
mod listener;
mod open_files;
pub mod partial;
pub mod range;
pub mod rate;
mod response;
mod sendfile;
pub mod server;
mod uploads;

pub use access_log::ACCESS_LOG_TARGET;
pub use context::{HttpContext, HttpStats};
pub use ended::HttpEnd;
pub use limits::HttpLimits;
pub use listener::{serve_listener, ServerHandle};
