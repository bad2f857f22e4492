//! Many servents in one process on 127.0.0.1, linked as a given graph: what `servent mesh`,
//! `servent demo` and the network tests run. Links are opened by the lower-numbered node
//! of each edge; counters are summed across servents for exact network-wide totals.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::future::join_all;
use futures::StreamExt;

use crate::core::strategy::{NetworkTraffic, QueryCost, Strategy};
use crate::core::Stats;
use crate::proto::payload::Query;
use crate::proto::Guid;
use crate::topology::Graph;

use super::config::NodeConfig;
use super::node::{Node, NodeShare};
use super::state::{SearchEvent, SearchHit};
use crate::rt;

/// Connects opened at once while building a mesh: bounded so a big mesh does not
/// overflow the listeners' accept backlogs.
const PARALLEL_CONNECTS: usize = 64;

/// Running servents linked as a graph: servent `i` is graph node `i`.
pub struct Mesh {
    /// The servents, by graph node index.
    pub nodes: Vec<Node>,
    /// The links asked for (each edge one Gnutella connection).
    pub graph: Graph,
}

/// Why a mesh could not be built or a search over it failed.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    /// A servent could not bind its port.
    #[error("cannot start servent {node}: {source}")]
    Start {
        /// Index of the servent.
        node: usize,
        /// The bind error.
        source: std::io::Error,
    },
    /// A search did not end within the time given; holds its ID.
    #[error("search {0} did not end in time")]
    SearchTimeout(Guid),
    /// An edge's connect or handshake failed.
    #[error("link {a}-{b} failed: {source}")]
    Link {
        /// The servent that connected (the lower index).
        a: usize,
        /// The servent connected to.
        b: usize,
        /// Why the connect failed.
        source: super::connect::ConnectError,
    },
}

impl Mesh {
    /// Starts one servent per graph node (configured by `config(i)`) and links the edges.
    pub async fn start(
        graph: Graph,
        config: impl FnMut(usize) -> NodeConfig,
    ) -> Result<Mesh, MeshError> {
        Mesh::start_sharing(graph, config, |_| NodeShare::Nothing).await
    }

    /// As [`Mesh::start`], with `share(i)` saying what node `i` shares.
    pub async fn start_sharing(
        graph: Graph,
        mut config: impl FnMut(usize) -> NodeConfig,
        mut share: impl FnMut(usize) -> NodeShare,
    ) -> Result<Mesh, MeshError> {
        let mut nodes = Vec::with_capacity(graph.node_count());
        for i in 0..graph.node_count() {
            let node = Node::start_shared(config(i), share(i))
                .await
                .map_err(|source| MeshError::Start { node: i, source })?;
            nodes.push(node);
        }
        let mesh = Mesh { nodes, graph };
        mesh.link_edges().await?;
        Ok(mesh)
    }

    async fn link_edges(&self) -> Result<(), MeshError> {
        let edges: Vec<(usize, usize)> = self.graph.edges().collect();
        for chunk in edges.chunks(PARALLEL_CONNECTS) {
            let results = join_all(chunk.iter().map(|&(a, b)| {
                let node = self.nodes[a].clone();
                let addr = self.nodes[b].listen_addr();
                async move { (a, b, node.connect(addr).await) }
            }))
            .await;
            for (a, b, r) in results {
                r.map_err(|source| MeshError::Link { a, b, source })?;
            }
        }
        Ok(())
    }

    /// Graph node index of each servent, by its listening address.
    pub fn addr_index(&self) -> HashMap<SocketAddr, usize> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.listen_addr(), i))
            .collect()
    }

    /// Neighbour indexes of node `i` as the node itself sees them.
    pub fn neighbours_of(&self, i: usize) -> Vec<usize> {
        let index = self.addr_index();
        let mut v: Vec<usize> = self.nodes[i]
            .neighbours()
            .iter()
            .filter_map(|a| index.get(a).copied())
            .collect();
        v.sort_unstable();
        v
    }

    /// Both ends of every link registered (the acceptor side finishes last).
    pub async fn wait_linked(&self, within: Duration) -> bool {
        let want: Vec<usize> = (0..self.graph.node_count())
            .map(|i| self.graph.degree(i))
            .collect();
        wait_until(within, || {
            self.nodes
                .iter()
                .zip(&want)
                .all(|(n, &w)| n.neighbour_count() >= w)
        })
        .await
    }

    /// Sum of every servent's core counters.
    pub fn total_stats(&self) -> Stats {
        let mut total = Stats::default();
        for n in &self.nodes {
            n.with_servent(|s| total.add(s.stats()));
        }
        total
    }

    /// Waits until the network-wide received count stops changing for `quiet` (all
    /// descriptors in flight delivered), at most `within`. Returns whether it settled.
    pub async fn wait_quiet(&self, quiet: Duration, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let total = |m: &Mesh| -> u64 { m.total_stats().received.iter().sum() };
        let mut last = total(self);
        let mut since = Instant::now();
        while Instant::now() < deadline {
            rt::sleep(Duration::from_millis(10)).await;
            let now_total = total(self);
            if now_total != last {
                last = now_total;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return true;
            }
        }
        false
    }

    /// Runs a search from servent `from` until it ends, lets in-flight traffic settle, and
    /// returns its hits and its cost with network-wide totals summed over every servent's
    /// per-query counters (exact: every descriptor sent for the search is counted once).
    pub async fn search(
        &self,
        from: usize,
        query: Query,
        strategy: Strategy,
        within: Duration,
    ) -> Result<(Vec<SearchHit>, QueryCost), MeshError> {
        let (id, mut events) = self.nodes[from].search(query, strategy);
        let deadline = Instant::now() + within;
        let mut hits = Vec::new();
        let mut cost = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rt::timeout(left, events.next()).await {
                Ok(Some(SearchEvent::Hit(h))) => hits.push(h),
                Ok(Some(SearchEvent::Done(cost))) => break *cost,
                _ => return Err(MeshError::SearchTimeout(id.0)),
            }
        };
        // Hits and checks still in flight when the search ended count too.
        self.wait_quiet(Duration::from_millis(200), within).await;
        while let Ok(SearchEvent::Hit(h)) = events.try_recv() {
            hits.push(h);
        }
        cost.set_network(&self.network_traffic(&cost.guids));
        Ok((hits, cost))
    }

    /// Sums every servent's per-query counters for the given descriptor IDs.
    pub fn network_traffic(&self, guids: &[Guid]) -> NetworkTraffic {
        NetworkTraffic::sum(
            self.nodes
                .iter()
                .map(|n| move |g: &Guid| n.query_traffic(g)),
            guids,
        )
    }

    /// Shuts every servent down at once (see [`Node::shutdown`]).
    pub async fn shutdown(&self) {
        join_all(self.nodes.iter().map(|n| n.shutdown())).await;
    }
}

/// What a Ping flood sent into a mesh from a servent outside it found
/// ([`Mesh::ping_check`]). Counts are of distinct servents of the mesh.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PingCheck {
    /// The Ping's TTL as the outside servent sent it.
    pub ttl: u8,
    /// The mesh servent the outside one is linked to.
    pub entry: usize,
    /// Servents of the mesh.
    pub servents: usize,
    /// Servents the Ping can reach: at most `ttl - 1` links from the entry (the link
    /// from outside takes one).
    pub within_ttl: usize,
    /// Servents whose Pong came back.
    pub answered: usize,
    /// Of those, servents within the TTL (all of them, unless routing is broken).
    pub answered_within_ttl: usize,
    /// `answered_within_ttl / within_ttl`.
    pub fraction: f64,
    /// From sending the Ping until the last Pong arrived.
    pub seconds: f64,
}

/// A Ping check waits this long after the last Pong before it counts (the flood and its
/// Pongs have settled).
const PING_QUIET: Duration = Duration::from_secs(2);

impl Mesh {
    /// Starts one more servent outside the mesh, links it to servent `entry` only, sends a
    /// Ping with `ttl` from it and counts which servents' Pongs come back (each answers
    /// once: with pong caching off in the mesh, the Ping floods). Waits until no Pong came
    /// for a moment, at most `within`. The outside servent is shut down after.
    pub async fn ping_check(
        &self,
        entry: usize,
        ttl: u8,
        within: Duration,
    ) -> Result<PingCheck, MeshError> {
        let outside = self.nodes.len();
        let prober = Node::start_plain(NodeConfig {
            min_peers: 0,
            compress: false,
            max_ttl: ttl.max(crate::core::config::DEFAULT_MAX_TTL),
            ..NodeConfig::default()
        })
        .await
        .map_err(|source| MeshError::Start {
            node: outside,
            source,
        })?;
        let addr = self.nodes[entry].listen_addr();
        prober
            .connect(addr)
            .await
            .map_err(|source| MeshError::Link {
                a: outside,
                b: entry,
                source,
            })?;
        let index = self.addr_index();
        let dist = self.graph.bfs_distances(entry);
        let reach = u32::from(ttl.saturating_sub(1));
        let started = Instant::now();
        let deadline = started + within;
        let (_, mut pongs) = prober.ping(ttl);
        let mut seen = vec![false; self.nodes.len()];
        let mut last = started;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rt::timeout(left.min(PING_QUIET), pongs.next()).await {
                Ok(Some(pong)) => {
                    let from = SocketAddr::from((pong.ip, pong.port));
                    if let Some(&i) = index.get(&from) {
                        seen[i] = true;
                        last = Instant::now();
                    }
                }
                _ => break,
            }
        }
        prober.shutdown().await;
        let within_ttl = dist.iter().filter(|&&d| d <= reach).count();
        let answered = seen.iter().filter(|&&s| s).count();
        let answered_within_ttl = (0..seen.len())
            .filter(|&i| seen[i] && dist[i] <= reach)
            .count();
        Ok(PingCheck {
            ttl,
            entry,
            servents: self.nodes.len(),
            within_ttl,
            answered,
            answered_within_ttl,
            fraction: answered_within_ttl as f64 / within_ttl.max(1) as f64,
            seconds: last.duration_since(started).as_secs_f64(),
        })
    }
}

/// Polls `cond` every few milliseconds until it holds or `within` passes. Returns whether
/// it held: a wait for an outcome with a deadline, never a fixed sleep.
pub async fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        rt::sleep(Duration::from_millis(5)).await;
    }
}
