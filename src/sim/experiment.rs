//! Runs search strategies over a simulated network and measures what each query cost:
//! descriptors on the wire by type, distinct servents reached, duplicates, hits and the
//! hops to the first hit. Queries run one at a time, each until its originator reports
//! `SearchDone` and nothing is in flight, so the network counters' difference across a
//! query is exactly that query's cost (its late hits and checks included).
//!
//! Every query gets its own RNG key: each servent's RNG is reseeded from (key, servent)
//! when the query first reaches it ([`Network::begin_query_epoch`]). A query's walk then
//! depends on the seed and its index alone, so the query set can be split over threads,
//! each with its own network, and still give the same numbers.
//!
//! Memory: every query leaves a route entry (its GUID) in each servent it reached, and
//! with route lifetimes of minutes of virtual time nothing would expire over a run of
//! thousands of millisecond-long queries. The simulator's servents therefore get a small
//! route-table capacity ([`SIM_ROUTE_TABLE_CAPACITY`]): a query in progress only needs
//! its own (newest) entries, the oldest are evicted first, and memory per servent stays
//! bounded whatever the number of queries.

use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::core::strategy::{NetworkTraffic, QueryCost, SearchEnd};
use crate::core::{Config, Event, SharedFiles, Strategy};
use crate::proto::limits::HARD_MAX_TTL;
use crate::proto::payload::query::QUERY_MAX_HITS_MASK;
use crate::proto::payload::Query;
use crate::proto::{Guid, PayloadType};

use super::churn::{Churn, ChurnRun};
use super::network::{mix, Latency, Network, NodeId, ServentFactory};
pub use super::query_cost::SimCost;
use super::spec::StrategyItem;
pub use super::summary::{latency_unit, summarize, Summary};
use super::workload::{object_name, ObjectMatcher, Placement, Workload};
use crate::topology::Graph;

/// Route entries per table in simulated servents: one query at a time needs one entry
/// per servent (an expanding ring one per ring, at most 15), so 16 never evicts a live
/// query's routes and keeps memory per servent bounded after any number of queries.
pub const SIM_ROUTE_TABLE_CAPACITY: usize = 16;

/// Pongs an experiment's servent caches: enough to answer one Ping in full (ten cached
/// Pongs). The cache is allocated at its capacity when a servent is built (about 60 bytes
/// a Pong) and no experiment floods Pings, so the default 100 would cost ~6 KB per
/// servent for nothing.
pub const SIM_PONG_CACHE_CAPACITY: usize = 10;

/// From this many servents up, an experiment at a fixed latency on a flat overlay drops
/// every servent between queries ([`Network::drop_servents`]), so memory holds only the
/// servents one query reaches (a flood reaches most of the network, and a servent costs
/// ~10 KB once its tables hold a query). Below it servents are kept: rebuilding them per
/// query costs time, and memory is no concern.
pub const DROP_SERVENTS_FROM: usize = 200_000;

/// Errors running an experiment.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExperimentError {
    /// A search's origin is not a node of the network (at or above its node count).
    #[error("origin {origin} is not a servent of this {nodes}-servent network")]
    NoSuchOrigin {
        /// The origin asked for.
        origin: NodeId,
        /// Servents in the network.
        nodes: usize,
    },
}

/// The seed the workload (placement and queries) is drawn with in an experiment seeded
/// `seed`: independent of the topology's draws from `seed` itself.
pub fn workload_seed(seed: u64) -> u64 {
    mix(seed ^ 0x0057_0F0B_1EC7_5EED)
}

/// The core configuration of simulated servent `node` in an experiment seeded `seed`:
/// a distinct servent ID, address (10.x.y.z:6346) and RNG seed; TTL limit raised to the
/// hard maximum so that `flood:ttl=N` means N hops; the hop-latency hint set to the
/// link latency (so the first search's timeouts are already right); small route tables
/// (see [`SIM_ROUTE_TABLE_CAPACITY`]).
pub fn node_config(seed: u64, node: NodeId, latency: Latency) -> Config {
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
        hop_latency_hint: latency_unit(latency),
        seed: mix(a),
        ..Config::default()
    }
}

/// The servents of an experiment's network: configured by [`node_config`], sharing the
/// objects a [`Placement`] gives them.
struct SimServents {
    placement: Arc<Placement>,
    seed: u64,
    latency: Latency,
    tables: bool,
}

impl ServentFactory for SimServents {
    fn config(&self, node: NodeId) -> Config {
        Config {
            pong_cache_capacity: SIM_PONG_CACHE_CAPACITY,
            ..node_config(self.seed, node, self.latency)
        }
    }

    fn shared(&self, node: NodeId) -> Option<SharedFiles> {
        let files = self.placement.objects_of(node).len() as u32;
        let matcher = ObjectMatcher {
            placement: Arc::clone(&self.placement),
            node,
        };
        Some(SharedFiles {
            matcher: Box::new(matcher),
            files,
            kbytes: files * 1024,
        })
    }

    fn ultrapeer_tables(&self) -> bool {
        self.tables
    }
}

/// A network of `graph` (servents configured by [`node_config`], with the roles of a
/// two-tier graph) whose servents share the objects `placement` gives them, settled: what
/// links send on opening (leaves' query routing tables) is delivered before it is
/// returned, so no query pays for it. Events are kept only for a running query's origin.
/// Servents are built lazily ([`Network::lazy`]), when traffic first reaches them.
pub fn build_network(
    graph: Graph,
    placement: &Arc<Placement>,
    seed: u64,
    latency: Latency,
) -> Network {
    build_shared_network(Arc::new(graph), placement, seed, latency, false)
}

/// As [`build_network`] on a graph shared with other networks (threads of one
/// experiment): the graph is not copied. With `tables`, the ultrapeers of a flat graph
/// exchange query routing tables as 0.6 ultrapeers do (every servent is then built at
/// settling, to send and hold them): floods' last hops and look-ahead walkers use them.
pub fn build_shared_network(
    graph: Arc<Graph>,
    placement: &Arc<Placement>,
    seed: u64,
    latency: Latency,
    tables: bool,
) -> Network {
    let servents = SimServents {
        placement: Arc::clone(placement),
        seed,
        latency,
        tables,
    };
    let mut net = Network::lazy(graph, seed, Arc::new(servents));
    net.set_latency(latency);
    net.keep_events_for(None);
    net.settle();
    net
}

/// One search's outcome: the simulator's link counts and the origin's own record.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutcome {
    /// What the simulator counted on the links while the search ran.
    pub sim: SimCost,
    /// The origin's cost record from `SearchDone` (`None` if the search never ended),
    /// made network-wide with every servent's per-query counters when asked.
    pub cost: Option<QueryCost>,
}

/// The Query a simulated servent sends for `object`, asking for `want_hits` results
/// (0: no limit).
pub fn object_query(object: u32, want_hits: u16) -> Query {
    let mut q = Query::new(&object_name(object));
    q.flags |= want_hits.min(QUERY_MAX_HITS_MASK);
    q
}

/// Runs one search from `origin` with `strategy` until the origin reports `SearchDone`
/// and no descriptor is in flight, skipping virtual time to the next timer whenever the
/// network is quiet (ring timeouts, walker deadlines). `rng_key` reseeds the servents for
/// this query (see [`Network::begin_query_epoch`]); `network_wide` sums every servent's
/// per-query counters into the origin's record (exact, but it visits every servent).
pub fn run_search(
    net: &mut Network,
    origin: NodeId,
    query: Query,
    strategy: &Strategy,
    rng_key: Option<u64>,
    network_wide: bool,
) -> Result<SearchOutcome, ExperimentError> {
    let churn = Churn::NONE;
    run_search_with(net, origin, query, strategy, rng_key, network_wide, churn)
}

/// [`run_search`] with servents leaving and joining while it runs ([`Churn`], drawn from
/// `rng_key`; those still down at the end come back before this returns).
pub fn run_search_with(
    net: &mut Network,
    origin: NodeId,
    query: Query,
    strategy: &Strategy,
    rng_key: Option<u64>,
    network_wide: bool,
    churn: Churn,
) -> Result<SearchOutcome, ExperimentError> {
    if origin >= net.len() {
        return Err(ExperimentError::NoSuchOrigin {
            origin,
            nodes: net.len(),
        });
    }
    let before = net.sent;
    net.begin_query_epoch(Some(origin), rng_key);
    net.keep_events_for(Some(origin));
    let _ = net.take_timed_events(origin);
    let started = net.now();
    let id = net.with_node(origin, |s, now| s.search(now, query, *strategy));
    let mut churn = ChurnRun::start(churn, net, origin, rng_key);
    let mut sim = SimCost {
        origin: origin as u32,
        ..SimCost::default()
    };
    let mut done: Option<QueryCost> = None;
    loop {
        churn.run_until_quiet(net);
        for (at, event) in net.take_timed_events(origin) {
            match event {
                Event::QueryHit { search, hops, .. } if search == id => {
                    if sim.hits == 0 {
                        sim.first_hit_hops = Some(hops);
                        sim.first_hit_delay_us = Some((at - started).as_micros() as u64);
                    }
                    sim.hits += 1;
                }
                Event::SearchDone { id: done_id, cost } if done_id == id => done = Some(cost),
                _ => {}
            }
        }
        if done.is_some() && net.in_flight() == 0 {
            break;
        }
        // Quiet but not done: the search waits on a timer. Jump to it.
        match net.next_event_at() {
            Some(at) => churn.run_until(net, at),
            None => break,
        }
    }
    net.keep_events_for(None);
    sim.duration_us = (net.now() - started).as_micros() as u64;
    for (i, (after, before)) in net.sent.iter().zip(before).enumerate() {
        sim.sent[i] = after - before;
    }
    sim.query_messages = sim.sent[PayloadType::Query.index()];
    sim.hit_messages = sim.sent[PayloadType::QueryHit.index()];
    sim.check_messages = sim.sent[PayloadType::Vendor.index()];
    sim.visited = net.visited();
    sim.duplicates = sim.query_messages.saturating_sub(sim.visited);
    if let Some(cost) = &mut done {
        sim.rings = cost.rings;
        sim.walkers = cost.walkers;
        sim.first_hit_steps = cost.first_hit_steps;
        sim.checks = cost.checks_answered;
        sim.satisfied = cost.end == Some(SearchEnd::Satisfied);
        if network_wide {
            let now = net.now();
            // Servents never built saw no traffic: their tables would add nothing.
            let traffic = NetworkTraffic::sum(
                net.built_servents()
                    .map(|(_, s)| move |g: &Guid| s.query_traffic(g, now)),
                &cost.guids,
            );
            cost.set_network(&traffic);
        }
    }
    sim.churn = churn.finish(net);
    Ok(SearchOutcome { sim, cost: done })
}

/// Runs exactly one search on a fresh network of `graph` whose servents are configured
/// by [`node_config`]`(seed, i, unit latency)`: `holders` share object 0 (query text
/// `obj0`), `origin` searches for it with `strategy`, asking for `want_hits` results.
/// Returns the simulator's link counts and the origin's record made network-wide by
/// summing every servent's per-query counters, the same sum a TCP mesh makes: with the
/// same graph and seed the two must agree.
pub fn run_one_query(
    graph: &Graph,
    seed: u64,
    strategy: &Strategy,
    origin: NodeId,
    holders: &[NodeId],
    want_hits: u16,
) -> Result<SearchOutcome, ExperimentError> {
    let holders: Vec<u32> = holders.iter().map(|&h| h as u32).collect();
    let placement = Arc::new(Placement::from_holders(graph.node_count(), &[holders]));
    let mut net = build_network(graph.clone(), &placement, seed, Latency::default());
    run_search(
        &mut net,
        origin,
        object_query(0, want_hits),
        strategy,
        None,
        true,
    )
}

/// The RNG key of query `index` of strategy `strategy` in an experiment seeded `seed`.
/// Distinct per strategy too: the same query under two strategies must not reuse
/// descriptor IDs (routes of the first would make the second a duplicate).
pub fn query_key(seed: u64, strategy: usize, index: usize) -> u64 {
    mix(seed ^ mix((strategy as u64) << 32 | index as u64))
}

/// An experiment: a topology, a workload, and how to simulate it.
pub struct Experiment<'a> {
    /// The overlay: one servent per node, one link per edge.
    pub graph: &'a Graph,
    /// Which servents share which objects, and the queries to run (origin, object).
    pub workload: &'a Workload,
    /// Seed of the servents' IDs, RNGs and per-query keys.
    pub seed: u64,
    /// The delay of every link.
    pub latency: Latency,
    /// Networks run side by side, each on its share of the queries (1: no threads).
    pub threads: usize,
    /// The ultrapeers of a flat graph exchange query routing tables (`--qrp`), as 0.6
    /// ultrapeers with `X-Ultrapeer-Query-Routing` do; two-tier graphs always do.
    pub tables: bool,
    /// Servents leaving and joining while each query runs ([`Churn::NONE`]: never).
    pub churn: Churn,
}

/// One strategy's results: the summary and every query's cost, in query order.
pub struct StrategyResult {
    /// Totals and means over the query set.
    pub summary: Summary,
    /// Every query's cost, in the workload's query order.
    pub costs: Vec<SimCost>,
}

impl Experiment<'_> {
    /// Runs every query of the workload with each strategy in turn; calls `progress`
    /// (with the strategy's index) after each query, from whichever thread ran it.
    pub fn run(
        &self,
        strategies: &[StrategyItem],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<StrategyResult>, ExperimentError> {
        self.run_dropping_from(strategies, progress, DROP_SERVENTS_FROM)
    }

    /// [`Experiment::run`], dropping servents between queries from `drop_from`
    /// servents up (where the workload allows it; see [`DROP_SERVENTS_FROM`]).
    fn run_dropping_from(
        &self,
        strategies: &[StrategyItem],
        progress: &(dyn Fn(usize) + Sync),
        drop_from: usize,
    ) -> Result<Vec<StrategyResult>, ExperimentError> {
        let queries = &self.workload.queries;
        let threads = self.threads.clamp(1, queries.len().max(1));
        let chunk = queries.len().div_ceil(threads).max(1);
        let parts: Vec<&[(NodeId, u32)]> = queries.chunks(chunk).collect();
        // One copy of the graph, shared read-only by every thread's network.
        let graph = Arc::new(self.graph.clone());
        let outputs: Vec<Result<Part, ExperimentError>> = if parts.len() <= 1 {
            vec![self.run_part(
                (&graph, drop_from),
                0,
                parts.first().copied().unwrap_or(&[]),
                strategies,
                progress,
            )]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = parts
                    .iter()
                    .enumerate()
                    .map(|(t, part)| {
                        let first = t * chunk;
                        let net = (&graph, drop_from);
                        scope.spawn(move || self.run_part(net, first, part, strategies, progress))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("simulation thread panicked"))
                    .collect()
            })
        };
        let outputs: Vec<Part> = outputs.into_iter().collect::<Result<_, _>>()?;
        let nodes = self.graph.node_count();
        let unit = latency_unit(self.latency);
        let mut results = Vec::with_capacity(strategies.len());
        for (si, item) in strategies.iter().enumerate() {
            let mut costs = Vec::with_capacity(queries.len());
            let mut load = vec![0u64; nodes];
            let mut events = 0;
            for part in &outputs {
                let r = &part.per_strategy[si];
                costs.extend_from_slice(&r.costs);
                for (total, &l) in load.iter_mut().zip(&r.load) {
                    *total += u64::from(l);
                }
                events += r.events;
            }
            results.push(StrategyResult {
                summary: summarize(item, &costs, &load, unit, events),
                costs,
            });
        }
        Ok(results)
    }

    /// Runs queries `first..first + part.len()` on a network of its own, of the shared
    /// graph, dropping its servents between queries from `drop_from` servents up.
    fn run_part(
        &self,
        (graph, drop_from): (&Arc<Graph>, usize),
        first: usize,
        part: &[(NodeId, u32)],
        strategies: &[StrategyItem],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Part, ExperimentError> {
        let mut net = build_shared_network(
            Arc::clone(graph),
            &self.workload.placement,
            self.seed,
            self.latency,
            self.tables,
        );
        let want = self.workload.spec.want_hits;
        // Queries are independent at a fixed latency (each reseeds the RNGs it uses), so
        // servents can start afresh for each; not with random latencies (an origin's
        // hop-latency estimate carries over) nor on two tiers (tables sent at settling).
        // With churn at any size: a query's length (its origin's timeouts follow its history)
        // decides which leaves and joins happen, so each starts on fresh servents.
        let drop = (graph.node_count() >= drop_from || self.churn.is_on())
            && matches!(self.latency, Latency::Fixed(_))
            && !graph.is_two_tier()
            && !self.tables;
        let mut per_strategy = Vec::with_capacity(strategies.len());
        for (si, item) in strategies.iter().enumerate() {
            net.reset_load();
            let events = net.processed;
            let mut costs = Vec::with_capacity(part.len());
            for (i, &(origin, object)) in part.iter().enumerate() {
                if drop {
                    net.drop_servents();
                }
                let key = query_key(self.seed, si, first + i);
                let out = run_search_with(
                    &mut net,
                    origin,
                    object_query(object, want),
                    &item.strategy,
                    Some(key),
                    false,
                    self.churn,
                )?;
                costs.push(SimCost { object, ..out.sim });
                progress(si);
            }
            per_strategy.push(PartResult {
                costs,
                load: net.load().to_vec(),
                events: net.processed - events,
            });
        }
        Ok(Part { per_strategy })
    }
}

struct PartResult {
    costs: Vec<SimCost>,
    load: Vec<u32>,
    events: u64,
}

struct Part {
    per_strategy: Vec<PartResult>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::spec::parse_strategies;
    use crate::sim::WorkloadSpec;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Dropping every servent between queries changes no query's numbers (only the
    /// count of housekeeping timer events), and a lazy network builds only the
    /// servents a query reaches.
    #[test]
    fn dropping_servents_between_queries_changes_no_result() {
        let graph = Graph::plrg(3000, 2.1, 1, usize::MAX, &mut ChaCha8Rng::seed_from_u64(4));
        let spec = WorkloadSpec {
            queries: 12,
            ..WorkloadSpec::default()
        };
        let workload = Workload::generate_on(&spec, &graph, &mut ChaCha8Rng::seed_from_u64(5));
        let strategies = parse_strategies("flood:ttl=7,ring,walk:k=8").unwrap();
        let run = |drop_from: usize, threads: usize| {
            let experiment = Experiment {
                graph: &graph,
                workload: &workload,
                seed: 3,
                latency: Latency::default(),
                threads,
                tables: false,
                churn: Churn::NONE,
            };
            experiment
                .run_dropping_from(&strategies, &|_| {}, drop_from)
                .unwrap()
        };
        let kept = run(usize::MAX, 1);
        for dropped in [run(0, 1), run(0, 2)] {
            for (a, b) in kept.iter().zip(&dropped) {
                assert_eq!(a.costs, b.costs, "{}", a.summary.strategy);
                assert_eq!(a.summary.peak_load, b.summary.peak_load);
                // Events may only shrink: a kept servent's housekeeping timers (a
                // finished walk's state expiring) re-arm and fire again, a rebuilt
                // servent has none; they send nothing.
                assert!(b.summary.events <= a.summary.events);
                assert!(b.summary.events * 100 >= a.summary.events * 99);
            }
        }
        assert!(kept[0].costs.iter().any(|c| c.hits > 0 && c.visited > 100));
        // A walk of 8 reaches a few hundred servents at most: only those are built.
        let placement = &workload.placement;
        let mut net = build_network(graph.clone(), placement, 3, Latency::default());
        assert_eq!(net.built(), 0, "a flat network builds no servent to settle");
        let walk = &strategies[2].strategy;
        let (origin, object) = workload.queries[0];
        let out = run_search(&mut net, origin, object_query(object, 1), walk, None, false);
        let visited = out.unwrap().sim.visited as usize;
        assert!(
            net.built() > visited && net.built() < 1000,
            "{}",
            net.built()
        );
        net.drop_servents();
        assert_eq!(net.built(), 0);
    }
}
