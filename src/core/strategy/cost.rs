//! The cost of one search, one record for every strategy so they compare like with like.
//!
//! Each servent counts, per query descriptor ID, what it sent for that query and the
//! duplicate copies it received ([`QueryTraffic`], kept with the query's route entry, so
//! it is bounded and expires with it). Summing those over every servent for a search's
//! IDs gives the exact network-wide cost ([`NetworkTraffic::sum`]); the originator alone
//! knows its hits, hops and times ([`QueryCost`]).

use std::collections::HashSet;
use std::time::Duration;

use super::search::{SearchEnd, SearchId};
use crate::proto::Guid;

/// What one servent did for one query descriptor ID.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueryTraffic {
    /// Query descriptors sent (flood copies, or walker steps).
    pub queries: u32,
    /// QueryHit descriptors sent (ours and relayed).
    pub hits: u32,
    /// Check vendor messages sent (requests and verdicts, ours and relayed).
    pub checks: u32,
    /// Check datagrams sent by UDP, directly between holder and requester (requests and
    /// verdicts; one message each, not counted in `checks`).
    pub udp_checks: u32,
    /// Copies of the Query received after the first (dropped, relayed again for more TTL,
    /// or a walker revisiting).
    pub duplicates: u32,
    /// The query is ours (we originated it): we do not count as reached.
    pub local: bool,
}

/// Descriptors sent, by type, plus duplicates received: a sum of [`QueryTraffic`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// Query descriptors sent (flood copies and walker steps).
    pub queries: u64,
    /// QueryHit descriptors sent, ours and relayed.
    pub hits: u64,
    /// Check vendor messages sent along reverse paths (requests and verdicts, every hop).
    pub checks: u64,
    /// Check datagrams sent directly by UDP (requests and verdicts, one message each).
    pub udp_checks: u64,
    /// Copies of a Query received after the first (not sent, so not in `total`).
    pub duplicates: u64,
}

impl Traffic {
    /// Adds one servent's counters for one descriptor ID.
    pub fn add(&mut self, t: &QueryTraffic) {
        self.queries += u64::from(t.queries);
        self.hits += u64::from(t.hits);
        self.checks += u64::from(t.checks);
        self.udp_checks += u64::from(t.udp_checks);
        self.duplicates += u64::from(t.duplicates);
    }

    /// Every descriptor sent for the search.
    pub fn total(&self) -> u64 {
        self.queries + self.hits + self.checks + self.udp_checks
    }
}

/// A search's cost summed over many servents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetworkTraffic {
    /// Descriptors sent and duplicates received, summed over the servents.
    pub traffic: Traffic,
    /// Distinct servents, other than the originator, that received the query (any of
    /// the search's descriptor IDs).
    pub reached: u64,
    /// Servents whose table held at least one of the IDs (the originator included).
    pub servents_counted: u64,
}

impl NetworkTraffic {
    /// Sums the per-servent tables: `tables` yields, for each servent, its lookup
    /// (e.g. `|g| servent.query_traffic(g, now)`). Exact as long as no servent evicted
    /// the entries (tables hold the most recent route-table-capacity queries for the
    /// query route lifetime).
    pub fn sum<I, F>(tables: I, guids: &[Guid]) -> NetworkTraffic
    where
        I: IntoIterator<Item = F>,
        F: Fn(&Guid) -> Option<QueryTraffic>,
    {
        let mut out = NetworkTraffic::default();
        for lookup in tables {
            let mut seen = false;
            let mut reached = false;
            for g in guids {
                if let Some(t) = lookup(g) {
                    seen = true;
                    reached |= !t.local;
                    out.traffic.add(&t);
                }
            }
            out.servents_counted += u64::from(seen);
            out.reached += u64::from(reached);
        }
        out
    }
}

/// One search's cost as its originator knows it, and, once merged with
/// [`QueryCost::set_network`], network-wide.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueryCost {
    /// The search (its first descriptor ID).
    pub id: SearchId,
    /// The strategy in its text form.
    pub strategy: String,
    /// Every descriptor ID the search used (one per ring; one for flood and walk).
    pub guids: Vec<Guid>,
    /// Descriptors sent: by the originator itself, or network-wide after `set_network`.
    pub traffic: Traffic,
    /// Whether `traffic` and `reached` are network-wide sums.
    pub network_wide: bool,
    /// Distinct servents reached (known only network-wide).
    pub reached: Option<u64>,
    /// Distinct results received: (servent ID, file index).
    pub hits: u32,
    /// QueryHit descriptors received.
    pub hit_descriptors: u32,
    /// Distinct servents that answered.
    pub responders: u32,
    /// Hops of the first hit.
    pub first_hit_hops: Option<u8>,
    /// Time from the start of the search to the first hit.
    pub first_hit_after: Option<Duration>,
    /// Steps the walker that found the first hit had taken when it reached the responder
    /// (from the hit's `RS`); beside `first_hit_hops`, which is the hit's way back along
    /// the reverse path. `None` for floods and rings, or when the responder did not say.
    pub first_hit_steps: Option<u16>,
    /// Time from the start to the end (so far, while running).
    pub duration: Duration,
    /// Rings flooded (1 for a flood, 0 for a walk).
    pub rings: u32,
    /// Walker steps as the requester knows them: for each walker, the steps of its last
    /// check (network-wide: every walker step, in `traffic.queries`).
    pub walker_steps: u64,
    /// Checks the requester answered.
    pub checks_answered: u32,
    /// Walkers launched (0 for flood and ring).
    pub walkers: u32,
    /// `None` while the search runs.
    pub end: Option<SearchEnd>,
}

impl QueryCost {
    pub(crate) fn new(id: SearchId, strategy: String) -> QueryCost {
        QueryCost {
            id,
            strategy,
            guids: Vec::new(),
            traffic: Traffic::default(),
            network_wide: false,
            reached: None,
            hits: 0,
            hit_descriptors: 0,
            responders: 0,
            first_hit_hops: None,
            first_hit_after: None,
            first_hit_steps: None,
            duration: Duration::ZERO,
            rings: 0,
            walker_steps: 0,
            checks_answered: 0,
            walkers: 0,
            end: None,
        }
    }

    /// Replaces the originator's own counts with network-wide sums.
    pub fn set_network(&mut self, n: &NetworkTraffic) {
        self.traffic = n.traffic;
        self.reached = Some(n.reached);
        self.network_wide = true;
    }
}

/// Distinct counts of one search's hits so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HitCount {
    /// Distinct results: (servent ID, file index).
    pub results: u32,
    /// Distinct servents that answered.
    pub responders: u32,
}

/// Distinct results and responders of one search (the originator's bookkeeping).
#[derive(Debug, Clone, Default)]
pub(crate) struct HitSet {
    results: HashSet<(Guid, u32)>,
    responders: HashSet<Guid>,
}

impl HitSet {
    /// Adds a QueryHit's results; returns the distinct counts so far.
    pub(crate) fn add(&mut self, servent: Guid, indices: impl Iterator<Item = u32>) -> HitCount {
        self.responders.insert(servent);
        for i in indices {
            self.results.insert((servent, i));
        }
        HitCount {
            results: self.results.len() as u32,
            responders: self.responders.len() as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_over_servents_and_counts_reach_once() {
        let (a, b) = (Guid([1; 16]), Guid([2; 16]));
        let origin = move |g: &Guid| {
            (*g == a).then_some(QueryTraffic {
                queries: 3,
                local: true,
                ..Default::default()
            })
        };
        let relay = move |g: &Guid| {
            Some(QueryTraffic {
                queries: 2,
                hits: u32::from(*g == b),
                duplicates: 1,
                ..Default::default()
            })
        };
        type Lookup = Box<dyn Fn(&Guid) -> Option<QueryTraffic>>;
        let tables: Vec<Lookup> =
            vec![Box::new(origin), Box::new(relay), Box::new(|_: &Guid| None)];
        let n = NetworkTraffic::sum(tables, &[a, b]);
        assert_eq!(n.traffic.queries, 7);
        assert_eq!(n.traffic.hits, 1);
        assert_eq!(n.traffic.duplicates, 2);
        assert_eq!(n.reached, 1, "the relay once, the originator never");
        assert_eq!(n.servents_counted, 2);
    }
}
