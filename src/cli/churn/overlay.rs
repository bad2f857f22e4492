//! The live overlay as the servents' `/status` describe it: who links to whom, its
//! connected parts, hop distances and diameter (to tell a search lost in routing from
//! one whose file was out of reach).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use super::fleet::Snapshot;

/// An undirected graph over servent indices; a link counts when either end lists it.
pub struct Overlay {
    links: HashMap<usize, Vec<usize>>,
}

impl Overlay {
    /// `addrs[i]` is servent i's listening address; links to anything else (a search's
    /// short-lived servent) are left out.
    pub fn from_snapshots(snaps: &[Snapshot], addrs: &[SocketAddr]) -> Overlay {
        let index_of: HashMap<SocketAddr, usize> =
            addrs.iter().enumerate().map(|(i, a)| (*a, i)).collect();
        let mut links: HashMap<usize, Vec<usize>> =
            snaps.iter().map(|s| (s.index, Vec::new())).collect();
        for s in snaps {
            for n in &s.neighbours {
                let Some(&j) = index_of.get(n) else { continue };
                if j == s.index || !links.contains_key(&j) {
                    continue;
                }
                for (x, y) in [(s.index, j), (j, s.index)] {
                    let v = links.entry(x).or_default();
                    if !v.contains(&y) {
                        v.push(y);
                    }
                }
            }
        }
        Overlay { links }
    }

    /// Hops from `from` to every servent it reaches.
    fn distances(&self, from: usize) -> HashMap<usize, usize> {
        let mut dist = HashMap::from([(from, 0)]);
        let mut queue = VecDeque::from([from]);
        while let Some(x) = queue.pop_front() {
            let d = dist[&x];
            for &y in self.links.get(&x).into_iter().flatten() {
                if let std::collections::hash_map::Entry::Vacant(e) = dist.entry(y) {
                    e.insert(d + 1);
                    queue.push_back(y);
                }
            }
        }
        dist
    }

    /// Hops between two servents; `None` when they are in different parts.
    pub fn hops(&self, from: usize, to: usize) -> Option<usize> {
        self.distances(from).get(&to).copied()
    }

    /// Sizes of the connected parts, largest first (one entry: all connected).
    pub fn components(&self) -> Vec<usize> {
        let mut seen: HashMap<usize, ()> = HashMap::new();
        let mut sizes = Vec::new();
        let mut nodes: Vec<usize> = self.links.keys().copied().collect();
        nodes.sort_unstable();
        for n in nodes {
            if seen.contains_key(&n) {
                continue;
            }
            let part = self.distances(n);
            sizes.push(part.len());
            seen.extend(part.keys().map(|k| (*k, ())));
        }
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes
    }

    /// The most hops between two servents of one part.
    pub fn diameter(&self) -> usize {
        self.links
            .keys()
            .filter_map(|n| self.distances(*n).into_values().max())
            .max()
            .unwrap_or(0)
    }
}
