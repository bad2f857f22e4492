//! The one integration test target (as in ripgrep): each module tests one layer.

mod download;
mod e2e;
mod handshake;
mod layout;
pub mod http;
mod matching;
mod net;
mod props;
mod routing;
mod sim;
mod simtcp;
mod strategies;
mod vectors;
