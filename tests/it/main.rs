//! The one integration test target (as in ripgrep): each module tests one layer.

mod handshake;
mod net;
mod props;
mod routing;
mod sim;
mod strategies;
mod vectors;
