//! Counters of what the core routed and dropped, by reason.

use crate::proto::PayloadType;

/// Per-type descriptor counters of the whole servent (64 bits: they add up every link).
pub(crate) type TypeCounters = [u64; PayloadType::ALL.len()];

/// Why a descriptor was dropped. Every drop is counted under exactly one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// (GUID, type) seen before.
    Duplicate,
    /// A reply (Pong, QueryHit, Push) with no live reverse route.
    NoRoute,
    /// TTL 0 on arrival, or TTL + hops over the limit left no TTL.
    TtlExpired,
    /// TTL above the hard limit (15).
    TtlTooHigh,
    /// The payload did not decode.
    Malformed,
    /// A size or count limit was broken (payload, query length).
    Limit,
    /// The link sent Pings faster than its rate limit.
    RateLimited,
}

impl DropReason {
    /// Every reason, in counter order (`index` 0..7).
    pub const ALL: [DropReason; 7] = [
        DropReason::Duplicate,
        DropReason::NoRoute,
        DropReason::TtlExpired,
        DropReason::TtlTooHigh,
        DropReason::Malformed,
        DropReason::Limit,
        DropReason::RateLimited,
    ];

    /// Its slot in the `Stats::dropped` counters and in `ALL`.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The counter's name in logs and `/status` (`duplicate`, `no-route`, `ttl-expired`,
    /// ...).
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Duplicate => "duplicate",
            DropReason::NoRoute => "no-route",
            DropReason::TtlExpired => "ttl-expired",
            DropReason::TtlTooHigh => "ttl-too-high",
            DropReason::Malformed => "malformed",
            DropReason::Limit => "limit",
            DropReason::RateLimited => "rate-limited",
        }
    }
}

/// What one servent core received, sent, relayed and dropped since it started, over all
/// links.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Descriptors received, by payload type (indexed by `PayloadType::index`), dropped
    /// ones included.
    pub received: TypeCounters,
    /// Descriptors sent, by payload type: one per link a descriptor went to.
    pub sent: TypeCounters,
    /// Descriptors relayed for others (each relay counted once, however many links it went
    /// to).
    pub routed: u64,
    /// Flooded Queries relayed again because a later copy carried more TTL than every
    /// earlier one (its sender became the reverse route). Also counted in `routed`; such
    /// a copy is neither a `duplicate` drop nor answered again.
    pub relayed_better_ttl: u64,
    /// Cached Pongs we sent in answer to Pings (besides our own Pong), from the pong
    /// cache (0.6 ping/pong scheme).
    pub pongs_from_cache: u64,
    /// Queries (walkers included) we answered with at least one QueryHit.
    pub queries_answered: u64,
    /// Walker steps we took (walkers we forwarded, ours included).
    pub walker_steps: u64,
    /// Walkers that arrived at us again (a walk revisiting; not dropped).
    pub walker_revisits: u64,
    /// Walkers we ended: at max steps, nowhere to go, stopped by the requester, check
    /// unanswered (requester unreachable), or too many held.
    pub walkers_ended: u64,
    /// Walkers we held for a check whose verdict never came in time (also counted in
    /// `walkers_ended`).
    pub walker_check_timeouts: u64,
    /// Queries we handed one hop ahead for look-ahead walkers, to neighbours whose query
    /// routing tables may match.
    pub look_ahead_sends: u64,
    /// Descriptors dropped, by [`DropReason::index`].
    pub dropped: [u64; DropReason::ALL.len()],
}

impl Stats {
    /// Adds every counter of `other` to these (totals over many servents).
    pub fn add(&mut self, other: &Stats) {
        for i in 0..self.received.len() {
            self.received[i] += other.received[i];
            self.sent[i] += other.sent[i];
        }
        self.routed += other.routed;
        self.relayed_better_ttl += other.relayed_better_ttl;
        self.pongs_from_cache += other.pongs_from_cache;
        self.queries_answered += other.queries_answered;
        self.walker_steps += other.walker_steps;
        self.walker_revisits += other.walker_revisits;
        self.walkers_ended += other.walkers_ended;
        self.look_ahead_sends += other.look_ahead_sends;
        self.walker_check_timeouts += other.walker_check_timeouts;
        for (d, o) in self.dropped.iter_mut().zip(other.dropped.iter()) {
            *d += o;
        }
    }

    /// Descriptors dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    /// Descriptors of type `t` received.
    pub fn received(&self, t: PayloadType) -> u64 {
        self.received[t.index()]
    }

    /// Descriptors of type `t` sent (one per link).
    pub fn sent(&self, t: PayloadType) -> u64 {
        self.sent[t.index()]
    }
}
