//! HTTP on the servent's one port (hyper 1.x): `/status` for loopback clients now; shared
//! files, ranges and downloads are added on top.

pub mod io;
pub mod server;
