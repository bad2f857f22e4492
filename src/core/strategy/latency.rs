//! The hop latency estimate every search timeout follows: a ring waits for hits from its
//! farthest servent, a walker holder waits for the requester's answer to a check. Samples
//! are one-hop delays measured by the core itself (a Pong to our Ping: round trip / 2 per
//! hop; a hit for our flood or ring: time since it was sent / 2 per hop; a check answer:
//! round trip / 2 per hop of the path). Smoothed like TCP's round-trip time (RFC 6298):
//! mean and mean deviation, with gains 1/8 and 1/4.

use std::time::Duration;

/// The smoothed one-hop delay between servents and its deviation, from which every
/// search timeout is derived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HopLatency {
    /// Smoothed one-hop delay.
    srtt: Duration,
    /// Smoothed mean deviation of the one-hop delay.
    rttvar: Duration,
    samples: u64,
}

impl HopLatency {
    /// Starts from `hint` (deviation `hint / 2`, as RFC 6298 starts) until measured.
    pub fn new(hint: Duration) -> HopLatency {
        HopLatency {
            srtt: hint,
            rttvar: hint / 2,
            samples: 0,
        }
    }

    /// Adds one measured one-hop delay.
    pub fn sample(&mut self, hop: Duration) {
        if self.samples == 0 {
            self.srtt = hop;
            self.rttvar = hop / 2;
        } else {
            let diff = hop.abs_diff(self.srtt);
            self.rttvar = (self.rttvar * 3 + diff) / 4;
            self.srtt = (self.srtt * 7 + hop) / 8;
        }
        self.samples += 1;
    }

    /// Adds `total` measured over `hops` hops (a round trip over a path counts both ways).
    pub fn sample_path(&mut self, total: Duration, hops: u32) {
        if hops > 0 {
            self.sample(total / hops);
        }
    }

    /// The smoothed one-hop delay.
    pub fn mean(&self) -> Duration {
        self.srtt
    }

    /// One-hop delays measured so far (0: still the hint).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// A bound for one hop that a timeout multiplies by the hops it waits for: mean plus
    /// four deviations (RFC 6298), and at least 1.5 x the mean so that a perfectly steady
    /// link (deviation 0) still leaves room for the last reply to arrive.
    pub fn per_hop_bound(&self) -> Duration {
        self.srtt + (self.rttvar * 4).max(self.srtt / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_to_a_steady_delay() {
        let ms = Duration::from_millis(1);
        let mut h = HopLatency::new(100 * ms);
        assert_eq!(h.per_hop_bound(), 300 * ms, "hint + 4 x hint/2");
        for _ in 0..200 {
            h.sample(2 * ms);
        }
        assert_eq!(h.mean(), 2 * ms);
        assert_eq!(h.per_hop_bound(), 3 * ms);
        h.sample_path(40 * ms, 10);
        assert!(h.mean() > 2 * ms && h.mean() < 3 * ms);
    }
}
