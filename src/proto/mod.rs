//! The Gnutella 0.6 wire codec: bytes to descriptors and back, GGEP blocks, the walker
//! extension's tag and check messages ([`walker`]) and the connection handshake. Nothing
//! here keeps state between calls; every length a peer sends is checked against a limit in
//! [`limits`] before anything is allocated for it.
//!
//! Framing is two-phase, as in mini-redis: [`frame::check`] tells whether a buffer holds
//! a complete descriptor (without allocating), then [`frame::parse`] decodes it.

pub mod datagram;
mod descriptor;
pub mod error;
pub mod frame;
pub mod ggep;
pub mod giv;
mod guid;
pub mod handshake;
mod header;
pub mod limits;
pub mod payload;
pub mod qrp;
pub mod vendor;
pub mod walker;
pub mod walker_ext;
mod wire;

pub use descriptor::{Descriptor, Payload};
pub use error::{DecodeError, EncodeError, FrameError, WalkerError};
pub use frame::{check, parse, Check};
pub use guid::Guid;
pub use header::{Header, PayloadType};
pub use qrp::{QrpError, QrpMessage, QrpPatch, QrpReset};
