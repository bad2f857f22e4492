//! What the core hands back to its driver: descriptors to send and events to act on.

use crate::proto::payload::{Bye, Pong, Push, QueryHit};
use crate::proto::{Descriptor, Guid};

use super::peer::PeerId;
use super::strategy::{QueryCost, SearchId};

/// How much a transmit matters when a link's send queue is full: the driver drops the
/// lowest first. Relayed broadcasts are cheap to lose (others carry them too); replies
/// and our own traffic are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Pings and Queries relayed for others.
    RelayedBroadcast,
    /// Pongs, QueryHits and Pushes routed back for others or answered by us.
    Reply,
    /// Traffic we originate (our queries, pings, Byes).
    Own,
}

/// One descriptor to send on one link. Its payload is shared: a flood hands the same
/// payload `Arc` to every neighbour.
#[derive(Debug, Clone)]
pub struct Transmit {
    pub peer: PeerId,
    pub descriptor: Descriptor,
    pub priority: Priority,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A Pong arrived. `ours` when it answers a Ping we sent; a Pong routed through us
    /// still names a live servent, worth a host cache entry.
    Pong {
        /// The GUID of the Ping it answers.
        ping: Guid,
        from: PeerId,
        pong: Pong,
        hops: u8,
        ours: bool,
    },
    /// A QueryHit for one of our queries.
    QueryHit {
        /// The descriptor ID it answers (one ring's ID for an expanding ring).
        query: Guid,
        /// The search it belongs to (for a plain [`crate::core::Servent::query`], the
        /// query's own ID).
        search: SearchId,
        from: PeerId,
        hit: QueryHit,
        hops: u8,
    },
    /// A Push for us: the requester wants us to connect back and send `GIV`.
    PushRequest { from: PeerId, push: Push },
    /// A search started with `Servent::search` ended (satisfied or exhausted). Hits that
    /// arrive later still come as `QueryHit` and still update `Servent::search_cost`.
    SearchDone { id: SearchId, cost: QueryCost },
    /// The peer said Bye: the driver closes the link.
    Bye { peer: PeerId, bye: Bye },
}
