//! HTTP on the servent's one port (hyper 1.x): `/status`, shared files with ranges
//! ([`files`], [`range`]), connection caps and deadlines ([`admission`], [`deadline`]),
//! and the client side used by the downloader ([`client`]).

pub mod admission;
pub mod body;
pub mod client;
pub mod context;
pub mod deadline;
pub mod disk;
pub mod ended;
pub mod files;
pub mod io;
pub mod limits;
pub mod listener;
pub mod open_files;
pub mod range;
pub mod response;
pub mod server;
pub mod uploads;

pub use context::{HttpContext, HttpStats};
pub use ended::HttpEnd;
pub use limits::HttpLimits;
pub use listener::{serve_listener, ServerHandle};
