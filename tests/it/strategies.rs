//! Search strategies on the deterministic in-memory network (src/sim): a flood finds every
//! replica within its TTL; an expanding ring stops at the first ring with enough hits,
//! each ring reaches its full radius and costs exactly one bounded flood; random walkers
//! stay within k x max_steps steps plus checks, stop soon after the requester is
//! satisfied, never go straight back or to a servent without walker support, and walk
//! the same way for the same seed. Every count is checked against the trace and against
//! an independent graph computation, and the per-servent counters must sum to the trace.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::core::matcher::ListMatcher;
use servent::core::strategy::{ExpandingRing, Flood, NetworkTraffic, RandomWalk};
use servent::core::{
    Config, Event, LocalFile, PeerId, QueryCost, SearchEnd, SearchId, SharedFiles, Strategy,
};
use servent::proto::payload::Query;
use servent::proto::walker::{CheckMessage, WalkerTag};
use servent::proto::{check, parse, Check, Descriptor, Guid, Payload, PayloadType};
use servent::sim::{Graph, Latency, Network};

const MS: Duration = Duration::from_millis(1);
/// Virtual time a search may take before a test calls it stuck.
const SEARCH_LIMIT: Duration = Duration::from_secs(600);

fn config(i: usize) -> Config {
    Config {
        servent_id: Guid::mark_modern([i as u8 ^ 0x5A; 16]),
        port: 10_000 + i as u16,
        seed: i as u64,
        // The simulator's hop is 1 ms; no floor so ring times are exact hop counts.
        hop_latency_hint: MS,
        min_search_timeout: Duration::ZERO,
        ..Config::default()
    }
}

fn network_with(graph: Graph, cfg: impl FnMut(usize) -> Config) -> Network {
    let mut net = Network::new(graph, 1, cfg);
    net.enable_trace();
    net
}

fn network(graph: Graph) -> Network {
    network_with(graph, config)
}

fn ring_graph(n: usize, chords: usize, seed: u64) -> Graph {
    Graph::ring_with_chords(n, chords, &mut ChaCha8Rng::seed_from_u64(seed))
}

fn share(net: &mut Network, node: usize, name: &str) {
    let files = vec![LocalFile {
        index: 1,
        size: 1000,
        name: name.to_owned(),
        sha1_urn: None,
    }];
    net.with_node(node, |s, _| {
        s.set_matcher(SharedFiles {
            matcher: Box::new(ListMatcher(files)),
            files: 1,
            kbytes: 1,
        })
    });
}

/// Runs the network until the search ends, then until nothing is in flight. Returns its
/// final cost (network-wide, summed from every servent's counters) and the originator's
/// events.
/// Runs a default expanding ring for `text` from `origin` to its end; returns its cost.
fn run_default_ring(net: &mut Network, origin: usize, text: &str) -> QueryCost {
    let ring = Strategy::ExpandingRing(ExpandingRing::default());
    let id = net.with_node(origin, |s, now| s.search(now, Query::new(text), ring));
    run_search(net, origin, id).0
}

fn run_search(net: &mut Network, origin: usize, id: SearchId) -> (QueryCost, Vec<Event>) {
    let mut events = Vec::new();
    let start = net.now();
    while net.now() < start + SEARCH_LIMIT {
        let target = net.now() + 10 * MS;
        net.run_until(target);
        if net.now() < target {
            net.advance(target - net.now());
        }
        events.extend(net.take_events(origin));
        let done = events.iter().find_map(|e| match e {
            Event::SearchDone { id: i, cost } if *i == id => Some(cost.clone()),
            _ => None,
        });
        if let Some(mut cost) = done {
            net.run_until_quiet();
            events.extend(net.take_events(origin));
            let total = network_traffic(net, &cost.guids);
            cost.set_network(&total);
            return (cost, events);
        }
    }
    panic!("search {id} did not end within {SEARCH_LIMIT:?} of virtual time");
}

fn network_traffic(net: &Network, guids: &[Guid]) -> NetworkTraffic {
    let now = net.now();
    NetworkTraffic::sum(
        (0..net.len()).map(|i| {
            let s = net.node(i);
            move |g: &Guid| s.query_traffic(g, now)
        }),
        guids,
    )
}

/// Descriptors of `kind` with one of `guids` in the trace.
fn traced(net: &Network, guids: &[Guid], kind: PayloadType) -> Vec<(Duration, usize, usize)> {
    net.trace()
        .iter()
        .filter(|t| guids.contains(&t.descriptor.guid) && t.descriptor.payload_type() == kind)
        .map(|t| (t.at, t.from, t.to))
        .collect()
}

/// The per-servent counters must add up to exactly what the trace shows.
fn assert_counters_match_trace(net: &Network, cost: &QueryCost) {
    let g = &cost.guids;
    assert_eq!(
        cost.traffic.queries,
        traced(net, g, PayloadType::Query).len() as u64
    );
    assert_eq!(
        cost.traffic.hits,
        traced(net, g, PayloadType::QueryHit).len() as u64
    );
    assert_eq!(
        cost.traffic.checks,
        traced(net, g, PayloadType::Vendor).len() as u64
    );
}

/// BFS distances, computed here independently of the simulator's graph code.
fn distances(graph: &Graph, origin: usize) -> Vec<Option<u32>> {
    let mut dist = vec![None; graph.node_count()];
    dist[origin] = Some(0);
    let mut frontier = vec![origin];
    let mut d = 0;
    while !frontier.is_empty() {
        d += 1;
        let mut next = Vec::new();
        for v in frontier {
            for &w in graph.neighbours(v) {
                if dist[w as usize].is_none() {
                    dist[w as usize] = Some(d);
                    next.push(w as usize);
                }
            }
        }
        frontier = next;
    }
    dist
}

fn within(graph: &Graph, origin: usize, radius: u32) -> BTreeSet<usize> {
    let dist = distances(graph, origin);
    (0..graph.node_count())
        .filter(|&v| v != origin && matches!(dist[v], Some(d) if d <= radius))
        .collect()
}

fn hit_ports(events: &[Event], id: SearchId) -> BTreeSet<usize> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::QueryHit { search, hit, .. } if *search == id => {
                Some(hit.port as usize - 10_000)
            }
            _ => None,
        })
        .collect()
}

// ---- flood ------------------------------------------------------------------------------

#[test]
fn flood_finds_every_replica_within_its_ttl_and_costs_one_bounded_flood() {
    let graph = ring_graph(300, 300, 11);
    let origin = 5;
    let dist = distances(&graph, origin);
    // One replica at each distance 1..=6 (the first node found at that distance).
    let replicas: Vec<usize> = (1..=6)
        .filter_map(|d| (0..graph.node_count()).find(|&v| dist[v] == Some(d)))
        .collect();
    assert_eq!(replicas.len(), 6, "graph too small for the placement");
    for ttl in [2u8, 4, 6] {
        let mut net = network(graph.clone());
        for &r in &replicas {
            share(&mut net, r, "needle.ogg");
        }
        let id = net.with_node(origin, |s, now| {
            s.search(now, Query::new("needle"), Strategy::Flood(Flood { ttl }))
        });
        let (cost, events) = run_search(&mut net, origin, id);
        let expected: BTreeSet<usize> = replicas
            .iter()
            .copied()
            .filter(|&r| dist[r].unwrap() <= u32::from(ttl))
            .collect();
        assert_eq!(hit_ports(&events, id), expected, "ttl {ttl}");
        assert_eq!(cost.hits as usize, expected.len());
        assert_eq!(cost.rings, 1);
        assert_eq!(cost.end, Some(SearchEnd::Satisfied));
        assert_eq!(cost.first_hit_hops, Some(1));
        assert_eq!(cost.first_hit_after, Some(2 * MS), "one hop out, one back");
        assert_eq!(
            cost.traffic.queries,
            graph.flood_cost(origin, u32::from(ttl))
        );
        // Each hit travels back exactly its replica's distance.
        let hit_hops: u64 = expected.iter().map(|&r| u64::from(dist[r].unwrap())).sum();
        assert_eq!(cost.traffic.hits, hit_hops);
        assert_eq!(
            cost.reached,
            Some(within(&graph, origin, ttl.into()).len() as u64)
        );
        assert_counters_match_trace(&net, &cost);
        // Duplicates: every copy sent beyond the first at each servent.
        assert_eq!(
            cost.traffic.duplicates,
            cost.traffic.queries - cost.reached.unwrap()
        );
    }
}

// ---- expanding ring ---------------------------------------------------------------------

#[test]
fn ring_stops_at_the_first_ring_with_enough_hits_and_costs_the_sum_of_its_floods() {
    let graph = ring_graph(300, 300, 12);
    let origin = 9;
    let dist = distances(&graph, origin);
    // Replicas only at distance 3 and beyond: ring 1 (TTL 1) finds nothing, ring 2
    // (TTL 3) finds them.
    let at3: Vec<usize> = (0..graph.node_count())
        .filter(|&v| dist[v] == Some(3))
        .take(2)
        .collect();
    let far = (0..graph.node_count())
        .find(|&v| dist[v] == Some(5))
        .expect("a node at distance 5");
    let mut net = network(graph.clone());
    for &r in at3.iter().chain([&far]) {
        share(&mut net, r, "needle.ogg");
    }
    let ring = ExpandingRing {
        want_hits: 2,
        ..ExpandingRing::default()
    };
    let id = net.with_node(origin, |s, now| {
        s.search(now, Query::new("needle"), Strategy::ExpandingRing(ring))
    });
    let (cost, events) = run_search(&mut net, origin, id);
    assert_eq!(cost.end, Some(SearchEnd::Satisfied));
    assert_eq!(cost.rings, 2, "TTL 1 then TTL 3");
    assert_eq!(cost.guids.len(), 2, "a fresh descriptor ID per ring");
    assert_eq!(cost.guids[0], id.0);
    assert_eq!(hit_ports(&events, id), at3.iter().copied().collect());
    assert_eq!(cost.first_hit_hops, Some(3));
    // The exact cost: one bounded flood per ring used, computed from the graph.
    let expected = graph.flood_cost(origin, 1) + graph.flood_cost(origin, 3);
    assert_eq!(cost.traffic.queries, expected);
    assert_eq!(cost.traffic.hits, 2 * 3, "two hits, three hops each");
    assert_counters_match_trace(&net, &cost);
    // Each ring reaches its full radius: nobody dropped ring 2 as a duplicate of ring 1.
    for (guid, ttl) in cost.guids.iter().zip([1u32, 3]) {
        let reached: BTreeSet<usize> = traced(&net, &[*guid], PayloadType::Query)
            .into_iter()
            .map(|(_, _, to)| to)
            .filter(|&to| to != origin)
            .collect();
        assert_eq!(reached, within(&graph, origin, ttl), "ring with TTL {ttl}");
    }
    assert_eq!(cost.reached, Some(within(&graph, origin, 3).len() as u64));
}

#[test]
fn ring_without_hits_uses_every_ring_and_each_ring_waits_for_its_farthest_hit() {
    let graph = ring_graph(200, 200, 13);
    let origin = 0;
    let mut net = network(graph.clone());
    let cost = run_default_ring(&mut net, origin, "nothing");
    assert_eq!(cost.end, Some(SearchEnd::Exhausted));
    assert_eq!(cost.rings, 4);
    let expected: u64 = [1u8, 3, 5, 7]
        .iter()
        .map(|&t| graph.flood_cost(origin, u32::from(t)))
        .sum();
    assert_eq!(cost.traffic.queries, expected);
    assert_counters_match_trace(&net, &cost);
    // Ring i+1 starts after ring i's round trip (2 x TTL hops of 1 ms): a hit from its
    // edge would have been back in time.
    let starts: Vec<Duration> = cost
        .guids
        .iter()
        .map(|g| traced(&net, &[*g], PayloadType::Query)[0].0)
        .collect();
    for (w, ttl) in starts.windows(2).zip([1u32, 3, 5]) {
        assert!(
            w[1] - w[0] > 2 * ttl * MS,
            "ring TTL {ttl}: {:?}",
            w[1] - w[0]
        );
    }
}

#[test]
fn ring_timeout_follows_the_measured_hop_latency() {
    let graph = ring_graph(100, 100, 14);
    let origin = 3;
    let neighbour = graph.neighbours(origin)[0] as usize;
    // A bad guess (50 ms a hop) while links really take 4 ms.
    let mut net = network_with(graph, |i| Config {
        hop_latency_hint: 50 * MS,
        ..config(i)
    });
    net.set_latency(Latency::Fixed(4 * MS));
    share(&mut net, neighbour, "near.ogg");
    // Floods that find the neighbour measure the hop latency (each hit: 8 ms / 2 hops).
    for _ in 0..30 {
        let id = net.with_node(origin, |s, now| {
            s.search(now, Query::new("near"), Strategy::Flood(Flood { ttl: 1 }))
        });
        run_search(&mut net, origin, id);
    }
    let hop = net.node(origin).hop_latency();
    assert_eq!(hop.mean(), 4 * MS);
    let bound = hop.per_hop_bound();
    assert!(bound >= 4 * MS && bound < 8 * MS, "{bound:?}");
    let cost = run_default_ring(&mut net, origin, "absent");
    let starts: Vec<Duration> = cost
        .guids
        .iter()
        .map(|g| traced(&net, &[*g], PayloadType::Query)[0].0)
        .collect();
    for (w, ttl) in starts.windows(2).zip([1u32, 3, 5]) {
        assert_eq!(w[1] - w[0], bound * 2 * ttl, "ring TTL {ttl}");
    }
}

// ---- random walk ------------------------------------------------------------------------

/// One walker step in the trace: the walker Query sent from one servent to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct WalkerStep {
    at: Duration,
    from: usize,
    to: usize,
    tag: WalkerTag,
}

/// Walker steps in the trace, in trace order.
fn walker_steps(net: &Network, guid: Guid) -> Vec<WalkerStep> {
    net.trace()
        .iter()
        .filter(|t| t.descriptor.guid == guid)
        .filter_map(|t| match &*t.descriptor.payload {
            Payload::Query(q) => match WalkerTag::find(q) {
                Some(Ok(tag)) => Some(WalkerStep {
                    at: t.at,
                    from: t.from,
                    to: t.to,
                    tag,
                }),
                _ => panic!("a Query of a walk without a valid walker tag"),
            },
            _ => None,
        })
        .collect()
}

fn walk(k: u8, max_steps: u16, check_every: u8, want: u32) -> Strategy {
    Strategy::RandomWalk(RandomWalk {
        walkers: k,
        max_steps,
        check_every,
        want_hits: want,
        remember_neighbours: true,
        check_via: Default::default(),
        ..RandomWalk::default()
    })
}

#[test]
fn walkers_without_hits_take_exactly_k_times_max_steps_and_never_step_straight_back() {
    let graph = ring_graph(150, 150, 21);
    let origin = 7;
    let (k, max_steps, check_every) = (4u8, 20u16, 4u8);
    let mut net = network(graph.clone());
    let id = net.with_node(origin, |s, now| {
        s.search(
            now,
            Query::new("absent"),
            walk(k, max_steps, check_every, 1),
        )
    });
    let (cost, _) = run_search(&mut net, origin, id);
    assert_eq!(cost.end, Some(SearchEnd::Exhausted));
    assert_eq!(cost.walkers, u32::from(k));
    let steps = walker_steps(&net, id.0);
    // A connected graph with no servent of degree < 2: no walker meets a dead end.
    assert!((0..graph.node_count()).all(|v| graph.degree(v) >= 2));
    assert_eq!(steps.len(), usize::from(k) * usize::from(max_steps));
    assert_eq!(cost.traffic.queries, steps.len() as u64);
    // Checks at steps 4, 8, 12, 16 (none at 20: the walk ends there anyway).
    let checks_per_walker = u32::from((max_steps - 1) / u16::from(check_every));
    assert_eq!(cost.checks_answered, u32::from(k) * checks_per_walker);
    assert_eq!(
        cost.walker_steps,
        u64::from(k) * 16,
        "steps of the last checks"
    );
    assert_counters_match_trace(&net, &cost);
    // Per walker: a chain of hops, numbered 1..=max_steps, never straight back.
    let mut by_walker: HashMap<u8, Vec<WalkerStep>> = HashMap::new();
    for s in steps {
        by_walker.entry(s.tag.walker).or_default().push(s);
    }
    assert_eq!(by_walker.len(), usize::from(k));
    for (w, path) in &by_walker {
        assert_eq!(path[0].from, origin);
        for (i, pair) in path.windows(2).enumerate() {
            let (a, b) = (&pair[0], &pair[1]);
            assert_eq!(
                b.from,
                a.to,
                "walker {w}: step {} starts where {} ended",
                i + 2,
                i + 1
            );
            assert_eq!(b.tag.steps, a.tag.steps + 1);
            assert_ne!(
                b.to,
                a.from,
                "walker {w} stepped straight back at step {}",
                i + 2
            );
        }
        assert_eq!(path.last().unwrap().tag.steps_left, 0);
    }
    // remember_neighbours: the origin sent its k walkers to k different neighbours.
    let firsts: BTreeSet<usize> = by_walker.values().map(|p| p[0].to).collect();
    assert_eq!(firsts.len(), usize::from(k).min(graph.degree(origin)));
    // Each check costs 2 x the holder's reverse path (request up, verdict down).
    let vendor: Vec<(u8, CheckMessage)> = net
        .trace()
        .iter()
        .filter(|t| t.descriptor.guid == id.0)
        .filter_map(|t| match &*t.descriptor.payload {
            Payload::Opaque { bytes, .. } => {
                Some((t.descriptor.hops, CheckMessage::decode(bytes).ok()?))
            }
            _ => None,
        })
        .collect();
    let requested_paths: u64 = vendor
        .iter()
        .filter_map(|(hops, m)| match m {
            CheckMessage::Request { path, .. } if *hops == 0 => Some(u64::from(*path)),
            _ => None,
        })
        .sum();
    assert_eq!(cost.traffic.checks, 2 * requested_paths);
}

#[test]
fn a_walk_stops_soon_after_a_check_once_it_has_its_hits() {
    let graph = ring_graph(200, 200, 22);
    let origin = 1;
    let dist = distances(&graph, origin);
    let mut net = network(graph.clone());
    let holders: Vec<usize> = (0..graph.node_count())
        .filter(|&v| dist[v] >= Some(2))
        .step_by(10)
        .collect();
    for &h in &holders {
        share(&mut net, h, "needle.ogg");
    }
    let (k, check_every) = (4u8, 4u8);
    let id = net.with_node(origin, |s, now| {
        s.search(now, Query::new("needle"), walk(k, 1024, check_every, 1))
    });
    let (cost, events) = run_search(&mut net, origin, id);
    assert_eq!(cost.end, Some(SearchEnd::Satisfied));
    assert!(cost.hits >= 1);
    let first_hit_at = net
        .trace()
        .iter()
        .filter(|t| t.descriptor.guid == id.0 && t.to == origin)
        .find(|t| t.descriptor.payload_type() == PayloadType::QueryHit)
        .map(|t| t.at + MS)
        .expect("a hit reached the origin");
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::QueryHit { search, .. } if *search == id)));
    let steps = walker_steps(&net, id.0);
    let after = steps.iter().filter(|s| s.at >= first_hit_at).count();
    // Once satisfied, each walker takes at most check_every more steps (it may just
    // have been told to go on), then its next check stops it.
    assert!(
        after <= usize::from(k) * usize::from(check_every),
        "{after} steps after the first hit"
    );
    assert!(steps.len() < usize::from(k) * 1024 / 4, "stopped early");
    assert_counters_match_trace(&net, &cost);
}

#[test]
fn walkers_are_never_handed_to_a_servent_without_walker_support() {
    let graph = ring_graph(150, 200, 23);
    let origin = 0;
    let unsupported = |i: usize| i % 3 == 2;
    let mut net = network_with(graph.clone(), |i| Config {
        walker_support: !unsupported(i),
        ..config(i)
    });
    let id = net.with_node(origin, |s, now| {
        s.search(now, Query::new("absent"), walk(8, 64, 4, 1))
    });
    let (cost, _) = run_search(&mut net, origin, id);
    let steps = walker_steps(&net, id.0);
    assert!(steps.len() > 64, "the walk went somewhere");
    for &WalkerStep { from, to, .. } in &steps {
        assert!(
            !unsupported(to),
            "walker sent from {from} to non-supporting {to}"
        );
    }
    assert!(net
        .trace()
        .iter()
        .filter(|t| t.descriptor.payload_type() == PayloadType::Vendor)
        .all(|t| !unsupported(t.to)));
    // Never a fallback to flooding: every Query of this walk is one walker step.
    assert_eq!(steps.len() as u64, cost.traffic.queries);
    assert_counters_match_trace(&net, &cost);
}

#[test]
fn the_same_seed_gives_the_same_walk() {
    let graph = ring_graph(120, 120, 24);
    let run = |seed_offset: u64| {
        let mut net = network_with(graph.clone(), |i| Config {
            seed: i as u64 + seed_offset,
            ..config(i)
        });
        let id = net.with_node(4, |s, now| {
            s.search(now, Query::new("absent"), walk(4, 40, 4, 1))
        });
        run_search(&mut net, 4, id);
        walker_steps(&net, id.0)
    };
    let a = run(0);
    assert_eq!(a, run(0));
    assert_ne!(a, run(1000), "another seed walks elsewhere");
}

#[test]
fn an_unreachable_requester_ends_every_walker_at_its_first_check() {
    let graph = ring_graph(100, 100, 25);
    let origin = 2;
    let mut net = network(graph.clone());
    let (k, check_every) = (3u8, 4u8);
    let id = net.with_node(origin, |s, now| {
        s.search(now, Query::new("absent"), walk(k, 1024, check_every, 1))
    });
    // The requester goes away at once: its links close on its side, so every check
    // request is ignored.
    let neighbours: Vec<u32> = graph.neighbours(origin).to_vec();
    net.with_node(origin, |s, now| {
        for n in neighbours {
            s.handle_closed(now, PeerId(n));
        }
    });
    let (cost, _) = run_search(&mut net, origin, id);
    assert_eq!(cost.end, Some(SearchEnd::Exhausted));
    assert_eq!(cost.checks_answered, 0);
    let steps = walker_steps(&net, id.0);
    assert_eq!(
        steps.len(),
        usize::from(k) * usize::from(check_every),
        "every walker walked to its first check and stopped there"
    );
    let timeouts: u64 = (0..net.len())
        .map(|i| net.node(i).stats().walker_check_timeouts)
        .sum();
    assert_eq!(timeouts, u64::from(k));
}

// ---- wire vectors -----------------------------------------------------------------------

fn vector_bytes(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("protocol/vectors")
        .join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut bytes = Vec::new();
    let mut in_hex = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        } else if line == "hex:" {
            in_hex = true;
        } else if line.contains('=') {
            break;
        } else if in_hex {
            for tok in line.split('#').next().unwrap().split_whitespace() {
                bytes.push(u8::from_str_radix(tok, 16).unwrap());
            }
        }
    }
    bytes
}

fn decode(bytes: &[u8]) -> Descriptor {
    let Ok(Check::Complete(n)) = check(bytes) else {
        panic!("not one whole descriptor")
    };
    assert_eq!(n, bytes.len());
    let d = parse(bytes).unwrap();
    assert_eq!(
        d.rebuilt().to_bytes().unwrap(),
        bytes,
        "re-encodes to the same bytes"
    );
    d
}

#[test]
fn walker_and_check_vectors_decode_to_their_documented_values() {
    let d = decode(&vector_bytes("walker-query.txt"));
    let Payload::Query(q) = &*d.payload else {
        panic!("not a query")
    };
    assert_eq!((d.ttl, d.hops), (1, 5));
    assert_eq!(
        WalkerTag::find(q),
        Some(Ok(WalkerTag {
            walker: 3,
            check_every: 4,
            remember_neighbours: true,
            look_ahead: false,
            degree_bias: false,
            steps: 5,
            steps_left: 1019,
            sender_path: 4,
        }))
    );
    let req = decode(&vector_bytes("walker-check-request.txt"));
    let Payload::Opaque { kind, bytes } = &*req.payload else {
        panic!("not opaque")
    };
    assert_eq!(*kind, PayloadType::Vendor);
    assert_eq!(req.guid, d.guid, "a check carries its walker query's ID");
    assert_eq!(
        CheckMessage::decode(bytes),
        Ok(CheckMessage::Request {
            walker: 3,
            steps: 8,
            path: 6
        })
    );
    let verdict = decode(&vector_bytes("walker-check-verdict.txt"));
    let Payload::Opaque { bytes, .. } = &*verdict.payload else {
        panic!("not opaque")
    };
    assert_eq!(
        CheckMessage::decode(bytes),
        Ok(CheckMessage::Verdict {
            walker: 3,
            go_on: false,
            hits: 2
        })
    );
}
