//! The undirected overlay graph every topology is: nodes `0..n`, a sorted adjacency list
//! per node, built one edge at a time or from a whole edge list at once, and, for a
//! two-tier overlay, which nodes are leaves.

/// An undirected simple graph over nodes `0..n` (no self-loops, no parallel edges).
#[derive(Debug, Clone, Default)]
pub struct Graph {
    adj: Vec<Vec<u32>>,
    edges: usize,
    /// `leaf[v]`: node `v` is a leaf of a two-tier overlay. Empty for a flat overlay
    /// (every node a peer of the others, i.e. an ultrapeer).
    leaf: Vec<bool>,
}

impl Graph {
    /// `n` nodes and no links.
    pub fn with_nodes(n: usize) -> Graph {
        Graph {
            adj: vec![Vec::new(); n],
            edges: 0,
            leaf: Vec::new(),
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
            leaf: Vec::new(),
        }
    }

    /// Marks the leaves of a two-tier overlay: `leaf[v]` says node `v` is a leaf. Ignored
    /// (the graph stays flat) unless it has one entry per node.
    pub fn set_leaves(&mut self, leaf: Vec<bool>) {
        if leaf.len() == self.adj.len() {
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
        self.adj[node]
            .iter()
            .filter(|&&b| !self.is_leaf(b as usize))
            .count()
    }

    /// Nodes (servents), `n`.
    pub fn node_count(&self) -> usize {
        self.adj.len()
    }

    /// Undirected links, each counted once.
    pub fn edge_count(&self) -> usize {
        self.edges
    }

    /// The nodes linked to `node`. Panics if `node` is not below `node_count`.
    pub fn neighbours(&self, node: usize) -> &[u32] {
        &self.adj[node]
    }

    /// Links of `node`. Panics if `node` is not below `node_count`.
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

    /// Every link once, as `(a, b)` with `a < b`, by `a`.
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.adj.iter().enumerate().flat_map(|(a, ns)| {
            ns.iter()
                .map(move |&b| (a, b as usize))
                .filter(|&(a, b)| a < b)
        })
    }

    /// The largest degree (0 for an empty graph).
    pub fn max_degree(&self) -> usize {
        self.adj.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// Mean links per node, 2 x edges / nodes (0 for an empty graph).
    pub fn mean_degree(&self) -> f64 {
        if self.adj.is_empty() {
            return 0.0;
        }
        2.0 * self.edges as f64 / self.adj.len() as f64
    }
}
