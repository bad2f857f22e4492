//! The one integration test target (as in ripgrep): each module tests one layer.

mod churn;
mod crashes;
mod download;
mod dq;
mod e2e;
mod ggep_h;
mod gtkg_vectors;
mod handshake;
mod hostile;
pub mod http;
mod layout;
mod matching;
mod mesh;
mod net;
mod props;
mod qrp;
mod roles;
mod routing;
mod sim;
mod simtcp;
mod strategies;
mod vectors;
mod wild;
