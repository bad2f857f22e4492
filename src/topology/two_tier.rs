//! The two-tier overlay the Gnutella 0.6 network has had since 2002: ultrapeers linked
//! among themselves by a random graph of near-uniform degree, and leaves each linked to a
//! few distinct ultrapeers (and to nothing else), with a cap of leaves per ultrapeer kept
//! where the numbers allow.
//!
//! The ultrapeer tier is a random regular graph (configuration model: every ultrapeer gets
//! `degree` half-edges, paired uniformly at random, self-loops and repeated links erased),
//! not a power law: real ultrapeers each aim at the same number of ultrapeer links (their
//! `X-Degree`, gtk-gnutella's and LimeWire's connection targets) and refuse more, so their
//! degrees cluster around the target rather than spreading into hubs. A random d-regular
//! graph with d >= 3 is connected with high probability, as the real tier is.

use rand::seq::SliceRandom;
use rand::Rng;

use super::graph::Graph;

/// Ultrapeers each leaf links to by default: the 3 of gtk-gnutella and LimeWire (the
/// same number as `core::LEAF_ULTRAPEERS`; topology sits below the core and may not name
/// it, so the value is repeated here).
pub const DEFAULT_LEAF_ULTRAPEERS: usize = 3;
/// Leaves an ultrapeer serves at most by default: LimeWire's 30 (`core::MAX_LEAVES`,
/// repeated here for the same reason).
pub const DEFAULT_MAX_LEAVES: usize = 30;

/// How a two-tier overlay is shaped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoTier {
    /// Ultrapeers: nodes `0..ultrapeers`.
    pub ultrapeers: usize,
    /// Leaves: nodes `ultrapeers..ultrapeers + leaves`.
    pub leaves: usize,
    /// Ultrapeer links per ultrapeer (a few are lost to erased self-loops and repeats).
    pub degree: usize,
    /// Distinct ultrapeers each leaf links to (capped at the number of ultrapeers).
    pub leaf_ultrapeers: usize,
    /// Leaves per ultrapeer kept while the numbers allow it; when
    /// `leaves * leaf_ultrapeers` exceeds `ultrapeers * max_leaves` the extra links go to
    /// random ultrapeers anyway (every leaf keeps its links).
    pub max_leaves: usize,
}

impl Graph {
    /// A two-tier overlay (see the module docs), drawn from `rng`; its leaves are marked
    /// ([`Graph::is_leaf`]).
    pub fn two_tier<R: Rng>(shape: &TwoTier, rng: &mut R) -> Graph {
        let ups = shape.ultrapeers;
        let n = ups + shape.leaves;
        let mut edges: Vec<(u32, u32)> = Vec::new();
        if ups >= 2 {
            let d = shape.degree.min(ups - 1);
            let mut stubs: Vec<u32> = (0..ups as u32)
                .flat_map(|v| std::iter::repeat_n(v, d))
                .collect();
            if stubs.len() % 2 == 1 {
                stubs.pop();
            }
            stubs.shuffle(rng);
            edges.extend(stubs.chunks_exact(2).map(|p| (p[0], p[1])));
        }
        let per_leaf = shape.leaf_ultrapeers.min(ups);
        let mut served = vec![0usize; ups];
        // Ultrapeers with room for one more leaf; swap-removed once full.
        let mut open: Vec<u32> = (0..ups as u32).collect();
        let mut chosen: Vec<u32> = Vec::with_capacity(per_leaf);
        for leaf in ups..n {
            chosen.clear();
            while chosen.len() < per_leaf {
                let pool_has_new = open.iter().any(|u| !chosen.contains(u));
                let up = if pool_has_new {
                    let i = rng.gen_range(0..open.len());
                    open[i]
                } else {
                    rng.gen_range(0..ups) as u32
                };
                if chosen.contains(&up) {
                    continue;
                }
                chosen.push(up);
                served[up as usize] += 1;
                if served[up as usize] >= shape.max_leaves {
                    if let Some(i) = open.iter().position(|&u| u == up) {
                        open.swap_remove(i);
                    }
                }
            }
            edges.extend(chosen.iter().map(|&up| (up, leaf as u32)));
        }
        let mut g = Graph::from_edges(n, edges);
        g.set_leaves((0..n).map(|v| v >= ups).collect());
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn shape(ultrapeers: usize, leaves: usize, degree: usize) -> TwoTier {
        TwoTier {
            ultrapeers,
            leaves,
            degree,
            leaf_ultrapeers: DEFAULT_LEAF_ULTRAPEERS,
            max_leaves: DEFAULT_MAX_LEAVES,
        }
    }

    #[test]
    fn counts_degrees_and_tiers() {
        let g = Graph::two_tier(&shape(200, 1800, 8), &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(g.node_count(), 2000);
        assert_eq!(g.leaf_count(), 1800);
        assert!(g.is_two_tier());
        let mut up_links = 0;
        for up in 0..200 {
            assert!(!g.is_leaf(up));
            let d = g.ultrapeer_degree(up);
            assert!(
                (5..=8).contains(&d),
                "ultrapeer {up} has {d} ultrapeer links"
            );
            up_links += d;
            let leaves = g.degree(up) - d;
            assert!(
                leaves <= DEFAULT_MAX_LEAVES,
                "ultrapeer {up}: {leaves} leaves"
            );
        }
        // Few half-edges are lost to erased loops and repeats.
        assert!(
            up_links as f64 / 200.0 > 7.5,
            "mean {}",
            up_links as f64 / 200.0
        );
        for leaf in 200..2000 {
            assert!(g.is_leaf(leaf));
            assert_eq!(g.degree(leaf), 3, "leaf {leaf}");
            assert!(
                g.neighbours(leaf).iter().all(|&u| !g.is_leaf(u as usize)),
                "leaf {leaf} linked to a leaf"
            );
        }
        assert_eq!(g.component_sizes(), vec![2000]);
    }

    #[test]
    fn deterministic_and_over_the_cap_only_when_unavoidable() {
        let a = Graph::two_tier(&shape(50, 400, 4), &mut ChaCha8Rng::seed_from_u64(9));
        let b = Graph::two_tier(&shape(50, 400, 4), &mut ChaCha8Rng::seed_from_u64(9));
        assert_eq!(a.to_edge_list(), b.to_edge_list());
        // 10 ultrapeers, 200 leaves x 3 links: 60 per ultrapeer, above the cap of 30.
        let g = Graph::two_tier(&shape(10, 200, 4), &mut ChaCha8Rng::seed_from_u64(1));
        let total: usize = (0..10).map(|u| g.degree(u) - g.ultrapeer_degree(u)).sum();
        assert_eq!(total, 600);
        assert!((200..210).all(|l| g.degree(l) == 3));
        // Fewer ultrapeers than a leaf wants: it links to all of them.
        let g = Graph::two_tier(&shape(2, 5, 4), &mut ChaCha8Rng::seed_from_u64(1));
        assert!((2..7).all(|l| g.degree(l) == 2));
        assert_eq!(g.edge_count(), 1 + 10);
    }

    #[test]
    fn largest_component_keeps_the_tiers() {
        let g = Graph::two_tier(&shape(30, 100, 4), &mut ChaCha8Rng::seed_from_u64(5));
        let lcc = g.largest_component();
        assert_eq!(lcc.leaf_count(), 100);
        assert!((30..130).all(|v| lcc.is_leaf(v)));
    }
}
