//! The records the servent keeps, shared by `servent.rs` and its `search.rs`, `dq.rs` and
//! `walker.rs`: reverse routes, timers, our searches and the walkers passing through. Plain
//! data; the rules that fill them are in the files that use them.

use std::time::Duration;

use crate::core::peer::PeerId;
use crate::core::strategy::cost::HitSet;
use crate::core::strategy::{QueryCost, QueryTraffic, SearchId, Strategy};
use crate::proto::payload::Query;
use crate::proto::walker::WalkerTag;
use crate::proto::Guid;

/// Where a broadcast came from: the reverse route its replies take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// We sent it: replies are ours.
    Local,
    /// It came from this neighbour: replies go back to it.
    Peer(PeerId),
}

/// A Query's reverse route (and duplicate entry) with what we sent for that query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryRoute {
    pub(super) origin: Origin,
    pub(super) traffic: QueryTraffic,
    /// The most TTL (after the arrival rules) any copy of this flooded Query arrived
    /// with. `None` for our own Queries and for walkers: those are never relayed again.
    pub(super) flood_ttl: Option<u8>,
    /// Later copies relayed again for carrying more TTL than every earlier one (bounded
    /// by `MAX_BETTER_TTL_RELAYS` in `flood.rs`).
    pub(super) better_relays: u8,
}

/// One walker of one walker query: the key of held walkers and of check routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct WalkerKey {
    /// The walker Query's descriptor ID (shared by all walkers of a walk).
    pub(super) query: Guid,
    /// The walker number, 0..k-1.
    pub(super) walker: u8,
}

/// A deadline in [`Servent`](super::Servent)'s timer set. A timer whose owner has since
/// moved its deadline (or ended) is skipped when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// A flood's wait, a ring's end, or the next walker the requester expects news of.
    Search(SearchId),
    /// A held walker's check went unanswered.
    Walker(WalkerKey),
    /// A dynamic query's step (or status request) has waited long enough.
    Dynamic(Guid),
}

/// A timer with when it fires; ordered by time first (then by timer), so the timer set's
/// first entry is the next one due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Deadline {
    pub(super) at: Duration,
    pub(super) timer: Timer,
}

/// The requester's view of one walker.
#[derive(Debug, Clone, Copy)]
pub(super) struct WalkerView {
    /// Steps of its last check.
    pub(super) steps: u16,
    /// Its holder's reverse path length at its last check.
    pub(super) path: u16,
    pub(super) ended: bool,
    /// When we give up expecting its next check (it ended silently: max steps, dead end,
    /// or lost).
    pub(super) expect_by: Duration,
}

/// One Query a search of ours sent: a flood's, or one ring's.
#[derive(Debug, Clone, Copy)]
pub(super) struct SentRing {
    pub(super) guid: Guid,
    pub(super) at: Duration,
}

/// One search of ours, running or recently finished.
pub(crate) struct SearchState {
    pub(super) strategy: Strategy,
    pub(super) query: Query,
    pub(super) started: Duration,
    /// Descriptor IDs sent, with when (one per ring).
    pub(super) sent: Vec<SentRing>,
    pub(super) ring_ttl: u8,
    pub(super) deadline: Option<Duration>,
    pub(super) hits: HitSet,
    pub(super) walkers: Vec<WalkerView>,
    pub(super) satisfied: bool,
    pub(super) cost: QueryCost,
}

/// The requester's answer to a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CheckAnswer {
    pub(super) go_on: bool,
    /// Distinct results the requester has, saturating.
    pub(super) hits: u16,
}

/// What a servent keeps per walker query.
#[derive(Debug, Clone)]
pub(crate) struct WalkNode {
    /// Hops from us to the requester along the reverse path (first-arrival links).
    pub(super) path: u16,
    /// Neighbours we handed a walker of this query to (with remember-neighbours).
    pub(super) used: Vec<PeerId>,
}

impl WalkNode {
    pub(crate) fn new(path: u16) -> WalkNode {
        WalkNode {
            path,
            used: Vec::new(),
        }
    }
}

/// A walker waiting for the requester's verdict.
#[derive(Debug, Clone)]
pub(crate) struct HeldWalker {
    pub(super) query: Query,
    pub(super) tag: WalkerTag,
    pub(super) sender: PeerId,
    pub(super) path: u16,
    pub(super) sent_at: Duration,
    pub(super) deadline: Duration,
    /// The requester's address when the check went directly by UDP (its verdict must come
    /// from there); `None` for a check along the reverse path.
    pub(super) via_udp: Option<std::net::SocketAddrV4>,
}
