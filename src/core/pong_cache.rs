//! The pong cache of the 0.6 ping/pong scheme: Pongs heard recently, with how many hops
//! away their servent is, so a Ping is answered from memory (our Pong and up to ten cached
//! ones, spread over distances) instead of being flooded. gtk-gnutella and LimeWire
//! answer Pings this way; it is how a servent learns hosts beyond its neighbours without
//! Ping floods.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::proto::payload::Pong;

use super::peer::PeerId;

/// One remembered Pong.
#[derive(Debug, Clone)]
struct Cached {
    pong: Pong,
    /// Hops from us to the servent it names (1 = a neighbour).
    hops: u8,
    /// The neighbour it came through: never offered back to that neighbour.
    from: PeerId,
    /// When it arrived.
    at: Duration,
}

/// Recent Pongs, oldest first, one per advertised address; bounded in count and age.
#[derive(Debug)]
pub(crate) struct PongCache {
    entries: VecDeque<Cached>,
    capacity: usize,
    lifespan: Duration,
}

impl PongCache {
    /// An empty cache of at most `capacity` Pongs, each offered for `lifespan`.
    pub(crate) fn new(capacity: usize, lifespan: Duration) -> PongCache {
        PongCache {
            entries: VecDeque::new(),
            capacity,
            lifespan,
        }
    }

    /// Remembers a Pong that came from `from`, naming a servent `hops` away. A newer Pong
    /// for the same address replaces the older one, but a fresh nearer route to it is
    /// kept (its distance and the link it came through): a neighbour's own Pong, then the
    /// same address relayed from two hops away, must still never be offered back to that
    /// neighbour as a host it could link to. Beyond capacity the oldest goes. Unroutable
    /// addresses (port 0, 0.0.0.0) are not kept.
    pub(crate) fn record(&mut self, now: Duration, from: PeerId, hops: u8, pong: &Pong) {
        if self.capacity == 0 || pong.port == 0 || pong.ip == Ipv4Addr::UNSPECIFIED {
            return;
        }
        let (mut hops, mut from) = (hops, from);
        let lifespan = self.lifespan;
        self.entries.retain(|c| {
            if (c.pong.ip, c.pong.port) != (pong.ip, pong.port) {
                return true;
            }
            if c.hops < hops && now.saturating_sub(c.at) < lifespan {
                (hops, from) = (c.hops, c.from);
            }
            false
        });
        self.entries.push_back(Cached {
            pong: pong.clone(),
            hops,
            from,
            at: now,
        });
        while self.entries.len() > self.capacity {
            self.entries.pop_front();
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Cached>()
    }

    /// Forgets Pongs older than the lifespan.
    pub(crate) fn expire(&mut self, now: Duration) {
        while self
            .entries
            .front()
            .is_some_and(|c| now.saturating_sub(c.at) >= self.lifespan)
        {
            self.entries.pop_front();
        }
    }

    /// Fresh Pongs for a Ping from `asker`: at most `n`, none that came through `asker`,
    /// none more than `max_hops` away, spread over distances (the nearest distance first,
    /// then round-robin, newest first within a distance) as gtk-gnutella spreads them.
    pub(crate) fn pick(
        &self,
        now: Duration,
        asker: PeerId,
        max_hops: u8,
        n: usize,
    ) -> Vec<(Pong, u8)> {
        let mut by_hops: Vec<Vec<&Cached>> = Vec::new();
        for c in self.entries.iter().rev() {
            if c.from == asker
                || c.hops == 0
                || c.hops > max_hops
                || now.saturating_sub(c.at) >= self.lifespan
            {
                continue;
            }
            let i = usize::from(c.hops - 1);
            if by_hops.len() <= i {
                by_hops.resize_with(i + 1, Vec::new);
            }
            by_hops[i].push(c);
        }
        let mut out = Vec::with_capacity(n.min(self.entries.len()));
        let mut round = 0;
        while out.len() < n {
            let mut took = false;
            for line in &by_hops {
                if let Some(c) = line.get(round) {
                    out.push((c.pong.clone(), c.hops));
                    took = true;
                    if out.len() == n {
                        break;
                    }
                }
            }
            if !took {
                break;
            }
            round += 1;
        }
        out
    }

    /// Pongs held (fresh or not yet expired).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pong(last: u8) -> Pong {
        Pong {
            port: 6346,
            ip: Ipv4Addr::new(127, 0, 0, last),
            files_shared: 0,
            kbytes_shared: 0,
            ggep: None,
        }
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn picks_spread_over_distances_and_skips_the_asker_and_the_stale() {
        let mut c = PongCache::new(100, 20 * S);
        c.record(Duration::ZERO, PeerId(1), 1, &pong(1));
        c.record(S, PeerId(2), 1, &pong(2));
        c.record(S, PeerId(2), 2, &pong(3));
        c.record(S, PeerId(2), 3, &pong(4));
        c.record(S, PeerId(3), 2, &pong(5));
        // Asked by peer 2: only what came through 1 and 3, nearest first.
        let got: Vec<u8> = c
            .pick(2 * S, PeerId(2), 6, 10)
            .iter()
            .map(|(p, _)| p.ip.octets()[3])
            .collect();
        assert_eq!(got, vec![1, 5]);
        // Round-robin over distances, newest first, at most n.
        let got: Vec<(u8, u8)> = c
            .pick(2 * S, PeerId(9), 6, 4)
            .iter()
            .map(|(p, h)| (p.ip.octets()[3], *h))
            .collect();
        assert_eq!(got, vec![(2, 1), (5, 2), (4, 3), (1, 1)]);
        // Not beyond max_hops; nothing once stale.
        assert!(c.pick(2 * S, PeerId(9), 1, 10).iter().all(|(_, h)| *h == 1));
        assert!(c.pick(30 * S, PeerId(9), 6, 10).is_empty());
        c.expire(30 * S);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn one_entry_per_address_and_bounded() {
        let mut c = PongCache::new(3, 20 * S);
        c.record(Duration::ZERO, PeerId(1), 3, &pong(1));
        c.record(S, PeerId(2), 1, &pong(1));
        assert_eq!(c.len(), 1);
        assert_eq!(
            c.pick(S, PeerId(9), 6, 10)[0].1,
            1,
            "the newer Pong replaced it"
        );
        // Relayed again from farther away: the nearer route stays, so the servent it
        // names (peer 2's own Pong) is still never offered back to peer 2.
        c.record(2 * S, PeerId(3), 2, &pong(1));
        assert_eq!(c.len(), 1);
        assert_eq!(c.pick(2 * S, PeerId(9), 6, 10)[0].1, 1);
        assert!(c.pick(2 * S, PeerId(2), 6, 10).is_empty());
        // Once the near route is stale, the farther one takes its place.
        c.record(30 * S, PeerId(3), 2, &pong(1));
        assert_eq!(c.pick(30 * S, PeerId(2), 6, 10)[0].1, 2);
        for i in 2..10 {
            c.record(S, PeerId(1), 1, &pong(i));
        }
        assert_eq!(c.len(), 3);
        let mut unroutable = pong(1);
        unroutable.port = 0;
        c.record(S, PeerId(1), 1, &unroutable);
        assert!(c.pick(S, PeerId(9), 6, 10).iter().all(|(p, _)| p.port != 0));
    }
}
