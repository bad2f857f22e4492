//! SNAP edge lists (the `p2p-Gnutella*.txt` files under `data/`): reading them into a
//! [`Graph`], with a bound on node IDs for hostile files, and writing a graph back out.

use std::fmt;
use std::path::Path;

use super::graph::Graph;

/// Errors reading an edge-list file.
#[derive(Debug)]
pub enum TopologyError {
    /// The file could not be read (missing, unreadable, not UTF-8).
    Io {
        /// The file, as displayed.
        path: String,
        /// The read error.
        source: std::io::Error,
    },
    /// A line that is not two node IDs, or names a node ID above 10,000,000.
    BadLine {
        /// The file, as displayed.
        path: String,
        /// Line number, from 1.
        line: usize,
        /// The line's first 80 characters.
        text: String,
    },
}

impl fmt::Display for TopologyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopologyError::Io { path, source } => write!(f, "cannot read {path}: {source}"),
            TopologyError::BadLine { path, line, text } => {
                write!(f, "{path}:{line}: expected two node IDs, got {text:?}")
            }
        }
    }
}

impl std::error::Error for TopologyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TopologyError::Io { source, .. } => Some(source),
            TopologyError::BadLine { .. } => None,
        }
    }
}

/// Largest node ID accepted in an edge list: bounds memory for a hostile file.
const MAX_NODE_ID: u64 = 10_000_000;

impl Graph {
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

    /// Reads and parses the SNAP edge list at `path` (see [`Graph::parse_edge_list`]).
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
}
