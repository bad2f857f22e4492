//! servent: a Gnutella 0.6 servent.
//!
//! Layers, bottom up:
//! - [`proto`]: the wire codec (descriptors, GGEP, handshake). Stateless.
//! - [`core`]: the sans-IO servent: routing, duplicate suppression, answering. It never
//!   touches a socket or a clock; drivers feed it `(now, peer, descriptor)` and drain its
//!   decisions.
//! - [`sim`]: a deterministic discrete-event driver of many cores (tests and experiments).

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
