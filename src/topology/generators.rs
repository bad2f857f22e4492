//! Topology generators: G(n, m) and its mean-degree form, a ring with random chords, the
//! power-law random graph (configuration model), Barabasi-Albert preferential attachment
//! and the 2D grid. Each takes the RNG it draws from, so a seed fixes the graph.

use rand::seq::SliceRandom;
use rand::Rng;

use super::graph::{AdjacencyBuilder, Graph};

impl Graph {
    /// G(n, m): m distinct edges chosen uniformly at random.
    pub fn gnm<R: Rng>(n: usize, m: usize, rng: &mut R) -> Graph {
        let mut g = AdjacencyBuilder::new(n);
        let max_edges = n.saturating_mul(n.saturating_sub(1)) / 2;
        let m = m.min(max_edges);
        while g.edge_count() < m {
            let a = rng.gen_range(0..n);
            let b = rng.gen_range(0..n);
            g.add_edge(a, b);
        }
        g.build()
    }

    /// A random graph of the given mean degree (G(n, m) with m = n * degree / 2).
    pub fn random_mean_degree<R: Rng>(n: usize, degree: f64, rng: &mut R) -> Graph {
        Graph::gnm(n, (n as f64 * degree / 2.0).round() as usize, rng)
    }

    /// A ring plus `chords` random chords: connected by construction.
    pub fn ring_with_chords<R: Rng>(n: usize, chords: usize, rng: &mut R) -> Graph {
        let mut g = AdjacencyBuilder::new(n);
        for i in 0..n {
            g.add_edge(i, (i + 1) % n);
        }
        let target = g.edge_count() + chords.min(n.saturating_mul(n.saturating_sub(3)) / 2);
        while g.edge_count() < target {
            g.add_edge(rng.gen_range(0..n), rng.gen_range(0..n));
        }
        g.build()
    }

    /// Power-law random graph (PLRG) by the configuration model: every node draws a
    /// degree `k` in `[min_degree, max_degree]` with probability proportional to
    /// `k^-exponent`, the half-edges ("stubs") are paired uniformly at random, and
    /// self-loops and repeated edges are erased (so hubs end a little below their draw).
    /// `max_degree` is capped at `n - 1`. Small components appear when `min_degree` is 1;
    /// [`Graph::largest_component`] keeps the giant one.
    pub fn plrg<R: Rng>(
        n: usize,
        exponent: f64,
        min_degree: usize,
        max_degree: usize,
        rng: &mut R,
    ) -> Graph {
        if n < 2 {
            return Graph::with_nodes(n);
        }
        let lo = min_degree.max(1);
        let hi = max_degree.clamp(lo, n - 1);
        // Cumulative weights of k = lo..=hi, sampled by binary search.
        let mut cumulative = Vec::with_capacity(hi - lo + 1);
        let mut total = 0.0;
        for k in lo..=hi {
            total += (k as f64).powf(-exponent);
            cumulative.push(total);
        }
        let mut stubs: Vec<u32> = Vec::new();
        for v in 0..n {
            let x = rng.gen::<f64>() * total;
            let i = cumulative
                .partition_point(|&c| c < x)
                .min(cumulative.len() - 1);
            let k = lo + i;
            stubs.extend(std::iter::repeat_n(v as u32, k));
        }
        if stubs.len() % 2 == 1 {
            // An odd stub count cannot be paired: give one random node one more link.
            stubs.push(rng.gen_range(0..n) as u32);
        }
        stubs.shuffle(rng);
        let edges = stubs.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        Graph::from_edges(n, edges)
    }

    /// Barabasi-Albert preferential attachment: a clique of `m + 1` nodes, then every new
    /// node links to `m` distinct existing nodes chosen with probability proportional to
    /// their degree. Connected, `m * (n - m - 1) + m (m + 1) / 2` links.
    pub fn barabasi_albert<R: Rng>(n: usize, m: usize, rng: &mut R) -> Graph {
        let m = m.max(1);
        let seed_nodes = (m + 1).min(n);
        let mut edges: Vec<(u32, u32)> = Vec::new();
        // Every edge end once: a uniform pick from it is a degree-proportional pick.
        let mut ends: Vec<u32> = Vec::new();
        for a in 0..seed_nodes {
            for b in a + 1..seed_nodes {
                edges.push((a as u32, b as u32));
                ends.extend([a as u32, b as u32]);
            }
        }
        let mut chosen: Vec<u32> = Vec::with_capacity(m);
        for v in seed_nodes..n {
            chosen.clear();
            while chosen.len() < m {
                let t = ends[rng.gen_range(0..ends.len())];
                if !chosen.contains(&t) {
                    chosen.push(t);
                }
            }
            for &t in &chosen {
                edges.push((v as u32, t));
                ends.extend([v as u32, t]);
            }
        }
        Graph::from_edges(n, edges)
    }

    /// A `width` x `height` grid: each node linked to its 4 lattice neighbours (fewer on
    /// the border). Node `(x, y)` is `y * width + x`.
    pub fn grid(width: usize, height: usize) -> Graph {
        let mut edges = Vec::with_capacity(2 * width * height);
        for y in 0..height {
            for x in 0..width {
                let v = (y * width + x) as u32;
                if x + 1 < width {
                    edges.push((v, v + 1));
                }
                if y + 1 < height {
                    edges.push((v, v + width as u32));
                }
            }
        }
        Graph::from_edges(width * height, edges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn grid_has_the_lattice_link_count_and_corner_degrees() {
        let g = Graph::grid(5, 3);
        assert_eq!(g.node_count(), 15);
        assert_eq!(g.edge_count(), 4 * 3 + 5 * 2);
        assert_eq!(g.degree(0), 2);
        assert_eq!(g.degree(6), 4);
        assert_eq!(g.eccentricity(0), 4 + 2);
    }

    #[test]
    fn barabasi_albert_is_connected_with_the_expected_links() {
        let g = Graph::barabasi_albert(500, 3, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(g.edge_count(), 3 * (500 - 4) + 6);
        assert_eq!(g.component_sizes(), vec![500]);
        assert!(g.max_degree() > 30, "hubs: max degree {}", g.max_degree());
    }

    #[test]
    fn plrg_degrees_follow_the_power_law_roughly() {
        let g = Graph::plrg(
            20_000,
            2.1,
            1,
            usize::MAX,
            &mut ChaCha8Rng::seed_from_u64(2),
        );
        let h = g.degree_histogram();
        // P(1) / P(2) = 2^2.1 = 4.3 before erasure; allow slack for erased links.
        let ratio = h[1] as f64 / h[2] as f64;
        assert!((3.0..6.0).contains(&ratio), "ratio {ratio}");
        assert!(g.max_degree() > 300, "max degree {}", g.max_degree());
        let mean = g.mean_degree();
        assert!((2.5..6.0).contains(&mean), "mean degree {mean}");
    }
}
