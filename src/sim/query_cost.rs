//! What one query cost the whole network ([`SimCost`]), counted by the simulator on the
//! links: descriptors by type, servents reached, hits, hops and walker steps to the first
//! find, times; one row of `--per-query`.

use super::churn::ChurnCounts;
use crate::proto::PayloadType;

/// What one query cost the whole network, counted by the simulator on the links.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SimCost {
    /// The servent that searched.
    pub origin: u32,
    /// The object searched for (its Query text is `obj<N>`).
    pub object: u32,
    /// Descriptors put on links while the query ran, by payload type
    /// (indexed by [`PayloadType::index`]).
    pub sent: [u64; PayloadType::ALL.len()],
    /// Query descriptors sent (flood copies, every ring, walker steps).
    pub query_messages: u64,
    /// QueryHit descriptors sent (each hop of each hit counts).
    pub hit_messages: u64,
    /// Check requests and verdicts sent (vendor messages; each hop counts).
    pub check_messages: u64,
    /// Distinct servents other than the origin that received the Query.
    pub visited: u64,
    /// Query deliveries to a servent that already had it (`query_messages - visited`).
    pub duplicates: u64,
    /// QueryHit descriptors that reached the origin.
    pub hits: u32,
    /// Hops the first QueryHit to reach the origin travelled.
    pub first_hit_hops: Option<u8>,
    /// Steps the walker that made the first find had taken (walks only; a hit's return
    /// hops understate how far walkers went: they share one reverse route).
    pub first_hit_steps: Option<u16>,
    /// Virtual time from the query's start to its first hit, in microseconds.
    pub first_hit_delay_us: Option<u64>,
    /// Virtual time from the start until the search ended and nothing was in flight.
    pub duration_us: u64,
    /// Rings flooded (1 for a flood, 0 for a walk), from the origin's record.
    pub rings: u32,
    /// Walkers launched, from the origin's record.
    pub walkers: u32,
    /// Checks the origin answered (their messages, every hop: `check_messages`).
    pub checks: u32,
    /// Whether the search got the hits it wanted (a flood never says so).
    pub satisfied: bool,
    /// Servents that left and came back while it ran, descriptors lost to that.
    pub churn: ChurnCounts,
}

impl SimCost {
    /// At least one QueryHit reached the origin.
    pub fn success(&self) -> bool {
        self.hits > 0
    }

    /// Search traffic: Queries plus checks (the messages Lv et al. count per query).
    pub fn search_messages(&self) -> u64 {
        self.query_messages + self.check_messages
    }
}
