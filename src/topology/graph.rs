//! The undirected overlay graph every topology is: nodes `0..n` in compressed sparse row
//! form (one offset per node into one array of neighbour indices, no per-node vector),
//! built from a whole edge list at once or from adjacency lists, and, for a two-tier
//! overlay, which nodes are leaves.

/// An undirected simple graph over nodes `0..n` (no self-loops, no parallel edges),
/// stored as CSR: node `v`'s neighbours are `targets[offsets[v]..offsets[v + 1]]`. At
/// 4 bytes per node and 8 per link, a million-node overlay fits in tens of megabytes and
/// threads share it read-only.
#[derive(Debug, Clone)]
pub struct Graph {
    /// `n + 1` offsets into `targets`, nondecreasing, `offsets[0] == 0`.
    offsets: Vec<u32>,
    /// Both ends of every link: each link appears once in each end's range.
    targets: Vec<u32>,
    edges: usize,
    /// `leaf[v]`: node `v` is a leaf of a two-tier overlay. Empty for a flat overlay
    /// (every node a peer of the others, i.e. an ultrapeer).
    leaf: Vec<bool>,
}

impl Default for Graph {
    fn default() -> Self {
        Graph::with_nodes(0)
    }
}

impl Graph {
    /// `n` nodes and no links.
    pub fn with_nodes(n: usize) -> Graph {
        Graph {
            offsets: vec![0; n + 1],
            targets: Vec::new(),
            edges: 0,
            leaf: Vec::new(),
        }
    }

    /// Builds a simple graph from an edge list in one pass: self-loops and repeated edges
    /// (in either direction) are dropped, and every node's neighbours are sorted. Linear
    /// in the edges after a sort, unlike repeated [`Graph::add_edge`] (linear in the
    /// whole graph per call).
    pub fn from_edges(n: usize, mut edges: Vec<(u32, u32)>) -> Graph {
        for e in edges.iter_mut() {
            if e.0 > e.1 {
                *e = (e.1, e.0);
            }
        }
        edges.retain(|&(a, b)| a != b && (b as usize) < n);
        edges.sort_unstable();
        edges.dedup();
        let mut offsets = vec![0u32; n + 1];
        for &(a, b) in &edges {
            offsets[a as usize + 1] += 1;
            offsets[b as usize + 1] += 1;
        }
        prefix_sum(&mut offsets);
        let mut fill: Vec<u32> = offsets[..n].to_vec();
        let mut targets = vec![0u32; 2 * edges.len()];
        // Lower ends first, then higher ends: with the edges sorted by (a, b), each
        // node's list comes out sorted (its smaller neighbours, then its larger ones).
        for &(a, b) in &edges {
            targets[fill[b as usize] as usize] = a;
            fill[b as usize] += 1;
        }
        for &(a, b) in &edges {
            targets[fill[a as usize] as usize] = b;
            fill[a as usize] += 1;
        }
        Graph {
            offsets,
            targets,
            edges: edges.len(),
            leaf: Vec::new(),
        }
    }

    /// Packs adjacency lists (already simple and symmetric, as a builder that checks
    /// each edge makes them) into CSR, keeping each list's order.
    pub(super) fn from_adjacency(adj: Vec<Vec<u32>>) -> Graph {
        let mut offsets = Vec::with_capacity(adj.len() + 1);
        offsets.push(0u32);
        let total: usize = adj.iter().map(Vec::len).sum();
        let mut targets = Vec::with_capacity(total);
        for list in &adj {
            targets.extend_from_slice(list);
            offsets.push(offset(targets.len()));
        }
        Graph {
            offsets,
            targets,
            edges: total / 2,
            leaf: Vec::new(),
        }
    }

    /// Marks the leaves of a two-tier overlay: `leaf[v]` says node `v` is a leaf. Ignored
    /// (the graph stays flat) unless it has one entry per node.
    pub fn set_leaves(&mut self, leaf: Vec<bool>) {
        if leaf.len() == self.node_count() {
            self.leaf = leaf;
        }
    }

    /// Node `node` is a leaf of a two-tier overlay (never, in a flat one).
    pub fn is_leaf(&self, node: usize) -> bool {
        self.leaf.get(node).copied().unwrap_or(false)
    }

    /// The overlay has tiers: some nodes are leaves.
    pub fn is_two_tier(&self) -> bool {
        self.leaf.iter().any(|&l| l)
    }

    /// Leaves in a two-tier overlay (0 in a flat one).
    pub fn leaf_count(&self) -> usize {
        self.leaf.iter().filter(|&&l| l).count()
    }

    /// Links of `node` to non-leaves: its ultrapeer degree (its whole degree in a flat
    /// overlay). Panics if `node` is not below `node_count`.
    pub fn ultrapeer_degree(&self, node: usize) -> usize {
        if self.leaf.is_empty() {
            return self.degree(node);
        }
        self.neighbours(node)
            .iter()
            .filter(|&&b| !self.is_leaf(b as usize))
            .count()
    }

    /// Nodes (servents), `n`.
    pub fn node_count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Undirected links, each counted once.
    pub fn edge_count(&self) -> usize {
        self.edges
    }

    /// The nodes linked to `node`. Panics if `node` is not below `node_count`.
    pub fn neighbours(&self, node: usize) -> &[u32] {
        &self.targets[self.offsets[node] as usize..self.offsets[node + 1] as usize]
    }

    /// Links of `node`. Panics if `node` is not below `node_count`.
    pub fn degree(&self, node: usize) -> usize {
        (self.offsets[node + 1] - self.offsets[node]) as usize
    }

    /// The CSR arrays: `offsets` (`n + 1` of them) and `targets`, node `v`'s neighbours
    /// being `targets[offsets[v]..offsets[v + 1]]` (for tight loops such as a BFS).
    pub fn csr(&self) -> (&[u32], &[u32]) {
        (&self.offsets, &self.targets)
    }

    /// Adds the undirected edge a-b at the end of both nodes' lists; returns false for a
    /// self-loop or an existing edge. Linear in the whole graph (it moves the arrays):
    /// for small graphs and tests; generators build whole edge lists.
    pub fn add_edge(&mut self, a: usize, b: usize) -> bool {
        if a == b || self.neighbours(a).contains(&(b as u32)) {
            return false;
        }
        for (at, other) in [(a, b), (b, a)] {
            let end = self.offsets[at + 1] as usize;
            self.targets.insert(end, other as u32);
            for o in &mut self.offsets[at + 1..] {
                *o += 1;
            }
        }
        self.edges += 1;
        true
    }

    /// Every link once, as `(a, b)` with `a < b`, by `a`.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.node_count()).flat_map(move |a| {
            self.neighbours(a)
                .iter()
                .map(move |&b| (a, b as usize))
                .filter(|&(a, b)| a < b)
        })
    }

    /// The largest degree (0 for an empty graph).
    pub fn max_degree(&self) -> usize {
        (0..self.node_count())
            .map(|v| self.degree(v))
            .max()
            .unwrap_or(0)
    }

    /// Mean links per node, 2 x edges / nodes (0 for an empty graph).
    pub fn mean_degree(&self) -> f64 {
        if self.node_count() == 0 {
            return 0.0;
        }
        2.0 * self.edges as f64 / self.node_count() as f64
    }

    /// Bytes the adjacency holds (offsets and targets), for memory reports.
    pub fn heap_bytes(&self) -> usize {
        4 * (self.offsets.capacity() + self.targets.capacity()) + self.leaf.capacity()
    }
}

/// A link-end count as a CSR offset. Panics past 2^32 link ends (two billion links),
/// far beyond any overlay the simulator can run.
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("more than 2^32 link ends")
}

/// Turns per-node counts in `v[1..]` into running offsets.
fn prefix_sum(v: &mut [u32]) {
    for i in 1..v.len() {
        v[i] = v[i]
            .checked_add(v[i - 1])
            .expect("more than 2^32 link ends");
    }
}

/// Adjacency lists under construction, one edge at a time, with the duplicate check
/// [`Graph::add_edge`] makes; for generators that draw edges until enough are distinct.
pub(super) struct AdjacencyBuilder {
    adj: Vec<Vec<u32>>,
    edges: usize,
}

impl AdjacencyBuilder {
    /// `n` nodes and no links.
    pub(super) fn new(n: usize) -> AdjacencyBuilder {
        AdjacencyBuilder {
            adj: vec![Vec::new(); n],
            edges: 0,
        }
    }

    /// Adds a-b unless it is a self-loop or already there (then false).
    pub(super) fn add_edge(&mut self, a: usize, b: usize) -> bool {
        if a == b || self.adj[a].contains(&(b as u32)) {
            return false;
        }
        self.adj[a].push(b as u32);
        self.adj[b].push(a as u32);
        self.edges += 1;
        true
    }

    /// Distinct links so far.
    pub(super) fn edge_count(&self) -> usize {
        self.edges
    }

    /// The graph, each node's neighbours in the order they were added.
    pub(super) fn build(self) -> Graph {
        Graph::from_adjacency(self.adj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_edges_drops_loops_and_repeats_and_sorts() {
        let g = Graph::from_edges(4, vec![(2, 0), (0, 2), (1, 1), (3, 0), (0, 1), (9, 1)]);
        assert_eq!(g.edge_count(), 3);
        assert_eq!(g.neighbours(0), &[1, 2, 3]);
        assert_eq!(g.neighbours(2), &[0]);
        assert_eq!(g.degree(1), 1);
        assert_eq!(g.edges().collect::<Vec<_>>(), vec![(0, 1), (0, 2), (0, 3)]);
    }

    #[test]
    fn add_edge_appends_in_order_and_refuses_repeats() {
        let mut g = Graph::with_nodes(3);
        assert!(g.add_edge(0, 2));
        assert!(g.add_edge(0, 1));
        assert!(!g.add_edge(1, 0));
        assert!(!g.add_edge(2, 2));
        assert_eq!(g.neighbours(0), &[2, 1]);
        assert_eq!(g.neighbours(1), &[0]);
        assert_eq!(g.edge_count(), 2);
        let mut b = AdjacencyBuilder::new(3);
        b.add_edge(0, 2);
        b.add_edge(0, 1);
        let built = b.build();
        assert_eq!(built.csr(), g.csr());
    }
}
