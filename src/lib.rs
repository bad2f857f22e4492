//! servent: a Gnutella 0.6 servent.
//!
//! Layers, bottom up (each uses only those below it; README.md's layout table says which):
//! - [`proto`]: every byte on the wire (descriptors, GGEP, handshake, walker tags). Stateless.
//! - [`core`]: the sans-IO servent: routing, duplicate suppression, answering, search
//!   strategies. It never touches a socket or a clock; drivers feed it `(now, peer,
//!   descriptor)` and drain its decisions.
//! - [`topology`]: graphs, their generators and the SNAP edge-list reader.
//! - [`library`]: shared files, their SHA-1s and the keyword index that answers Queries.
//! - [`sim`]: a deterministic discrete-event driver of many cores (tests and experiments).
//! - [`rt`]: the one runtime seam (tasks, timers, sockets).
//! - [`net`]: the TCP driver of one core: the port, links, upkeep, in-process meshes.
//! - [`http`]: the HTTP file server and client.
//! - [`download`]: multi-source, resumable, verified downloads.
//! - [`ui`]: the web interface: the page, its JSON API and event stream, who may use them.
//!
//! The `servent` binary (`src/cli/`) is built on this library and is not part of it.

#![warn(unreachable_pub, missing_docs)]

pub mod core;
pub mod download;
pub mod http;
pub mod library;
pub mod net;
pub mod proto;
pub mod rt;
pub mod sim;
pub mod topology;
pub mod ui;
