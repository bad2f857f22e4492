//! A seeded random stream created on first use: a servent that never draws (a relay in
//! the simulator) never holds the generator's 320 bytes.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// ChaCha8 from `seed` on `stream`, allocated when first drawn from: the same numbers as
/// a generator built up front.
#[derive(Debug, Clone)]
pub(crate) struct SeededRng {
    seed: u64,
    stream: u64,
    rng: Option<Box<ChaCha8Rng>>,
}

impl SeededRng {
    pub(crate) fn new(seed: u64, stream: u64) -> SeededRng {
        SeededRng {
            seed,
            stream,
            rng: None,
        }
    }

    /// The generator, built on the first call.
    pub(crate) fn get(&mut self) -> &mut ChaCha8Rng {
        let (seed, stream) = (self.seed, self.stream);
        self.rng.get_or_insert_with(|| {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            if stream != 0 {
                r.set_stream(stream);
            }
            Box::new(r)
        })
    }

    /// Heap bytes held: the generator once drawn from.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.rng
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<ChaCha8Rng>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngCore;

    #[test]
    fn draws_what_an_eager_generator_draws() {
        let mut eager = ChaCha8Rng::seed_from_u64(7);
        let mut eager1 = ChaCha8Rng::seed_from_u64(7);
        eager1.set_stream(1);
        let (mut lazy, mut lazy1) = (SeededRng::new(7, 0), SeededRng::new(7, 1));
        assert_eq!(lazy.heap_bytes(), 0);
        for _ in 0..100 {
            assert_eq!(lazy.get().next_u64(), eager.next_u64());
            assert_eq!(lazy1.get().next_u64(), eager1.next_u64());
        }
        assert!(lazy.heap_bytes() > 0);
    }
}
