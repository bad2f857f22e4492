//! How long a descriptor takes over one simulated link (fixed or uniform), the delay drawn
//! per message, the delivery queue suited to each model, and the seed mixer every part of
//! the simulator derives its seeds with.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::queue::Deliveries;

/// splitmix64: derives well-spread seeds from one experiment seed and an index.
pub(super) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// One hop's delay in the default model: results in hop units are exact.
pub(super) const UNIT_LATENCY: Duration = Duration::from_millis(1);

/// How long a descriptor takes over one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    /// Every descriptor takes this long on every link (default 1 ms, one hop unit).
    Fixed(Duration),
    /// Uniform in `[min, max]`, drawn per message from the network's seeded RNG.
    Uniform(Duration, Duration),
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Fixed(UNIT_LATENCY)
    }
}

/// One link's delay under `latency`, drawn from `rng` when random.
pub(super) fn draw_delay(latency: Latency, rng: &mut ChaCha8Rng) -> Duration {
    match latency {
        Latency::Fixed(d) => d,
        Latency::Uniform(lo, hi) if hi > lo => {
            lo + Duration::from_nanos(rng.gen_range(0..=(hi - lo).as_nanos() as u64))
        }
        Latency::Uniform(lo, _) => lo,
    }
}

/// The queue for `latency`: batches at a fixed latency, a calendar covering the range
/// otherwise.
pub(super) fn queue_for(latency: Latency) -> Deliveries {
    match latency {
        Latency::Fixed(_) => Deliveries::new(None),
        Latency::Uniform(_, hi) => Deliveries::new(Some(hi)),
    }
}
