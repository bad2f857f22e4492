//! Runs search strategies over a simulated network and measures what each query cost:
//! descriptors on the wire by type, distinct servents reached, duplicates, hits and the
//! hops to the first hit. Queries run one at a time (each to quiescence), so the network
//! counters' difference across a query is exactly that query's cost.
//!
//! Memory: every query leaves a route entry (its GUID) in each servent it reached, and
//! with route lifetimes of minutes of virtual time nothing would expire over a run of
//! thousands of millisecond-long queries. The simulator's servents therefore get a small
//! route-table capacity ([`SIM_ROUTE_TABLE_CAPACITY`]): a query in progress only needs
//! its own (newest) entries, the oldest are evicted first, and memory per servent stays
//! at a few hundred bytes whatever the number of queries.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use crate::core::{Config, Event, Servent};
use crate::proto::limits::HARD_MAX_TTL;
use crate::proto::payload::query::QUERY_MAX_HITS_MASK;
use crate::proto::payload::Query;
use crate::proto::{Guid, PayloadType};

use super::network::{Latency, Network, NodeId};
use super::spec::StrategySpec;
use super::topology::Graph;
use super::workload::{object_name, ObjectMatcher, Placement, Workload};

/// Route entries per table in simulated servents: one query at a time needs one entry
/// per servent (an expanding ring one per round), so 16 never evicts a live query's
/// routes and keeps 100,000 servents within a few hundred MB after any number of queries.
pub const SIM_ROUTE_TABLE_CAPACITY: usize = 16;

/// Errors running an experiment.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExperimentError {
    #[error("strategy {0} is not available in this build (only flood is)")]
    Unsupported(String),
    #[error("origin {origin} is not a servent of this {nodes}-servent network")]
    NoSuchOrigin { origin: NodeId, nodes: usize },
}

fn mix(mut x: u64) -> u64 {
    // splitmix64: decorrelates per-servent seeds drawn from one experiment seed.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The seed the workload (placement and queries) is drawn with in an experiment seeded
/// `seed`: independent of the topology's draws from `seed` itself.
pub fn workload_seed(seed: u64) -> u64 {
    mix(seed ^ 0x0057_0F0B_1EC7_5EED)
}

/// The core configuration of simulated servent `node` in an experiment seeded `seed`:
/// a distinct servent ID, address (10.x.y.z:6346) and RNG seed; TTL limit raised to the
/// hard maximum so that `flood:ttl=N` means N hops; small route tables (see
/// [`SIM_ROUTE_TABLE_CAPACITY`]). A TCP mesh that wants the same random choices as the
/// simulator gives its servents these configurations.
pub fn node_config(seed: u64, node: NodeId) -> Config {
    let a = mix(seed ^ mix(node as u64));
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&a.to_le_bytes());
    id[8..].copy_from_slice(&(node as u64).to_le_bytes());
    Config {
        servent_id: Guid::mark_modern(id),
        ip: Ipv4Addr::from(0x0A00_0000 | (node as u32 & 0x00FF_FFFF)),
        port: 6346,
        max_ttl: HARD_MAX_TTL,
        route_table_capacity: SIM_ROUTE_TABLE_CAPACITY,
        seed: mix(a),
        ..Config::default()
    }
}

/// A network of `graph` whose servents share the objects `placement` gives them.
/// Events are kept only for the origin of the query running.
pub fn build_network(
    graph: Graph,
    placement: &Arc<Placement>,
    seed: u64,
    latency: Latency,
) -> Network {
    let mut net = Network::new(graph, seed, |i| node_config(seed, i));
    net.set_latency(latency);
    net.keep_events_for(None);
    for node in 0..net.len() {
        let files = placement.objects_of(node).len() as u32;
        let matcher = ObjectMatcher {
            placement: Arc::clone(placement),
            node,
        };
        net.with_node(node, |s, _| {
            s.set_matcher(Box::new(matcher), files, files * 1024)
        });
    }
    net
}

impl StrategySpec {
    /// Whether this build's core implements the strategy.
    pub fn supported(&self) -> bool {
        matches!(self, StrategySpec::Flood { .. })
    }

    /// Starts a search for `query` at servent `s`, now. Returns the query's GUID.
    pub fn start(
        &self,
        s: &mut Servent,
        now: Duration,
        query: Query,
    ) -> Result<Guid, ExperimentError> {
        match *self {
            StrategySpec::Flood { ttl } => Ok(s.query(now, query, ttl)),
            _ => Err(ExperimentError::Unsupported(self.to_string())),
        }
    }
}

/// What one query cost the whole network, and what it found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueryCost {
    pub origin: u32,
    pub object: u32,
    /// Descriptors put on links while the query ran, by payload type
    /// (indexed by [`PayloadType::index`]).
    pub sent: [u64; PayloadType::ALL.len()],
    /// Query descriptors sent (flood copies, ring rounds, walker steps).
    pub query_messages: u64,
    /// QueryHit descriptors sent (each hop of each hit counts).
    pub hit_messages: u64,
    /// Walker check-backs with the origin.
    pub check_messages: u64,
    /// Distinct servents other than the origin that received the Query.
    pub visited: u64,
    /// Query deliveries to a servent that already had it (`query_messages - visited`).
    pub duplicates: u64,
    /// QueryHits that reached the origin.
    pub hits: u32,
    /// Hops the first QueryHit to reach the origin travelled.
    pub first_hit_hops: Option<u8>,
    /// Virtual time from the query's start to its first hit, in microseconds.
    pub first_hit_delay_us: Option<u64>,
}

impl QueryCost {
    pub fn success(&self) -> bool {
        self.hits > 0
    }

    /// Search traffic: Queries plus checks (what Lv et al. count as messages per query).
    pub fn search_messages(&self) -> u64 {
        self.query_messages + self.check_messages
    }
}

/// The Query a simulated servent sends for `object`, asking for `want_hits` results.
pub fn object_query(object: u32, want_hits: u16) -> Query {
    let mut q = Query::new(&object_name(object));
    q.flags |= want_hits.min(QUERY_MAX_HITS_MASK);
    q
}

/// Runs one query from `origin` for `object` with `strategy` until no descriptor is in
/// flight, and returns its cost. The network must be quiet when called.
pub fn run_query(
    net: &mut Network,
    origin: NodeId,
    object: u32,
    strategy: &StrategySpec,
    want_hits: u16,
) -> Result<QueryCost, ExperimentError> {
    if origin >= net.len() {
        return Err(ExperimentError::NoSuchOrigin {
            origin,
            nodes: net.len(),
        });
    }
    let before = net.sent;
    net.begin_query_epoch(Some(origin));
    net.keep_events_for(Some(origin));
    let _ = net.take_timed_events(origin);
    let started = net.now();
    let query = object_query(object, want_hits);
    let guid = net.with_node(origin, |s, now| strategy.start(s, now, query));
    let guid = match guid {
        Ok(g) => g,
        Err(e) => {
            net.keep_events_for(None);
            return Err(e);
        }
    };
    net.run_until_quiet();
    let mut cost = QueryCost {
        origin: origin as u32,
        object,
        ..QueryCost::default()
    };
    for (i, (after, before)) in net.sent.iter().zip(before).enumerate() {
        cost.sent[i] = after - before;
    }
    cost.query_messages = cost.sent[PayloadType::Query.index()];
    cost.hit_messages = cost.sent[PayloadType::QueryHit.index()];
    cost.visited = net.visited();
    cost.duplicates = cost.query_messages.saturating_sub(cost.visited);
    for (at, event) in net.take_timed_events(origin) {
        if let Event::QueryHit { query, hops, .. } = event {
            if query != guid {
                continue;
            }
            if cost.hits == 0 {
                cost.first_hit_hops = Some(hops);
                cost.first_hit_delay_us = Some((at - started).as_micros() as u64);
            }
            cost.hits += 1;
        }
    }
    net.keep_events_for(None);
    Ok(cost)
}

/// Runs exactly one query on a fresh network of `graph` whose servents are configured by
/// [`node_config`]`(seed, i)`: `holders` share object 0, `origin` searches for it with
/// `strategy`. The cost record is network-wide and exact (unit latency): what a TCP mesh
/// of the same graph and seed must match.
pub fn run_one_query(
    graph: &Graph,
    seed: u64,
    strategy: &StrategySpec,
    origin: NodeId,
    holders: &[NodeId],
    want_hits: u16,
) -> Result<QueryCost, ExperimentError> {
    let holders: Vec<u32> = holders.iter().map(|&h| h as u32).collect();
    let placement = Arc::new(Placement::from_holders(graph.node_count(), &[holders]));
    let mut net = build_network(graph.clone(), &placement, seed, Latency::default());
    run_query(&mut net, origin, 0, strategy, want_hits)
}

/// One strategy's results over a query set.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub strategy: String,
    pub family: &'static str,
    pub queries: usize,
    pub successes: usize,
    pub success_rate: f64,
    /// Mean and 95th percentile of hops to the first hit, over successful queries.
    pub mean_hops: Option<f64>,
    pub p95_hops: Option<u8>,
    /// Search messages (Queries + checks) per query.
    pub messages_per_query: f64,
    pub messages_per_servent_per_query: f64,
    pub hit_messages_per_query: f64,
    pub check_messages_per_query: f64,
    /// Distinct servents reached per query.
    pub visited_per_query: f64,
    /// Duplicate Query deliveries / Query deliveries.
    pub duplicate_ratio: f64,
    /// Most descriptors delivered to one servent over the whole query set.
    pub peak_load: u64,
    /// Mean virtual time to the first hit, in link latencies (hops at unit latency).
    pub mean_first_hit_delay: Option<f64>,
    /// Simulator events (deliveries and timers) processed for this strategy.
    pub events: u64,
}

/// Summarises per-query costs over a network of `nodes` servents.
pub fn summarize(
    strategy: &StrategySpec,
    costs: &[QueryCost],
    nodes: usize,
    peak_load: u64,
    unit: Duration,
    events: u64,
) -> Summary {
    let q = costs.len().max(1) as f64;
    let mut hops: Vec<u8> = costs.iter().filter_map(|c| c.first_hit_hops).collect();
    hops.sort_unstable();
    let successes = hops.len();
    let delays: Vec<u64> = costs.iter().filter_map(|c| c.first_hit_delay_us).collect();
    let sum = |f: fn(&QueryCost) -> u64| costs.iter().map(f).sum::<u64>() as f64;
    let search = sum(|c| c.search_messages());
    let query_msgs = sum(|c| c.query_messages);
    Summary {
        strategy: strategy.to_string(),
        family: strategy.family(),
        queries: costs.len(),
        successes,
        success_rate: successes as f64 / q,
        mean_hops: (successes > 0)
            .then(|| hops.iter().map(|&h| h as f64).sum::<f64>() / successes as f64),
        p95_hops: (successes > 0).then(|| hops[(successes * 95).div_ceil(100) - 1]),
        messages_per_query: search / q,
        messages_per_servent_per_query: search / q / nodes.max(1) as f64,
        hit_messages_per_query: sum(|c| c.hit_messages) / q,
        check_messages_per_query: sum(|c| c.check_messages) / q,
        visited_per_query: sum(|c| c.visited) / q,
        duplicate_ratio: if query_msgs > 0.0 {
            sum(|c| c.duplicates) / query_msgs
        } else {
            0.0
        },
        peak_load,
        mean_first_hit_delay: (!delays.is_empty()).then(|| {
            delays.iter().sum::<u64>() as f64 / delays.len() as f64 / unit.as_micros().max(1) as f64
        }),
        events,
    }
}

/// The latency one hop's delay is measured in for [`Summary::mean_first_hit_delay`].
pub fn latency_unit(latency: Latency) -> Duration {
    match latency {
        Latency::Fixed(d) => d,
        Latency::Uniform(lo, hi) => (lo + hi) / 2,
    }
}

/// Runs every query of `workload` with `strategy` on `net`; calls `progress` after each.
pub fn run_strategy(
    net: &mut Network,
    workload: &Workload,
    strategy: &StrategySpec,
    mut progress: impl FnMut(),
) -> Result<(Summary, Vec<QueryCost>), ExperimentError> {
    net.reset_load();
    let events = net.processed;
    let mut costs = Vec::with_capacity(workload.queries.len());
    for &(origin, object) in &workload.queries {
        costs.push(run_query(
            net,
            origin,
            object,
            strategy,
            workload.spec.want_hits,
        )?);
        progress();
    }
    let peak = net.load().iter().copied().max().unwrap_or(0) as u64;
    let summary = summarize(
        strategy,
        &costs,
        net.len(),
        peak,
        latency_unit(net.latency()),
        net.processed - events,
    );
    Ok((summary, costs))
}
