//! Expanding ring (iterative deepening, Yang and Garcia-Molina, ICDCS 2002): flood with a
//! small TTL; when a ring ends without enough hits, flood again with a larger TTL, up to a
//! maximum.
//!
//! **Descriptor-ID rule.** Every ring is a new Query with a fresh descriptor ID from the
//! core's RNG, so servents that saw an earlier ring accept the new one (it is not a
//! duplicate) and the ring really reaches every servent within its TTL; unmodified
//! servents need nothing new. All the IDs of one search belong to its [`super::search::SearchId`]
//! (the first ring's ID); hits for an earlier ring that arrive late still count.
//!
//! **Ring timeout.** A ring ends when its farthest hit could be back: 2 x TTL hops at the
//! measured hop bound ([`super::latency::HopLatency::per_hop_bound`]), unless a fixed timeout is
//! given; at least the servent's `min_search_timeout`.

use std::fmt;
use std::time::Duration;

use super::param::{fmt_duration, Param, StrategyError};
use crate::proto::limits::HARD_MAX_TTL;

/// First ring's TTL: one hop, as in the paper.
pub(super) const DEFAULT_RING_START_TTL: u8 = 1;
/// TTL added per ring: the paper's policy 1, 3, 5, 7.
pub(super) const DEFAULT_RING_STEP: u8 = 2;
/// Last ring's TTL: the 0.6 soft limit, what a flood would use.
pub(super) const DEFAULT_RING_MAX_TTL: u8 = 7;
/// Hits wanted: a user looking for one file stops at the first source.
pub(super) const DEFAULT_WANT_HITS: u32 = 1;

/// An expanding ring's parameters (`ring:start=1,step=2,max=7,want=1,timeout=auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpandingRing {
    /// TTL of the first ring, 1-15.
    pub start_ttl: u8,
    /// TTL added per ring, 1-15.
    pub step: u8,
    /// TTL of the last ring, 1-15 (also capped by the servent's `max_ttl`).
    pub max_ttl: u8,
    /// Distinct results (servent ID, file index) that end the search.
    pub want_hits: u32,
    /// A fixed time per ring; `None`: from the TTL and the measured hop latency.
    pub ring_timeout: Option<Duration>,
}

impl Default for ExpandingRing {
    fn default() -> Self {
        ExpandingRing {
            start_ttl: DEFAULT_RING_START_TTL,
            step: DEFAULT_RING_STEP,
            max_ttl: DEFAULT_RING_MAX_TTL,
            want_hits: DEFAULT_WANT_HITS,
            ring_timeout: None,
        }
    }
}

impl ExpandingRing {
    pub(crate) fn from_params(params: &[Param<'_>]) -> Result<ExpandingRing, StrategyError> {
        let mut r = ExpandingRing::default();
        let mut max_given = false;
        for p in params {
            match p.key {
                "start" => r.start_ttl = p.int(1, HARD_MAX_TTL as u64)?,
                "step" => r.step = p.int(1, HARD_MAX_TTL as u64)?,
                "max" => {
                    r.max_ttl = p.int(1, HARD_MAX_TTL as u64)?;
                    max_given = true;
                }
                "want" => r.want_hits = p.int(1, u32::MAX as u64)?,
                "timeout" => r.ring_timeout = p.duration_or_auto()?,
                _ => return Err(p.unknown()),
            }
        }
        if r.start_ttl > r.max_ttl {
            if max_given {
                return Err(StrategyError::BadValue {
                    strategy: "ring",
                    key: "start".into(),
                    value: r.start_ttl.to_string(),
                    why: "above max",
                });
            }
            r.max_ttl = r.start_ttl;
        }
        Ok(r)
    }

    /// The TTL of the ring after one with `ttl`, or `None` when `ttl` was the last
    /// (`limit` is the servent's own TTL cap; the last ring is exactly the maximum).
    pub fn next_ttl(&self, ttl: u8, limit: u8) -> Option<u8> {
        let max = self.max_ttl.min(limit);
        (ttl < max).then(|| ttl.saturating_add(self.step).min(max))
    }

    /// The TTLs of every ring in order, if none is satisfied.
    pub fn ttls(&self, limit: u8) -> Vec<u8> {
        let mut out = vec![self.start_ttl.min(self.max_ttl.min(limit)).max(1)];
        while let Some(next) = self.next_ttl(*out.last().unwrap_or(&1), limit) {
            out.push(next);
        }
        out
    }
}

impl fmt::Display for ExpandingRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ring:start={},step={},max={},want={},timeout={}",
            self.start_ttl,
            self.step,
            self.max_ttl,
            self.want_hits,
            fmt_duration(self.ring_timeout)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_ttls() {
        let r = ExpandingRing::default();
        assert_eq!(r.ttls(7), vec![1, 3, 5, 7]);
        assert_eq!(r.ttls(4), vec![1, 3, 4]);
        let r = ExpandingRing {
            start_ttl: 2,
            step: 3,
            max_ttl: 6,
            ..r
        };
        assert_eq!(r.ttls(7), vec![2, 5, 6]);
        assert_eq!(r.next_ttl(6, 7), None);
    }
}
