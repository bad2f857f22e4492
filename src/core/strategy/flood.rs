//! Flooding: today's Gnutella search. One Query with a TTL goes to every neighbour, and
//! every servent that accepts it relays it to all its other neighbours while TTL lasts.
//! It never stops early; the search ends when the last hit could have come back.

use std::fmt;
use std::time::Duration;

use super::param::{Param, StrategyError};
use crate::proto::limits::HARD_MAX_TTL;

/// TTL of a flood when none is given: the 0.6 soft limit, what servents send.
pub(crate) const DEFAULT_FLOOD_TTL: u8 = 7;

/// A flood's parameters (`flood:ttl=N`, TTL 1-15, default 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    /// TTL of the Query (clamped to the servent's `max_ttl` when sent).
    pub ttl: u8,
}

impl Default for Flood {
    fn default() -> Self {
        Flood {
            ttl: DEFAULT_FLOOD_TTL,
        }
    }
}

impl Flood {
    pub(crate) fn from_params(params: &[Param<'_>]) -> Result<Flood, StrategyError> {
        let mut f = Flood::default();
        for p in params {
            match p.key {
                "ttl" => f.ttl = p.int(1, HARD_MAX_TTL as u64)?,
                _ => return Err(p.unknown()),
            }
        }
        Ok(f)
    }
}

impl fmt::Display for Flood {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flood:ttl={}", self.ttl)
    }
}

/// How long a search waits for hits of a flood with `ttl`: a hit from the farthest
/// servent travels `ttl` hops out and `ttl` back, each hop bounded by `per_hop`
/// ([`super::latency::HopLatency::per_hop_bound`]); never less than `floor`.
pub(crate) fn flood_timeout(ttl: u8, per_hop: Duration, floor: Duration) -> Duration {
    (per_hop * 2 * u32::from(ttl.max(1))).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_timeout_covers_the_round_trip() {
        let ms = Duration::from_millis(1);
        assert_eq!(flood_timeout(3, ms, Duration::ZERO), 6 * ms);
        assert_eq!(flood_timeout(3, ms, 10 * ms), 10 * ms);
    }
}
