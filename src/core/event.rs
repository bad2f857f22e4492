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
    /// The link to send it on.
    pub peer: PeerId,
    /// The descriptor, header (TTL, hops) already set for this hop.
    pub descriptor: Descriptor,
    /// What the driver drops first when the link's send queue is full.
    pub priority: Priority,
}

/// One descriptor to send by UDP, as one datagram, to one address (our UDP port is the
/// TCP port's number on the same address).
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Where it goes.
    pub to: std::net::SocketAddrV4,
    /// The descriptor, header already set (TTL 1, hops 0 for everything we send by UDP).
    pub descriptor: Descriptor,
}

/// Something the driver must act on or may report, drained with
/// [`Servent::poll_event`](crate::core::Servent::poll_event).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A Pong arrived. `ours` when it answers a Ping we sent; a Pong routed through us
    /// still names a live servent, worth a host cache entry.
    Pong {
        /// The GUID of the Ping it answers.
        ping: Guid,
        /// The neighbour it arrived from.
        from: PeerId,
        /// The answering servent's address, port and shared totals.
        pong: Pong,
        /// Hops it travelled to reach us, counting the last one (1 = a neighbour's Pong).
        hops: u8,
        /// It answers a Ping we sent (else one we routed for another servent).
        ours: bool,
    },
    /// A QueryHit for one of our queries.
    QueryHit {
        /// The descriptor ID it answers (one ring's ID for an expanding ring).
        query: Guid,
        /// The search it belongs to (for a plain [`crate::core::Servent::query`], the
        /// query's own ID).
        search: SearchId,
        /// The neighbour it arrived from.
        from: PeerId,
        /// The responding servent's address, results and servent ID, as received (not
        /// yet checked against the query's terms).
        hit: QueryHit,
        /// Hops it travelled to reach us, counting the last one (1 = a neighbour's hit).
        hops: u8,
    },
    /// A Push for us: the requester wants us to connect back and send `GIV`.
    PushRequest {
        /// The neighbour the Push arrived from.
        from: PeerId,
        /// The file index wanted and the requester's address and port to connect back to.
        push: Push,
    },
    /// A search started with `Servent::search` ended (satisfied or exhausted). Hits that
    /// arrive later still come as `QueryHit` and still update `Servent::search_cost`.
    SearchDone {
        /// The search, as [`Servent::search`](crate::core::Servent::search) returned it.
        id: SearchId,
        /// What the search cost and found, as the originator saw it.
        cost: QueryCost,
    },
    /// The peer broke the protocol in a way that ends the link (a bad query routing
    /// table): the core queued a Bye when the peer takes one; the driver closes the link.
    Close {
        /// The link to close.
        peer: PeerId,
        /// What was wrong, for the log.
        reason: String,
    },
    /// The peer said Bye: the driver closes the link.
    Bye {
        /// The link that said Bye.
        peer: PeerId,
        /// Its code and reason.
        bye: Bye,
    },
}
