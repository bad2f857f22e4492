//! The one integration test target (as in ripgrep): each module tests one layer.

mod browse;
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
mod magnet;
mod matching;
mod mesh;
mod net;
mod props;
mod push;
mod qrp;
mod roles;
mod routing;
mod sim;
mod simtcp;
mod speed;
mod strategies;
mod vectors;
mod wild;
