//! Undirected overlay graphs: built from edge lists (SNAP files) or generated, with the
//! measures the experiments print (size, links, degrees, components, BFS distances).

use std::collections::VecDeque;
use std::path::Path;

use rand::Rng;

/// An undirected simple graph over nodes `0..n` (no self-loops, no parallel edges).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    adj: Vec<Vec<u32>>,
    edges: usize,
}

/// Errors reading an edge-list file.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected two node IDs, got {text:?}")]
    BadLine {
        path: String,
        line: usize,
        text: String,
    },
}

/// Largest node ID accepted in an edge list: bounds memory for a hostile file.
const MAX_NODE_ID: u64 = 10_000_000;

impl Graph {
    pub fn with_nodes(n: usize) -> Graph {
        Graph {
            adj: vec![Vec::new(); n],
            edges: 0,
        }
    }

    /// Builds a simple graph from an edge list in one pass: self-loops and repeated edges
    /// (in either direction) are dropped, and every adjacency list is allocated at its
    /// exact size and sorted. Linear in the edges after a sort, unlike repeated
    /// [`Graph::add_edge`] (whose duplicate check is linear in the degree, quadratic for a
    /// power-law hub).
    pub fn from_edges(n: usize, mut edges: Vec<(u32, u32)>) -> Graph {
        for e in edges.iter_mut() {
            if e.0 > e.1 {
                *e = (e.1, e.0);
            }
        }
        edges.retain(|&(a, b)| a != b && (b as usize) < n);
        edges.sort_unstable();
        edges.dedup();
        let mut degree = vec![0usize; n];
        for &(a, b) in &edges {
            degree[a as usize] += 1;
            degree[b as usize] += 1;
        }
        let mut adj: Vec<Vec<u32>> = degree.iter().map(|&d| Vec::with_capacity(d)).collect();
        for &(a, b) in &edges {
            adj[a as usize].push(b);
        }
        for &(a, b) in &edges {
            adj[b as usize].push(a);
        }
        for list in adj.iter_mut() {
            list.sort_unstable();
        }
        Graph {
            adj,
            edges: edges.len(),
        }
    }

    pub fn node_count(&self) -> usize {
        self.adj.len()
    }

    pub fn edge_count(&self) -> usize {
        self.edges
    }

    pub fn neighbours(&self, node: usize) -> &[u32] {
        &self.adj[node]
    }

    pub fn degree(&self, node: usize) -> usize {
        self.adj[node].len()
    }

    /// Adds the undirected edge a-b; returns false for a self-loop or an existing edge.
    pub fn add_edge(&mut self, a: usize, b: usize) -> bool {
        if a == b || self.adj[a].contains(&(b as u32)) {
            return false;
        }
        self.adj[a].push(b as u32);
        self.adj[b].push(a as u32);
        self.edges += 1;
        true
    }

    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.adj.iter().enumerate().flat_map(|(a, ns)| {
            ns.iter()
                .map(move |&b| (a, b as usize))
                .filter(|&(a, b)| a < b)
        })
    }

    /// Parses a SNAP edge list: `#` comments, CRLF or LF, `from<TAB>to` (any whitespace).
    /// Edges are undirected; duplicates and self-loops are ignored. Node IDs are
    /// renumbered densely in order of first appearance.
    pub fn parse_edge_list(text: &str, path: &str) -> Result<Graph, TopologyError> {
        let mut ids = std::collections::HashMap::new();
        let mut edges: Vec<(u32, u32)> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace().map(|p| p.parse::<u64>());
            let (Some(Ok(a)), Some(Ok(b))) = (parts.next(), parts.next()) else {
                return Err(TopologyError::BadLine {
                    path: path.to_owned(),
                    line: n + 1,
                    text: line.chars().take(80).collect(),
                });
            };
            if a > MAX_NODE_ID || b > MAX_NODE_ID {
                return Err(TopologyError::BadLine {
                    path: path.to_owned(),
                    line: n + 1,
                    text: line.chars().take(80).collect(),
                });
            }
            let mut index = |id: u64| {
                let next = ids.len() as u32;
                *ids.entry(id).or_insert(next)
            };
            let (a, b) = (index(a), index(b));
            edges.push((a, b));
        }
        Ok(Graph::from_edges(ids.len(), edges))
    }

    pub fn load_edge_list(path: &Path) -> Result<Graph, TopologyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TopologyError::Io {
            path: shown.clone(),
            source,
        })?;
        Graph::parse_edge_list(&text, &shown)
    }

    /// Writes the graph as a SNAP-style edge list.
    pub fn to_edge_list(&self) -> String {
        let mut s = format!(
            "# servent topology\n# Nodes: {} Edges: {}\n",
            self.node_count(),
            self.edge_count()
        );
        for (a, b) in self.edges() {
            s.push_str(&format!("{a}\t{b}\n"));
        }
        s
    }

    /// G(n, m): m distinct edges chosen uniformly at random.
    pub fn gnm<R: Rng>(n: usize, m: usize, rng: &mut R) -> Graph {
        let mut g = Graph::with_nodes(n);
        let max_edges = n.saturating_mul(n.saturating_sub(1)) / 2;
        let m = m.min(max_edges);
        while g.edges < m {
            let a = rng.gen_range(0..n);
            let b = rng.gen_range(0..n);
            g.add_edge(a, b);
        }
        g
    }

    /// A random graph of the given mean degree (G(n, m) with m = n * degree / 2).
    pub fn random_mean_degree<R: Rng>(n: usize, degree: f64, rng: &mut R) -> Graph {
        Graph::gnm(n, (n as f64 * degree / 2.0).round() as usize, rng)
    }

    /// A ring plus `chords` random chords: connected by construction.
    pub fn ring_with_chords<R: Rng>(n: usize, chords: usize, rng: &mut R) -> Graph {
        let mut g = Graph::with_nodes(n);
        for i in 0..n {
            g.add_edge(i, (i + 1) % n);
        }
        let target = g.edges + chords.min(n.saturating_mul(n.saturating_sub(3)) / 2);
        while g.edges < target {
            g.add_edge(rng.gen_range(0..n), rng.gen_range(0..n));
        }
        g
    }

    /// Hop distance from `src` to every node (`u32::MAX` when unreachable).
    pub fn bfs_distances(&self, src: usize) -> Vec<u32> {
        let mut dist = vec![u32::MAX; self.adj.len()];
        let mut queue = VecDeque::from([src]);
        dist[src] = 0;
        while let Some(v) = queue.pop_front() {
            for &w in &self.adj[v] {
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
        let mut label = vec![u32::MAX; self.adj.len()];
        let mut next = 0;
        for s in 0..self.adj.len() {
            if label[s] != u32::MAX {
                continue;
            }
            let mut stack = vec![s];
            label[s] = next;
            while let Some(v) = stack.pop() {
                for &w in &self.adj[v] {
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

    /// The subgraph induced by the largest connected component, renumbered.
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
        let mut map = vec![u32::MAX; self.adj.len()];
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
        Graph::from_edges(n as usize, edges)
    }

    /// Number of nodes of each degree: `histogram[d]` nodes have degree `d`.
    pub fn degree_histogram(&self) -> Vec<usize> {
        let mut h = vec![0usize; self.max_degree() + 1];
        for list in &self.adj {
            h[list.len()] += 1;
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

    pub fn max_degree(&self) -> usize {
        self.adj.iter().map(Vec::len).max().unwrap_or(0)
    }

    pub fn mean_degree(&self) -> f64 {
        if self.adj.is_empty() {
            return 0.0;
        }
        2.0 * self.edges as f64 / self.adj.len() as f64
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
