//! Dynamic querying (issue 11 item 3) through the core's public API and the simulator:
//! the probe and the one-neighbour-at-a-time steps under one descriptor ID, the stop rule
//! (nothing sent once enough results are in), a leaf's query run by its ultrapeer with
//! the query status exchange (BEAR/11 request, BEAR/12 response, 65,535 = stop), hostile
//! status messages dropped, and on a two-tier simulated network dq finding a file for
//! fewer messages than a TTL-7 flood.

use std::net::Ipv4Addr;
use std::time::Duration;

use servent::core::strategy::dq::PROBE_ULTRAPEERS;
use servent::core::strategy::DynamicQuery;
use servent::core::{
    Config, DropReason, Event, PeerId, PeerInfo, Role, SearchEnd, Servent, Strategy, Transmit,
};
use servent::proto::payload::query::QUERY_FLAG_LEAF_GUIDED;
use servent::proto::payload::{HitResult, Query, QueryHit};
use servent::proto::vendor::{QueryStatus, QUERY_STATUS_STOP};
use servent::proto::{Descriptor, Guid, Payload, PayloadType};
use servent::sim::experiment::run_one_query;
use servent::topology::TopologySpec;

const MS: Duration = Duration::from_millis(1);

fn servent(role: Role) -> Servent {
    Servent::new(Config {
        servent_id: Guid::mark_modern([7; 16]),
        seed: 11,
        hop_latency_hint: MS,
        min_search_timeout: Duration::ZERO,
        role,
        ..Config::default()
    })
}

fn ultrapeer_info(i: u8) -> PeerInfo {
    PeerInfo {
        ultrapeer: true,
        dynamic_querying: true,
        ultrapeer_query_routing: true,
        degree: Some(8),
        max_ttl: Some(7),
        servent_id: Some(Guid::mark_modern([i; 16])),
        ..PeerInfo::default()
    }
}

fn leaf_info(i: u8) -> PeerInfo {
    PeerInfo {
        ultrapeer: false,
        query_routing: true,
        dynamic_querying: true,
        servent_id: Some(Guid::mark_modern([i; 16])),
        ..PeerInfo::default()
    }
}

/// An ultrapeer with ultrapeer neighbours 1..=ups and leaves 100..100+leaves.
fn ultrapeer(ups: u8, leaves: u8) -> Servent {
    let mut s = servent(Role::Ultrapeer);
    for i in 1..=ups {
        s.handle_connected(Duration::ZERO, PeerId(u32::from(i)), ultrapeer_info(i));
    }
    for i in 0..leaves {
        let leaf = PeerId(100 + u32::from(i));
        s.handle_connected(Duration::ZERO, leaf, leaf_info(i));
        give_table(&mut s, leaf, &["rare", "popular", "obj0"]);
    }
    // The merged table (ours and the leaves') goes to the ultrapeers: setup, not a step.
    s.handle_timeout(Duration::ZERO);
    drain(&mut s);
    s
}

/// Leaf `leaf` sends `s` its query routing table holding `words` (RESET + PATCH), as a
/// leaf does when its link opens: an ultrapeer routes to a leaf only by its table.
fn give_table(s: &mut Servent, leaf: PeerId, words: &[&str]) {
    use servent::core::qrp::{table_update, QueryRoutingTable, DEFAULT_TABLE_BITS};
    let table = QueryRoutingTable::from_keywords(words.iter(), DEFAULT_TABLE_BITS);
    for (n, m) in table_update(&table, None, 7, 4, 512)
        .into_iter()
        .enumerate()
    {
        let d = Descriptor::new(
            Guid::mark_modern([n as u8 + 1; 16]),
            1,
            0,
            Payload::Opaque {
                kind: PayloadType::Qrp,
                bytes: m.encode(),
            },
        );
        s.handle_descriptor(Duration::ZERO, leaf, d);
    }
    assert!(s.qrp_table_of(leaf).is_some(), "the table arrived");
}

fn drain(s: &mut Servent) -> Vec<Transmit> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

fn queries(t: &[Transmit]) -> Vec<(PeerId, u8, Guid)> {
    t.iter()
        .filter(|t| t.descriptor.payload_type() == PayloadType::Query)
        .map(|t| (t.peer, t.descriptor.ttl, t.descriptor.guid))
        .collect()
}

fn statuses(t: &[Transmit]) -> Vec<(PeerId, QueryStatus)> {
    t.iter()
        .filter_map(|t| match &*t.descriptor.payload {
            Payload::Opaque { bytes, .. } => QueryStatus::decode(bytes).ok().map(|m| (t.peer, m)),
            _ => None,
        })
        .collect()
}

fn done(s: &mut Servent) -> Option<SearchEnd> {
    std::iter::from_fn(|| s.poll_event()).find_map(|e| match e {
        Event::SearchDone { cost, .. } => cost.end,
        _ => None,
    })
}

fn hit(guid: Guid, hops: u8, results: u32) -> Descriptor {
    hit_from(guid, hops, results, 0xAB)
}

fn hit_from(guid: Guid, hops: u8, results: u32, servent: u8) -> Descriptor {
    let hit = QueryHit {
        port: 6346,
        ip: Ipv4Addr::new(10, 0, 0, 9),
        speed: 100,
        results: (0..results)
            .map(|i| HitResult {
                index: i,
                size: 10,
                name: b"obj0".to_vec(),
                extensions: Vec::new(),
            })
            .collect(),
        trailer: None,
        servent_id: Guid::mark_modern([servent; 16]),
    };
    Descriptor::new(guid, 7, hops, Payload::QueryHit(hit))
}

fn status(guid: Guid, m: QueryStatus) -> Descriptor {
    vendor(guid, m.encode())
}

fn vendor(guid: Guid, bytes: Vec<u8>) -> Descriptor {
    Descriptor::new(
        guid,
        1,
        0,
        Payload::Opaque {
            kind: PayloadType::Vendor,
            bytes,
        },
    )
}

fn dq(want: u32) -> Strategy {
    Strategy::Dynamic(DynamicQuery {
        want_hits: want,
        ..DynamicQuery::default()
    })
}

/// Runs the core's timers at each deadline until none is due within `limit`; returns
/// every Query sent per step.
fn run_steps(s: &mut Servent, mut now: Duration, limit: Duration) -> Vec<Vec<(PeerId, u8, Guid)>> {
    let mut steps = Vec::new();
    while let Some(at) = s.poll_timeout().filter(|&at| at <= limit) {
        now = now.max(at);
        s.handle_timeout(now);
        let q = queries(&drain(s));
        if !q.is_empty() {
            steps.push(q);
        }
    }
    steps
}

#[test]
fn probe_then_one_ultrapeer_at_a_time_under_one_guid_until_exhausted() {
    let mut s = ultrapeer(6, 2);
    let id = s.search(Duration::ZERO, Query::new("rare"), dq(1));
    let probe = queries(&drain(&mut s));
    // Leaves get it once as a last hop (TTL 1); 3 ultrapeers the probe's TTL 2.
    let leaves: Vec<_> = probe.iter().filter(|q| q.0 .0 >= 100).collect();
    let ups: Vec<_> = probe.iter().filter(|q| q.0 .0 < 100).collect();
    assert_eq!(leaves.len(), 2);
    assert!(leaves.iter().all(|q| q.1 == 1));
    assert_eq!(ups.len(), PROBE_ULTRAPEERS);
    assert!(ups.iter().all(|q| q.1 == 2), "{ups:?}");
    let steps = run_steps(&mut s, Duration::ZERO, Duration::from_secs(60));
    // No result ever: each step one ultrapeer with the most TTL allowed (5), the three
    // probed ones again (more TTL) and the three never queried, then the end.
    assert_eq!(steps.len(), 6, "{steps:?}");
    let mut seen = std::collections::BTreeSet::new();
    for step in &steps {
        assert_eq!(step.len(), 1, "one ultrapeer per step: {step:?}");
        assert_eq!(step[0].1, 5);
        assert!(seen.insert(step[0].0), "queried twice at full TTL");
    }
    for q in probe.iter().chain(steps.iter().flatten()) {
        assert_eq!(q.2, id.0, "every step shares the search's descriptor ID");
    }
    assert_eq!(done(&mut s), Some(SearchEnd::Exhausted));
    let cost = s.search_cost(id, Duration::from_secs(60)).unwrap();
    assert_eq!(cost.traffic.queries, 2 + 3 + 6);
}

#[test]
fn stops_at_want_and_sends_nothing_more() {
    let mut s = ultrapeer(6, 0);
    let id = s.search(Duration::ZERO, Query::new("common"), dq(2));
    let probed = queries(&drain(&mut s));
    let now = 3 * MS;
    s.handle_descriptor(now, probed[0].0, hit(id.0, 1, 1));
    assert_eq!(done(&mut s), None, "1 of 2 results: goes on");
    s.handle_descriptor(now, probed[1].0, hit_from(id.0, 1, 1, 0xCD));
    assert_eq!(done(&mut s), Some(SearchEnd::Satisfied));
    assert!(run_steps(&mut s, now, Duration::from_secs(60)).is_empty());
}

#[test]
fn a_popular_probe_leads_to_small_ttls() {
    let mut s = ultrapeer(8, 0);
    let id = s.search(Duration::ZERO, Query::new("popular"), dq(40));
    let probed = queries(&drain(&mut s));
    // 20 distinct results from the probe's ~19 ultrapeers (3 x (1 + 0.8 x 7)).
    s.handle_descriptor(3 * MS, probed[0].0, hit(id.0, 1, 20));
    let steps = run_steps(&mut s, 3 * MS, Duration::from_secs(60));
    // 20 more need ~19 ultrapeers over 8 neighbours: TTL 1 or 2, never the flood's 5.
    assert!(!steps.is_empty());
    assert!(steps.iter().flatten().all(|q| q.1 <= 2), "{steps:?}");
}

/// A leaf's Query arriving at its ultrapeer.
fn leaf_query(s: &mut Servent, leaf: PeerId, max_hits: u16) -> Guid {
    let guid = Guid::mark_modern([0x42; 16]);
    let mut q = Query::new("obj0");
    q.flags |= QUERY_FLAG_LEAF_GUIDED | max_hits;
    s.handle_descriptor(
        Duration::ZERO,
        leaf,
        Descriptor::new(guid, 6, 0, Payload::Query(q)),
    );
    guid
}

#[test]
fn an_ultrapeer_runs_its_leafs_query_and_stops_on_the_leafs_report() {
    let mut s = ultrapeer(6, 2);
    let leaf = PeerId(100);
    let guid = leaf_query(&mut s, leaf, 3);
    let probe = queries(&drain(&mut s));
    // Not flooded: the other leaf once, 3 ultrapeers with the probe's TTL, hops 1.
    assert_eq!(probe.len(), 1 + PROBE_ULTRAPEERS, "{probe:?}");
    assert!(probe.iter().all(|q| q.0 != leaf && q.2 == guid));
    // A hit routed back to the leaf counts (1 of 3).
    let up = probe.iter().find(|q| q.0 .0 < 100).unwrap().0;
    s.handle_descriptor(2 * MS, up, hit(guid, 1, 1));
    let routed = drain(&mut s);
    assert!(routed
        .iter()
        .any(|t| t.peer == leaf && t.descriptor.payload_type() == PayloadType::QueryHit));
    // After the probe (3 ultrapeers), the ultrapeer asks the leaf how many it kept.
    let at = s.poll_timeout().unwrap();
    s.handle_timeout(at);
    let sent = drain(&mut s);
    assert_eq!(statuses(&sent), vec![(leaf, QueryStatus::Request)]);
    assert!(queries(&sent).is_empty(), "waits for the answer");
    // The leaf kept 3 (from all its ultrapeers): enough, nothing more is sent.
    s.handle_descriptor(
        at + MS,
        leaf,
        status(guid, QueryStatus::Response { kept: 3 }),
    );
    assert!(drain(&mut s).is_empty());
    assert!(run_steps(&mut s, at + MS, Duration::from_secs(60)).is_empty());
}

#[test]
fn a_leafs_stop_report_ends_the_query_and_others_reports_do_not() {
    let mut s = ultrapeer(6, 2);
    let leaf = PeerId(100);
    let guid = leaf_query(&mut s, leaf, 50);
    drain(&mut s);
    // Another leaf (not the query's) says stop: ignored and counted.
    let other = PeerId(101);
    let stop = QueryStatus::Response {
        kept: QUERY_STATUS_STOP,
    };
    s.handle_descriptor(MS, other, status(guid, stop));
    assert_eq!(s.stats().dropped(DropReason::NoRoute), 1);
    let at = s.poll_timeout().unwrap();
    s.handle_timeout(at);
    let sent = drain(&mut s);
    assert!(
        !statuses(&sent).is_empty() || !queries(&sent).is_empty(),
        "goes on"
    );
    // The query's leaf says stop: nothing more, ever.
    s.handle_descriptor(at + MS, leaf, status(guid, stop));
    assert!(drain(&mut s).is_empty());
    assert!(run_steps(&mut s, at + MS, Duration::from_secs(60)).is_empty());
}

#[test]
fn a_leaf_sends_to_its_ultrapeers_answers_status_and_says_stop_when_satisfied() {
    let mut s = servent(Role::Leaf);
    for i in 1..=3u8 {
        s.handle_connected(Duration::ZERO, PeerId(u32::from(i)), ultrapeer_info(i));
    }
    let id = s.search(Duration::ZERO, Query::new("obj0"), dq(2));
    let sent = queries(&drain(&mut s));
    assert_eq!(sent.len(), 3, "every ultrapeer once");
    assert!(sent.iter().all(|q| q.1 == 6 && q.2 == id.0), "{sent:?}");
    // Status request: 0 kept so far.
    s.handle_descriptor(MS, PeerId(1), status(id.0, QueryStatus::Request));
    assert_eq!(
        statuses(&drain(&mut s)),
        vec![(PeerId(1), QueryStatus::Response { kept: 0 })]
    );
    s.handle_descriptor(2 * MS, PeerId(2), hit(id.0, 2, 1));
    s.handle_descriptor(3 * MS, PeerId(1), status(id.0, QueryStatus::Request));
    assert_eq!(
        statuses(&drain(&mut s)),
        vec![(PeerId(1), QueryStatus::Response { kept: 1 })]
    );
    s.handle_descriptor(4 * MS, PeerId(3), hit_from(id.0, 2, 1, 0xCD));
    assert_eq!(done(&mut s), Some(SearchEnd::Satisfied));
    let stops = statuses(&drain(&mut s));
    let stop = QueryStatus::Response {
        kept: QUERY_STATUS_STOP,
    };
    assert_eq!(
        stops,
        vec![(PeerId(1), stop), (PeerId(2), stop), (PeerId(3), stop)]
    );
    // Asked again after the end (or about a query not ours): stop.
    s.handle_descriptor(5 * MS, PeerId(1), status(id.0, QueryStatus::Request));
    assert_eq!(statuses(&drain(&mut s)), vec![(PeerId(1), stop)]);
}

#[test]
fn a_leaf_without_enough_results_times_out() {
    let mut s = servent(Role::Leaf);
    s.handle_connected(Duration::ZERO, PeerId(1), ultrapeer_info(1));
    let strategy = Strategy::Dynamic(DynamicQuery {
        leaf_timeout: Some(Duration::from_millis(500)),
        ..DynamicQuery::default()
    });
    s.search(Duration::ZERO, Query::new("none"), strategy);
    drain(&mut s);
    s.handle_timeout(Duration::from_millis(499));
    assert_eq!(done(&mut s), None);
    s.handle_timeout(Duration::from_millis(500));
    assert_eq!(done(&mut s), Some(SearchEnd::Exhausted));
}

#[test]
fn hostile_status_messages_are_dropped_without_panic() {
    let mut s = ultrapeer(4, 1);
    let leaf = PeerId(100);
    let guid = leaf_query(&mut s, leaf, 50);
    drain(&mut s);
    let malformed = [
        b"BEAR".to_vec(),
        b"BEAR\x0c\x00\x01\x00".to_vec(),
        b"BEAR\x0c\x00\x01\x00\x01".to_vec(),
    ];
    let before = s.stats().dropped(DropReason::Malformed);
    for bytes in &malformed {
        s.handle_descriptor(MS, leaf, vendor(guid, bytes.clone()));
    }
    // "BEAR" alone is too short for a vendor header: malformed too.
    assert_eq!(s.stats().dropped(DropReason::Malformed) - before, 3);
    // Foreign vendor messages, a response for a query nobody runs, a request to an
    // ultrapeer with no such search: never a panic, never a relay.
    s.handle_descriptor(
        MS,
        leaf,
        vendor(guid, b"LIME\x0c\x00\x01\x00\x01\x00".to_vec()),
    );
    s.handle_descriptor(
        MS,
        leaf,
        vendor(Guid([9; 16]), QueryStatus::Response { kept: 1 }.encode()),
    );
    let sent = drain(&mut s);
    assert!(sent.is_empty(), "{sent:?}");
    s.handle_descriptor(MS, PeerId(1), status(Guid([9; 16]), QueryStatus::Request));
    let stop = QueryStatus::Response {
        kept: QUERY_STATUS_STOP,
    };
    assert_eq!(statuses(&drain(&mut s)), vec![(PeerId(1), stop)]);
}

#[test]
fn on_a_two_tier_network_dq_finds_a_file_for_fewer_messages_than_a_flood() {
    let topo: TopologySpec = "two-tier:ultrapeers=60,leaves=300,degree=6"
        .parse()
        .unwrap();
    let graph = topo
        .build(&mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(4))
        .unwrap();
    assert!(graph.is_two_tier());
    // A leaf searches for a file 12 servents (3%) hold, leaves and ultrapeers.
    let holders: Vec<usize> = (0..12).map(|i| 7 + i * 29).collect();
    let origin = 200;
    let flood = run_one_query(
        &graph,
        4,
        &"flood:ttl=7".parse().unwrap(),
        origin,
        &holders,
        1,
    )
    .unwrap();
    let dynamic = run_one_query(&graph, 4, &dq(1), origin, &holders, 1).unwrap();
    assert!(flood.sim.hits > 0);
    assert!(dynamic.sim.hits > 0, "dq found it: {:?}", dynamic.sim);
    assert!(
        4 * dynamic.sim.search_messages() < flood.sim.search_messages(),
        "dq {} vs flood {} messages",
        dynamic.sim.search_messages(),
        flood.sim.search_messages()
    );
    let cost = dynamic.cost.unwrap();
    assert_eq!(cost.end, Some(SearchEnd::Satisfied));
    // The origin is a leaf: it ran no step itself, its ultrapeers did.
    assert!(graph.is_leaf(origin));
    assert_eq!(cost.rings, 1);
    // A flood from a leaf is flooded by its ultrapeers (no leaf-guided flag): no status
    // message, every ultrapeer reached, and of the leaves only those whose tables match
    // (the holders).
    assert_eq!(flood.sim.check_messages, 0);
    let ultrapeers = (0..graph.node_count())
        .filter(|&v| !graph.is_leaf(v))
        .count();
    let leaf_holders = holders.iter().filter(|&&h| graph.is_leaf(h)).count();
    assert_eq!(flood.sim.visited, (ultrapeers + leaf_holders) as u64);
}

#[test]
fn a_two_tier_simulation_gives_roles_and_handshake_flags_and_queries_from_leaves() {
    use rand::SeedableRng;
    use servent::sim::{Network, Workload, WorkloadSpec};
    let topo: TopologySpec = "two-tier:ultrapeers=10,leaves=40,degree=4".parse().unwrap();
    let graph = topo
        .build(&mut rand_chacha::ChaCha8Rng::seed_from_u64(2))
        .unwrap();
    let net = Network::new(graph.clone(), 2, |i| Config {
        seed: i as u64,
        ..Config::default()
    });
    for v in 0..graph.node_count() {
        let want = if graph.is_leaf(v) {
            Role::Leaf
        } else {
            Role::Ultrapeer
        };
        assert_eq!(net.node(v).role(), want, "node {v}");
        for (peer, p) in net.node(v).peers() {
            let b = peer.0 as usize;
            let info = &p.info;
            assert_eq!(info.ultrapeer, !graph.is_leaf(b));
            assert_eq!(info.query_routing, graph.is_leaf(v) != graph.is_leaf(b));
            assert_eq!(
                info.ultrapeer_query_routing,
                !graph.is_leaf(v) && !graph.is_leaf(b)
            );
            assert!(info.dynamic_querying);
            let degree = (!graph.is_leaf(b)).then(|| graph.ultrapeer_degree(b) as u32);
            assert_eq!(info.degree, degree);
        }
    }
    let spec = WorkloadSpec {
        queries: 200,
        ..WorkloadSpec::default()
    };
    let w = Workload::generate_on(
        &spec,
        &graph,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(1),
    );
    assert!(w.queries.iter().all(|&(o, _)| graph.is_leaf(o)));
    // Replicas on both tiers.
    let holders: Vec<u32> = (0..spec.objects as u32)
        .flat_map(|o| w.placement.holders(o).to_vec())
        .collect();
    assert!(holders.iter().any(|&h| graph.is_leaf(h as usize)));
    assert!(holders.iter().any(|&h| !graph.is_leaf(h as usize)));
    // A flat graph draws exactly what it always did.
    let flat = servent::sim::Graph::ring_with_chords(
        50,
        10,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(3),
    );
    let a = Workload::generate_on(&spec, &flat, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    let b = Workload::generate(&spec, 50, &mut rand_chacha::ChaCha8Rng::seed_from_u64(1));
    assert_eq!(a.queries, b.queries);
}

#[test]
fn on_a_flat_network_every_servent_runs_its_own_dynamic_query() {
    use rand::SeedableRng;
    let graph = servent::sim::Graph::ring_with_chords(
        200,
        200,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(8),
    );
    let flood = run_one_query(
        &graph,
        8,
        &"flood:ttl=7".parse().unwrap(),
        0,
        &[50, 120, 180],
        1,
    )
    .unwrap();
    let dynamic = run_one_query(&graph, 8, &dq(1), 0, &[50, 120, 180], 1).unwrap();
    assert!(dynamic.sim.hits > 0);
    let cost = dynamic.cost.unwrap();
    assert_eq!(cost.end, Some(SearchEnd::Satisfied));
    assert!(cost.rings >= 1, "probe and steps: {}", cost.rings);
    // The network-wide sum of per-servent counters matches the links' count.
    assert_eq!(cost.traffic.queries, dynamic.sim.query_messages);
    assert!(dynamic.sim.query_messages < flood.sim.query_messages);
}

/// A leaf's dynamic query tells its ultrapeers how many results it wants (the max-hits
/// field), whatever the Query it was given said: they collect that many, then stop.
#[test]
fn a_leafs_dynamic_query_asks_its_ultrapeers_for_what_it_wants() {
    let mut s = servent(Role::Leaf);
    for i in 1..=3 {
        s.handle_connected(Duration::ZERO, PeerId(u32::from(i)), ultrapeer_info(i));
    }
    drain(&mut s);
    let mut q = Query::new("obj0");
    q.flags = (q.flags & !0x01FF) | 1; // a Query that says 1
    s.search(Duration::ZERO, q, dq(20));
    let sent = drain(&mut s);
    let asks: Vec<Option<u16>> = sent
        .iter()
        .filter_map(|t| match &*t.descriptor.payload {
            Payload::Query(q) => Some(q.max_hits()),
            _ => None,
        })
        .collect();
    assert_eq!(asks, vec![Some(20); 3]);
}
