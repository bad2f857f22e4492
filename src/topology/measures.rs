//! Measures of a [`Graph`] the experiments print and the tests check: BFS distances,
//! connected components (and the largest one as its own graph), degree histogram,
//! eccentricity, and the exact message cost of a flood.

use std::collections::VecDeque;

use super::graph::Graph;

impl Graph {
    /// Hop distance from `src` to every node (`u32::MAX` when unreachable).
    pub fn bfs_distances(&self, src: usize) -> Vec<u32> {
        let mut dist = vec![u32::MAX; self.node_count()];
        let mut queue = VecDeque::from([src]);
        dist[src] = 0;
        while let Some(v) = queue.pop_front() {
            for &w in self.neighbours(v) {
                let w = w as usize;
                if dist[w] == u32::MAX {
                    dist[w] = dist[v] + 1;
                    queue.push_back(w);
                }
            }
        }
        dist
    }

    /// Component label of every node, labels numbered by first node.
    pub fn components(&self) -> Vec<u32> {
        let mut label = vec![u32::MAX; self.node_count()];
        let mut next = 0;
        for s in 0..self.node_count() {
            if label[s] != u32::MAX {
                continue;
            }
            let mut stack = vec![s];
            label[s] = next;
            while let Some(v) = stack.pop() {
                for &w in self.neighbours(v) {
                    if label[w as usize] == u32::MAX {
                        label[w as usize] = next;
                        stack.push(w as usize);
                    }
                }
            }
            next += 1;
        }
        label
    }

    /// Component sizes, largest first.
    pub fn component_sizes(&self) -> Vec<usize> {
        let labels = self.components();
        let mut sizes = vec![0usize; labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0)];
        for l in labels {
            sizes[l as usize] += 1;
        }
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes
    }

    /// The subgraph induced by the largest connected component, renumbered (leaves stay
    /// leaves).
    pub fn largest_component(&self) -> Graph {
        let labels = self.components();
        let mut counts = std::collections::HashMap::new();
        for &l in &labels {
            *counts.entry(l).or_insert(0usize) += 1;
        }
        let Some((&best, _)) = counts
            .iter()
            .max_by_key(|(l, c)| (**c, std::cmp::Reverse(**l)))
        else {
            return Graph::default();
        };
        let mut map = vec![u32::MAX; self.node_count()];
        let mut n = 0;
        for (v, &l) in labels.iter().enumerate() {
            if l == best {
                map[v] = n;
                n += 1;
            }
        }
        let edges = self
            .edges()
            .filter(|&(a, _)| map[a] != u32::MAX)
            .map(|(a, b)| (map[a], map[b]))
            .collect();
        let mut g = Graph::from_edges(n as usize, edges);
        if self.is_two_tier() {
            g.set_leaves(
                (0..self.node_count())
                    .filter(|&v| map[v] != u32::MAX)
                    .map(|v| self.is_leaf(v))
                    .collect(),
            );
        }
        g
    }

    /// Number of nodes of each degree: `histogram[d]` nodes have degree `d`.
    pub fn degree_histogram(&self) -> Vec<usize> {
        let mut h = vec![0usize; self.max_degree() + 1];
        for v in 0..self.node_count() {
            h[self.degree(v)] += 1;
        }
        h
    }

    /// Largest hop distance from `src` to a node it reaches.
    pub fn eccentricity(&self, src: usize) -> u32 {
        self.bfs_distances(src)
            .into_iter()
            .filter(|&d| d != u32::MAX)
            .max()
            .unwrap_or(0)
    }

    /// Query descriptors a flood with `ttl` from `origin` costs at unit latency, from the
    /// graph alone: the origin sends one to each neighbour; every servent at distance
    /// 1..ttl-1 relays one to each neighbour but the one it first heard it from. With a TTL
    /// that covers a connected graph this is 2E - (N - 1). Tests hold the core to it.
    pub fn flood_cost(&self, origin: usize, ttl: u32) -> u64 {
        let dist = self.bfs_distances(origin);
        let relays: u64 = (0..self.node_count())
            .filter(|&v| v != origin && dist[v] >= 1 && dist[v] < ttl)
            .map(|v| self.degree(v) as u64 - 1)
            .sum();
        self.degree(origin) as u64 + relays
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flood_cost_on_a_path() {
        // Path 0-1-2-3 from 0: TTL 1 costs 1; TTL 2 adds servent 1's relay; TTL 3 covers it.
        let mut g = Graph::with_nodes(4);
        for i in 0..3 {
            g.add_edge(i, i + 1);
        }
        assert_eq!([1, 2, 3].map(|t| g.flood_cost(0, t)), [1, 2, 3]);
        assert_eq!(g.flood_cost(0, 7), 2 * 3 - (4 - 1));
    }
}
