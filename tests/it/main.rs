//! The one integration test target (as in ripgrep): each module tests one layer.

mod churn;
mod crashes;
mod download;
mod dq;
mod e2e;
mod handshake;
mod hostile;
pub mod http;
mod layout;
mod matching;
mod net;
mod props;
mod routing;
mod sim;
mod simtcp;
mod strategies;
mod vectors;
mod wild;
