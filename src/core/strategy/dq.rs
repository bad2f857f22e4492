//! Dynamic querying (LimeWire's and gtk-gnutella's `dq.c`): an ultrapeer searching for
//! itself or for one of its leaves sends a probe with a small TTL to a few ultrapeer
//! neighbours, then one ultrapeer neighbour at a time with a TTL chosen from the results
//! so far and that neighbour's horizon, until enough results or no neighbour is left.
//! This file holds the parameters and the pure rules (horizon, TTL choice, probe TTL,
//! waits); the servent runs them in `servent/dq.rs`, and the query status vendor messages
//! a leaf reports its results with are `proto::vendor`'s.
//!
//! **Horizon.** A Query sent with TTL t to an ultrapeer of degree d can reach
//! `sum_{i<t} (d-1)^i` ultrapeers (the neighbour, then d-1 new ones per hop), reduced by
//! [`HORIZON_FUZZ`] per hop after the first for cycles and lost copies, as gtk-gnutella
//! does.
//!
//! **TTL choice.** Popularity so far is `results / horizon reached`; the hosts still to
//! reach are `(want - results) / popularity`, shared among the neighbours not yet queried;
//! the TTL is the largest whose horizon through this neighbour does not exceed that share
//! (conservative: a TTL too small costs one more step, one too large floods), at least 1,
//! at most the neighbour's `X-Max-TTL` and the search's `max`.
//!
//! **One descriptor ID.** Every step of one dynamic query sends the same Query (same ID),
//! as the real protocol does: a relay that saw it drops it as a duplicate, so steps do not
//! pay twice for the servents they share (a copy with more TTL than before is relayed
//! again, bounded, by the better-TTL rule of `servent/flood.rs`).

use std::fmt;
use std::time::Duration;

use super::param::{fmt_duration, Param, StrategyError};
use crate::proto::limits::HARD_MAX_TTL;

/// Most TTL a dynamic query uses: gtk-gnutella's `DQ_MAX_TTL`. With degree 8, TTL 5
/// already reaches ~1,100 ultrapeers through one neighbour; more only floods.
pub const DQ_MAX_TTL: u8 = 5;
/// Ultrapeers the probe goes to: gtk-gnutella's `DQ_PROBE_UP`.
pub const PROBE_ULTRAPEERS: usize = 3;
/// Probe TTL when few ultrapeer neighbours may match: LimeWire's 2.
pub const PROBE_TTL: u8 = 2;
/// Above this many candidate ultrapeers (3 x [`PROBE_ULTRAPEERS`], gtk-gnutella's rule)
/// the content is likely common and the probe goes with TTL 1.
pub const COMMON_CONTENT_CANDIDATES: usize = 3 * PROBE_ULTRAPEERS;
/// Per-hop loss of the theoretical horizon (cycles, flow control): gtk-gnutella's
/// `DQ_FUZZY_FACTOR`.
pub const HORIZON_FUZZ: f64 = 0.8;
/// Degree assumed for a neighbour without `X-Degree`: gtk-gnutella's legacy degree.
pub const LEGACY_DEGREE: u32 = 8;
/// Most ultrapeer links an `X-Degree` may claim: gtk-gnutella takes anything above 1,000 as
/// a weird value.
pub const MAX_DEGREE: u32 = 1_000;
/// Max TTL assumed for a neighbour without `X-Max-TTL`: gtk-gnutella's legacy TTL.
pub const LEGACY_MAX_TTL: u8 = 7;
/// Ultrapeers theoretically reached after which a dynamic query stops whatever its
/// results: gtk-gnutella's `DQ_MAX_HORIZON` (a guard against endless querying).
pub const MAX_HORIZON: f64 = 500_000.0;
/// Results wanted when none is given: 1, as `ring` and `walk` default to, so `compare`
/// sets them side by side (real servents want more: gtk-gnutella 150 for its own
/// searches, 50 for a leaf's).
pub(super) const DEFAULT_DQ_WANT: u32 = super::ring::DEFAULT_WANT_HITS;
/// Results an ultrapeer collects for a leaf's query that says no max-hits: gtk-gnutella's
/// `DQ_LEAF_RESULTS` (its 150 for local searches, divided among the leaf's 3 ultrapeers).
pub const DQ_LEAF_RESULTS: u32 = 50;

/// A dynamic query's parameters (`dq:want=1,probe=auto,max=5,timeout=auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicQuery {
    /// Distinct results (servent ID, file index) that end the search.
    pub want_hits: u32,
    /// The probe's TTL; `None`: [`probe_ttl`] from the number of candidates.
    pub probe_ttl: Option<u8>,
    /// Most TTL any step uses, 1-15 (also capped by each neighbour's `X-Max-TTL`).
    pub max_ttl: u8,
    /// How long a leaf waits for its ultrapeers' results; `None`: long enough for an
    /// ultrapeer to query all its neighbours ([`leaf_timeout`]).
    pub leaf_timeout: Option<Duration>,
}

impl Default for DynamicQuery {
    fn default() -> Self {
        DynamicQuery {
            want_hits: DEFAULT_DQ_WANT,
            probe_ttl: None,
            max_ttl: DQ_MAX_TTL,
            leaf_timeout: None,
        }
    }
}

impl DynamicQuery {
    pub(crate) fn from_params(params: &[Param<'_>]) -> Result<DynamicQuery, StrategyError> {
        let mut q = DynamicQuery::default();
        for p in params {
            match p.key {
                "want" => q.want_hits = p.int(1, u32::MAX as u64)?,
                "probe" if p.value == "auto" => q.probe_ttl = None,
                "probe" => q.probe_ttl = Some(p.int(1, HARD_MAX_TTL as u64)?),
                "max" => q.max_ttl = p.int(1, HARD_MAX_TTL as u64)?,
                "timeout" => q.leaf_timeout = p.duration_or_auto()?,
                _ => return Err(p.unknown()),
            }
        }
        Ok(q)
    }
}

impl fmt::Display for DynamicQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let probe = self
            .probe_ttl
            .map_or_else(|| "auto".to_owned(), |t| t.to_string());
        write!(
            f,
            "dq:want={},probe={},max={},timeout={}",
            self.want_hits,
            probe,
            self.max_ttl,
            fmt_duration(self.leaf_timeout)
        )
    }
}

/// Ultrapeers a Query sent with `ttl` to a neighbour of `degree` can reach, the neighbour
/// included (see the module docs). 0 for TTL 0.
pub fn horizon(degree: u32, ttl: u8) -> f64 {
    let branching = f64::from(degree.max(1) - 1);
    let mut hosts = 0.0;
    let mut layer = 1.0;
    for _ in 0..ttl {
        hosts += layer;
        layer *= branching;
    }
    hosts * HORIZON_FUZZ.powi(i32::from(ttl.max(1)) - 1)
}

/// What the TTL choice knows about the query so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Results counted so far (kept by the leaf, or received).
    pub results: u32,
    /// Results wanted.
    pub want: u32,
    /// Ultrapeers theoretically reached so far (sum of the horizons queried).
    pub reached: f64,
    /// Neighbours not queried yet, this one included (at least 1).
    pub remaining: usize,
}

/// The TTL for the next step through a neighbour of `degree` that relays at most
/// `neighbour_max_ttl`, capped by `max_ttl` (module docs). A query with no result yet
/// counts as very rare: the largest TTL allowed.
pub fn select_ttl(p: &Progress, degree: u32, neighbour_max_ttl: u8, max_ttl: u8) -> u8 {
    let top = neighbour_max_ttl.min(max_ttl).max(1);
    let needed = f64::from(p.want.saturating_sub(p.results).max(1));
    let popularity = f64::from(p.results) / p.reached.max(1.0);
    let hosts = needed / popularity.max(1e-6);
    let per_neighbour = hosts / p.remaining.max(1) as f64;
    (1..=top)
        .rev()
        .find(|&t| horizon(degree, t) <= per_neighbour)
        .unwrap_or(1)
}

/// The probe's TTL when `candidates` ultrapeer neighbours may match: [`PROBE_TTL`], or
/// 1 when there are more than [`COMMON_CONTENT_CANDIDATES`] (the content is common, as
/// gtk-gnutella reasons); never above `max_ttl`.
pub fn probe_ttl(candidates: usize, max_ttl: u8) -> u8 {
    let ttl = if candidates > COMMON_CONTENT_CANDIDATES {
        PROBE_TTL - 1
    } else {
        PROBE_TTL
    };
    ttl.min(max_ttl).max(1)
}

/// How long a step with `ttl` waits for its results: the round trip of `ttl` hops at the
/// measured hop bound, at least `floor` (the flood's and ring's rule).
pub fn step_wait(ttl: u8, per_hop: Duration, floor: Duration) -> Duration {
    super::flood::flood_timeout(ttl, per_hop, floor)
}

/// How long a leaf waits for its ultrapeers: a probe and one step per ultrapeer link of
/// its most connected ultrapeer (`up_degree`), each at `max_ttl`, plus one more round trip
/// for the hits from the leaf's ultrapeer.
/// A degree above [`MAX_DEGREE`] (a hostile `X-Degree`) counts as that.
pub fn leaf_timeout(up_degree: u32, max_ttl: u8, per_hop: Duration, floor: Duration) -> Duration {
    let steps = up_degree.clamp(1, MAX_DEGREE) + 2;
    step_wait(max_ttl.saturating_add(1), per_hop, floor).saturating_mul(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn horizon_is_the_tree_of_the_degree_with_gtk_gnutellas_fuzz() {
        assert_eq!(horizon(8, 0), 0.0);
        assert_eq!(horizon(8, 1), 1.0);
        assert!((horizon(8, 2) - 8.0 * 0.8).abs() < 1e-9);
        assert!((horizon(8, 3) - 57.0 * 0.64).abs() < 1e-9);
        assert!((horizon(32, 3) - (1.0 + 31.0 + 961.0) * 0.64).abs() < 1e-9);
        assert_eq!(
            horizon(1, 4),
            0.8f64.powi(3),
            "a degree-1 node reaches itself only"
        );
    }

    #[test]
    fn ttl_follows_popularity_and_degree() {
        let p = |results, reached, remaining| Progress {
            results,
            want: 50,
            reached,
            remaining,
        };
        // No result after a probe reaching 10 ultrapeers: rare, the most TTL allowed.
        assert_eq!(select_ttl(&p(0, 10.0, 5), 8, 7, 5), 5);
        // Capped by the neighbour's max TTL and by the search's.
        assert_eq!(select_ttl(&p(0, 10.0, 5), 8, 3, 5), 3);
        assert_eq!(select_ttl(&p(0, 10.0, 5), 8, 7, 2), 2);
        // Popular (40 results from 10 ultrapeers): 10 more need ~3 hosts each from 1
        // neighbour: TTL 1 (horizon 1), not 2 (horizon 6.4).
        assert_eq!(select_ttl(&p(40, 10.0, 1), 8, 7, 5), 1);
        // Middling (5 from 10): 45 more need 90 hosts over 3 neighbours = 30 each:
        // TTL 2 (6.4) fits, TTL 3 (36.5) does not.
        assert_eq!(select_ttl(&p(5, 10.0, 3), 8, 7, 5), 2);
        // The same need through a high-degree neighbour: TTL 2 already reaches 24.8.
        assert_eq!(select_ttl(&p(5, 10.0, 3), 32, 7, 5), 2);
        assert_eq!(select_ttl(&p(5, 10.0, 1), 32, 7, 5), 2, "25.6 <= 90 < 635");
        assert_eq!(select_ttl(&p(5, 10.0, 1), 8, 7, 5), 3, "36.5 <= 90 < 205");
        // Fewer neighbours left: each must reach more.
        assert!(select_ttl(&p(5, 10.0, 1), 8, 7, 5) > select_ttl(&p(5, 10.0, 6), 8, 7, 5));
    }

    #[test]
    fn probe_ttl_drops_for_many_candidates() {
        assert_eq!(probe_ttl(3, 5), 2);
        assert_eq!(probe_ttl(9, 5), 2);
        assert_eq!(probe_ttl(10, 5), 1);
        assert_eq!(probe_ttl(3, 1), 1);
    }

    #[test]
    fn parses_and_prints() {
        let d = DynamicQuery::default();
        assert_eq!(d.to_string(), "dq:want=1,probe=auto,max=5,timeout=auto");
        let ms = Duration::from_millis(1);
        assert_eq!(step_wait(3, ms, Duration::ZERO), 6 * ms);
        assert_eq!(leaf_timeout(8, 5, ms, Duration::ZERO), 12 * ms * 10);
        // A hostile degree neither overflows nor waits for ever.
        assert_eq!(
            leaf_timeout(u32::MAX, 5, ms, Duration::ZERO),
            12 * ms * 1002
        );
        assert_eq!(
            select_ttl(
                &Progress {
                    results: 0,
                    want: 1,
                    reached: 0.0,
                    remaining: 0
                },
                u32::MAX,
                0,
                5
            ),
            1
        );
    }
}
