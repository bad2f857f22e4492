//! Payload codecs, one file per descriptor type, plus the extension area shared by Query
//! and QueryHit results and the GGEP block that may trail a fixed payload.

mod bye;
pub mod extension;
pub mod hash;
mod ping;
mod pong;
mod push;
pub mod query;
pub mod query_hit;
mod trailing;

pub use bye::Bye;
pub use extension::Extension;
pub use hash::Sha1Digest;
pub use ping::Ping;
pub use pong::Pong;
pub use push::Push;
pub use query::Query;
pub use query_hit::{HitResult, QueryHit, Trailer};
