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
//! **Schedules.** TTLs grow by a fixed step (`step=2`: 1, 3, 5, 7, the paper's policy)
//! or double (`step=x2`: 1, 2, 4, 8, the doubling schedule whose cost stays within a
//! constant factor of the best fixed TTL's, Chang and Liu, INFOCOM 2004), up to `max`;
//! `max=open` leaves the end open: rings grow until the search is satisfied or a ring
//! reaches the servent's own TTL limit (7 on a real servent, 15 in the simulator).
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
    /// TTL added per ring, 1-15 (ignored when `double`).
    pub step: u8,
    /// `step=x2`: each ring's TTL is twice the last one's.
    pub double: bool,
    /// TTL of the last ring, 1-15 (also capped by the servent's `max_ttl`).
    pub max_ttl: u8,
    /// `max=open`: no last ring of our own; rings go on to the servent's TTL limit
    /// (`max_ttl` is then 15, the hard limit).
    pub open: bool,
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
            double: false,
            max_ttl: DEFAULT_RING_MAX_TTL,
            open: false,
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
                "step" if p.value == "x2" => r.double = true,
                "step" => {
                    r.step = p.int(1, HARD_MAX_TTL as u64)?;
                    r.double = false;
                }
                "max" if p.value == "open" => {
                    r.max_ttl = HARD_MAX_TTL;
                    r.open = true;
                }
                "max" => {
                    r.max_ttl = p.int(1, HARD_MAX_TTL as u64)?;
                    r.open = false;
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
        let step = if self.double { ttl.max(1) } else { self.step };
        (ttl < max).then(|| ttl.saturating_add(step).min(max))
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
        let step = if self.double {
            "x2".to_owned()
        } else {
            self.step.to_string()
        };
        let max = if self.open {
            "open".to_owned()
        } else {
            self.max_ttl.to_string()
        };
        write!(
            f,
            "ring:start={},step={step},max={max},want={},timeout={}",
            self.start_ttl,
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

    fn parse(text: &str) -> ExpandingRing {
        match text.parse::<super::super::Strategy>() {
            Ok(super::super::Strategy::ExpandingRing(r)) => r,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn doubling_and_open_ended_schedules() {
        let r = parse("ring:step=x2");
        assert_eq!(r.ttls(7), vec![1, 2, 4, 7]);
        let open = parse("ring:step=x2,max=open");
        assert_eq!(
            open.ttls(15),
            vec![1, 2, 4, 8, 15],
            "to the servent's limit"
        );
        assert_eq!(open.ttls(7), vec![1, 2, 4, 7]);
        assert_eq!(
            parse("ring:max=open").ttls(15),
            vec![1, 3, 5, 7, 9, 11, 13, 15]
        );
        assert_eq!(
            parse("ring:start=3,step=x2,max=open").ttls(15),
            vec![3, 6, 12, 15]
        );
        for text in [
            "ring:step=x2,max=open",
            "ring:step=x2",
            "ring:max=open,step=3",
        ] {
            let r = parse(text);
            assert_eq!(parse(&r.to_string()), r, "{text} round-trips as {r}");
        }
        assert!("ring:step=x3".parse::<super::super::Strategy>().is_err());
        assert!("ring:max=closed".parse::<super::super::Strategy>().is_err());
    }
}
