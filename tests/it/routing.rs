//! The routing core driven by the deterministic in-memory network (src/sim): floods reach
//! exactly the servents within the TTL, duplicates are dropped and counted, replies go back
//! along the reverse path and only along it, TTL rules hold, and a flood costs exactly
//! what graph analysis says.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::core::matcher::ListMatcher;
use servent::core::{
    Config, DropReason, Event, LocalFile, PeerId, Servent, SharedFiles, MAX_BETTER_TTL_RELAYS,
};
use servent::proto::payload::{Bye, Ping, Push, Query, QueryHit};
use servent::proto::walker::WalkerTag;
use servent::proto::{Descriptor, Guid, Payload, PayloadType};
use servent::sim::{Graph, Network};

fn config(i: usize, max_ttl: u8) -> Config {
    Config {
        servent_id: Guid::mark_modern([i as u8 ^ 0x5A; 16]),
        port: 10_000 + i as u16,
        max_ttl,
        seed: i as u64,
        ..Config::default()
    }
}

fn network(graph: Graph, max_ttl: u8) -> Network {
    let mut net = Network::new(graph, 1, |i| config(i, max_ttl));
    net.enable_trace();
    net
}

/// A connected random graph: a ring plus random chords.
fn ring_graph(n: usize, chords: usize, seed: u64) -> Graph {
    Graph::ring_with_chords(n, chords, &mut ChaCha8Rng::seed_from_u64(seed))
}

fn share(net: &mut Network, node: usize, name: &str) {
    let files = vec![LocalFile {
        index: 7,
        size: 1234,
        name: name.to_owned(),
        sha1_urn: Some("urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB".into()),
    }];
    net.with_node(node, |s, _| {
        s.set_matcher(SharedFiles {
            matcher: Box::new(ListMatcher(files)),
            files: 1,
            kbytes: 2,
        })
    });
}

fn snap(name: &str) -> Graph {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name);
    Graph::load_edge_list(&path).unwrap_or_else(|e| panic!("SNAP file needed: {e}"))
}

/// Nodes that received a descriptor of `kind` with `guid`, from the trace.
fn receivers(net: &Network, guid: Guid, kind: PayloadType) -> BTreeSet<usize> {
    net.trace()
        .iter()
        .filter(|t| t.descriptor.guid == guid && t.descriptor.payload_type() == kind)
        .map(|t| t.to)
        .collect()
}

fn within(graph: &Graph, origin: usize, radius: u32) -> BTreeSet<usize> {
    graph
        .bfs_distances(origin)
        .iter()
        .enumerate()
        .filter(|&(v, &d)| v != origin && d <= radius)
        .map(|(v, _)| v)
        .collect()
}

fn total_dropped(net: &Network, reason: DropReason) -> u64 {
    (0..net.len())
        .map(|i| net.node(i).stats().dropped(reason))
        .sum()
}

#[test]
fn query_reaches_exactly_the_servents_within_its_ttl_once_each() {
    let graph = ring_graph(200, 200, 3);
    for ttl in 1..=6u8 {
        let mut net = network(graph.clone(), 7);
        let origin = 17;
        let guid = net.with_node(origin, |s, now| s.query(now, Query::new("nothing"), ttl));
        net.run_until_quiet();

        let mut reached = receivers(&net, guid, PayloadType::Query);
        reached.remove(&origin);
        assert_eq!(reached, within(&graph, origin, ttl as u32), "ttl {ttl}");

        // Each servent forwards each GUID at most once: no (from, to) pair repeats, and
        // every sender sent its copies at one instant.
        let mut pairs = HashSet::new();
        let mut sent_at: HashMap<usize, Duration> = HashMap::new();
        for t in net.trace().iter().filter(|t| t.descriptor.guid == guid) {
            assert!(pairs.insert((t.from, t.to)), "{} -> {} twice", t.from, t.to);
            assert_eq!(
                *sent_at.entry(t.from).or_insert(t.at),
                t.at,
                "node {} forwarded twice",
                t.from
            );
        }
        // Every copy but the first at each servent is a counted duplicate.
        let copies = net.sent[PayloadType::Query.index()];
        assert_eq!(
            total_dropped(&net, DropReason::Duplicate),
            copies - reached.len() as u64
        );
    }
}

#[test]
fn query_hits_return_along_the_reverse_path_only() {
    let graph = ring_graph(120, 100, 5);
    let mut net = network(graph.clone(), 7);
    let holders = [3usize, 40, 77, 101, 119];
    for &h in &holders {
        share(&mut net, h, "Beatles - Help.mp3");
    }
    let origin = 60;
    let ttl = 3;
    let guid = net.with_node(origin, |s, now| {
        s.query(now, Query::new("beatles help"), ttl)
    });
    net.run_until_quiet();

    let dist = graph.bfs_distances(origin);
    let expected: BTreeSet<u16> = holders
        .iter()
        .filter(|&&h| dist[h] <= ttl as u32)
        .map(|&h| 10_000 + h as u16)
        .collect();
    assert!(
        !expected.is_empty() && expected.len() < holders.len(),
        "test needs hits and misses"
    );
    let hits: Vec<(QueryHit, u8)> = net
        .take_events(origin)
        .into_iter()
        .filter_map(|e| match e {
            Event::QueryHit {
                query, hit, hops, ..
            } if query == guid => Some((hit, hops)),
            _ => None,
        })
        .collect();
    let ports: BTreeSet<u16> = hits.iter().map(|(h, _)| h.port).collect();
    assert_eq!(ports, expected);
    assert_eq!(hits.len(), expected.len(), "one hit per holder");
    for (hit, hops) in &hits {
        let holder = (hit.port - 10_000) as usize;
        assert_eq!(
            *hops as u32, dist[holder],
            "hit from {holder} took the shortest path back"
        );
        assert_eq!(hit.results[0].name, b"Beatles - Help.mp3");
        assert_eq!(hit.servent_id, config(holder, 7).servent_id);
    }

    // The reverse path: each servent's route for the GUID is the neighbour that first sent
    // it the Query. Every QueryHit hop must follow that route, so no other servent sees it.
    let mut first_from: HashMap<usize, usize> = HashMap::new();
    for t in net.trace() {
        if t.descriptor.guid == guid && t.descriptor.payload_type() == PayloadType::Query {
            first_from.entry(t.to).or_insert(t.from);
        }
    }
    let hit_hops: Vec<_> = net
        .trace()
        .iter()
        .filter(|t| t.descriptor.payload_type() == PayloadType::QueryHit)
        .collect();
    assert!(!hit_hops.is_empty());
    for t in hit_hops {
        assert_eq!(
            first_from.get(&t.from),
            Some(&t.to),
            "hit hop {} -> {} off the reverse path",
            t.from,
            t.to
        );
    }
}

fn some_hit(guid: Guid) -> Descriptor {
    let hit = QueryHit {
        port: 6346,
        ip: Ipv4Addr::new(192, 0, 2, 1),
        speed: 1000,
        results: vec![],
        trailer: None,
        servent_id: Guid([9; 16]),
    };
    Descriptor::new(guid, 5, 1, Payload::QueryHit(hit))
}

#[test]
fn a_hit_without_a_route_or_after_expiry_is_dropped() {
    let graph = ring_graph(10, 0, 1); // a plain ring: 0 - 1 - 2 - ... - 9 - 0
    let mut net = Network::new(graph, 1, |i| Config {
        query_route_ttl: Duration::from_secs(10),
        ..config(i, 7)
    });
    // Unknown GUID: dropped at once, nothing sent.
    net.inject(3, 2, some_hit(Guid([1; 16])));
    net.run_until_quiet();
    assert_eq!(net.node(2).stats().dropped(DropReason::NoRoute), 1);
    assert_eq!(net.total_sent(), 0);

    // A live route: node 1 received the query from node 0, so a hit arriving at node 1
    // from node 2 goes to node 0 and is delivered there.
    let guid = net.with_node(0, |s, now| s.query(now, Query::new("x"), 2));
    net.run_until_quiet();
    let before = net.total_sent();
    net.inject(2, 1, some_hit(guid));
    net.run_until_quiet();
    assert_eq!(net.total_sent(), before + 1);
    assert!(net
        .take_events(0)
        .iter()
        .any(|e| matches!(e, Event::QueryHit { query, .. } if *query == guid)));

    // After the route expired the same hit is dropped as unroutable.
    net.advance(Duration::from_secs(11));
    net.inject(2, 1, some_hit(guid));
    net.run_until_quiet();
    assert_eq!(net.total_sent(), before + 1);
    assert_eq!(net.node(1).stats().dropped(DropReason::NoRoute), 1);
}

fn query_descriptor(ttl: u8, hops: u8) -> Descriptor {
    Descriptor::new(Guid::new_v4(), ttl, hops, Payload::Query(Query::new("abc")))
}

#[test]
fn ttl_rules_clamp_drop_and_never_raise() {
    let graph = ring_graph(5, 0, 1);
    let mut net = network(graph, 7);
    let forwarded = |net: &Network, guid: Guid| -> Vec<(u8, u8)> {
        net.trace()
            .iter()
            .filter(|t| t.descriptor.guid == guid && t.from == 1)
            .map(|t| (t.descriptor.ttl, t.descriptor.hops))
            .collect()
    };
    // TTL 10 + hops 2 > 7: clamped to TTL 5, forwarded as TTL 4, hops 3.
    let d = query_descriptor(10, 2);
    let guid = d.guid;
    net.inject(0, 1, d);
    assert_eq!(forwarded(&net, guid), vec![(4, 3)]);
    // TTL 2, hops 0: forwarded as TTL 1 (never raised to the maximum).
    let d = query_descriptor(2, 0);
    let guid = d.guid;
    net.inject(0, 1, d);
    assert_eq!(forwarded(&net, guid), vec![(1, 1)]);
    // TTL 1: answered but not forwarded.
    let d = query_descriptor(1, 0);
    let guid = d.guid;
    net.inject(0, 1, d);
    assert!(forwarded(&net, guid).is_empty());
    // TTL above 15: dropped. TTL 0: dropped. Hops already at the maximum: dropped.
    for (ttl, hops, reason) in [
        (16, 0, DropReason::TtlTooHigh),
        (255, 0, DropReason::TtlTooHigh),
        (0, 3, DropReason::TtlExpired),
        (3, 7, DropReason::TtlExpired),
    ] {
        let before = net.node(1).stats().dropped(reason);
        let d = query_descriptor(ttl, hops);
        let guid = d.guid;
        net.inject(0, 1, d);
        assert!(forwarded(&net, guid).is_empty(), "ttl {ttl} hops {hops}");
        assert_eq!(
            net.node(1).stats().dropped(reason),
            before + 1,
            "ttl {ttl} hops {hops}"
        );
    }
}

#[test]
fn without_pong_caching_a_ping_floods_and_every_servent_within_its_ttl_answers() {
    let graph = ring_graph(60, 40, 9);
    let mut net = Network::new(graph.clone(), 1, |i| Config {
        pong_caching: false,
        ..config(i, 7)
    });
    let origin = 5;
    let ttl = 3;
    net.with_node(origin, |s, now| s.ping(now, ttl));
    net.run_until_quiet();
    let pongs: BTreeSet<usize> = net
        .take_events(origin)
        .into_iter()
        .filter_map(|e| match e {
            Event::Pong {
                pong, ours: true, ..
            } => Some((pong.port - 10_000) as usize),
            _ => None,
        })
        .collect();
    assert_eq!(pongs, within(&graph, origin, ttl as u32));
}

/// The Pongs to `origin`'s own Pings: the servents they name, with their hops.
fn pongs_by_hops(net: &mut Network, origin: usize) -> HashMap<usize, u8> {
    net.take_events(origin)
        .into_iter()
        .filter_map(|e| match e {
            Event::Pong {
                pong,
                hops,
                ours: true,
                ..
            } => Some(((pong.port - 10_000) as usize, hops)),
            _ => None,
        })
        .collect()
}

#[test]
fn with_pong_caching_a_ping_is_answered_from_caches_and_never_relayed() {
    // A line 0 - 1 - 2 - ... - 9: nobody knows anyone beyond its neighbours yet.
    let graph = Graph::from_edges(10, (0..9).map(|i| (i, i + 1)).collect());
    let mut net = network(graph.clone(), 7);
    net.with_node(0, |s, now| s.ping(now, 7));
    net.run_until_quiet();
    let first = pongs_by_hops(&mut net, 0);
    assert_eq!(first, HashMap::from([(1, 1)]), "only the neighbour answers");
    let pings_sent: u64 = (0..10)
        .map(|i| net.node(i).stats().sent(PayloadType::Ping))
        .sum();
    assert_eq!(pings_sent, 1, "the Ping was not relayed");

    // Every servent asks its neighbours for hosts, a few rounds (as links open and caches
    // refresh): each round carries hosts one hop farther, and nothing floods.
    for _round in 0..4 {
        for i in 0..10 {
            let neighbours: Vec<u32> = graph.neighbours(i).to_vec();
            for n in neighbours {
                net.with_node(i, |s, now| s.discover_from(now, PeerId(n)));
            }
        }
        net.run_until_quiet();
    }
    for i in 0..10 {
        net.take_events(i);
    }
    let before: u64 = (0..10)
        .map(|i| net.node(i).stats().sent(PayloadType::Ping))
        .sum();
    net.with_node(0, |s, now| s.ping(now, 7));
    net.run_until_quiet();
    let after: u64 = (0..10)
        .map(|i| net.node(i).stats().sent(PayloadType::Ping))
        .sum();
    assert_eq!(after - before, 1, "still one Ping: answered, not relayed");
    let got = pongs_by_hops(&mut net, 0);
    // Servent 1 answers with its own Pong and up to ten cached ones, each naming a
    // servent at the distance it really is from us.
    assert!(got.len() >= 4, "hosts beyond the neighbour: {got:?}");
    assert!(got.len() <= 1 + servent::core::config::CACHED_PONGS_PER_PING);
    for (&who, &hops) in &got {
        assert_eq!(hops as usize, who, "servent {who} is {who} hops away");
    }
    assert!(!got.contains_key(&0), "never our own address");
    assert!(net.node(1).stats().pongs_from_cache > 0);
}

#[test]
fn a_keep_alive_gets_one_pong_and_a_crawler_ping_the_neighbours() {
    // A star: 0 in the middle, 1..=4 around it; 0's cache knows its neighbours.
    let graph = Graph::from_edges(5, (1..5).map(|i| (0, i)).collect());
    let mut net = network(graph, 7);
    for n in 1..5 {
        net.with_node(0, |s, now| s.discover_from(now, PeerId(n)));
    }
    net.run_until_quiet();
    assert_eq!(net.node(0).cached_pongs(), 4);
    let pongs_sent = |net: &Network| net.node(0).stats().sent(PayloadType::Pong);

    let before = pongs_sent(&net);
    net.inject(
        1,
        0,
        Descriptor::new(Guid::new_v4(), 1, 0, Payload::Ping(Ping::default())),
    );
    net.run_until_quiet();
    assert_eq!(pongs_sent(&net) - before, 1, "keep-alive: our Pong only");

    let before = pongs_sent(&net);
    net.inject(
        1,
        0,
        Descriptor::new(Guid::new_v4(), 2, 0, Payload::Ping(Ping::default())),
    );
    net.run_until_quiet();
    assert_eq!(
        pongs_sent(&net) - before,
        1 + 3,
        "crawler Ping: ours and the other three neighbours' (never the asker's own)"
    );
}

#[test]
fn discovery_pings_are_spaced_by_the_interval() {
    let graph = Graph::from_edges(3, vec![(0, 1), (1, 2)]);
    let mut net = network(graph, 7);
    let first = net.with_node(1, |s, now| s.discover_hosts(now));
    assert!(first.is_some());
    assert!(net.with_node(1, |s, now| s.discover_hosts(now)).is_none());
    net.advance(servent::core::config::DISCOVERY_PING_INTERVAL);
    assert!(net.with_node(1, |s, now| s.discover_hosts(now)).is_some());
}

#[test]
fn a_push_follows_the_query_hit_back_to_the_responder() {
    let graph = ring_graph(30, 10, 2);
    let mut net = network(graph, 7);
    let (origin, holder) = (0usize, 4usize);
    share(&mut net, holder, "song.ogg");
    net.with_node(origin, |s, now| s.query(now, Query::new("song"), 7));
    net.run_until_quiet();
    let hit = net
        .take_events(origin)
        .into_iter()
        .find_map(|e| match e {
            Event::QueryHit { hit, .. } => Some(hit),
            _ => None,
        })
        .expect("a hit");
    let push = Push {
        servent_id: hit.servent_id,
        file_index: 7,
        ip: Ipv4Addr::new(192, 0, 2, 7),
        port: 6346,
        ggep: None,
    };
    assert!(net.with_node(origin, |s, now| s.push(now, push.clone())));
    net.run_until_quiet();
    let got: Vec<_> = net
        .take_events(holder)
        .into_iter()
        .filter_map(|e| match e {
            Event::PushRequest { push, .. } => Some(push),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![push]);
}

#[test]
fn byes_and_vendor_messages_are_hop_local() {
    let mut net = network(ring_graph(4, 0, 1), 7);
    let bye = Bye {
        code: 200,
        reason: "shutting down".into(),
    };
    net.inject(
        0,
        1,
        Descriptor::new(Guid::new_v4(), 1, 0, Payload::Bye(bye.clone())),
    );
    let vendor = Payload::Opaque {
        kind: PayloadType::Vendor,
        bytes: b"GTKG\x01\x00\x01\x00".to_vec(),
    };
    net.inject(0, 1, Descriptor::new(Guid::new_v4(), 1, 0, vendor));
    net.run_until_quiet();
    assert_eq!(net.total_sent(), 0);
    assert!(matches!(&net.take_events(1)[..], [Event::Bye { bye: b, .. }] if *b == bye));
}

#[test]
fn a_ping_flood_from_one_link_is_rate_limited() {
    let mut net = network(ring_graph(3, 0, 1), 7);
    for _ in 0..100 {
        net.inject(
            0,
            1,
            Descriptor::new(Guid::new_v4(), 1, 0, Payload::Ping(Ping::default())),
        );
    }
    let stats = net.node(1).stats();
    assert_eq!(
        stats.dropped(DropReason::RateLimited),
        100 - servent::core::config::PING_BURST as u64
    );
    assert_eq!(
        stats.sent(PayloadType::Pong),
        servent::core::config::PING_BURST as u64
    );
}

fn flood_cost(graph: &Graph, origin: usize, ttl: u8) -> u64 {
    let mut net = Network::new(graph.clone(), 1, |i| config(i, 15));
    net.keep_events(false);
    net.with_node(origin, |s, now| {
        s.query(now, Query::new("nothing here"), ttl)
    });
    net.run_until_quiet();
    net.sent[PayloadType::Query.index()]
}

#[test]
fn a_full_flood_costs_2e_minus_n_minus_1_on_generated_and_real_graphs() {
    let generated = Graph::random_mean_degree(2_000, 4.0, &mut ChaCha8Rng::seed_from_u64(11))
        .largest_component();
    let gnutella = snap("p2p-Gnutella09.txt").largest_component();
    assert!(gnutella.node_count() > 8_000);
    for (name, graph) in [("G(n,m)", generated), ("p2p-Gnutella09", gnutella)] {
        let origin = 0;
        let ecc = *graph.bfs_distances(origin).iter().max().unwrap();
        let ttl = (ecc + 1) as u8;
        assert!(ttl <= 15, "{name}: eccentricity {ecc} too large for TTL 15");
        let (n, e) = (graph.node_count() as u64, graph.edge_count() as u64);
        assert_eq!(flood_cost(&graph, origin, ttl), 2 * e - (n - 1), "{name}");
        // TTL-bounded floods match the per-distance formula too.
        for ttl in [2u8, 3, 4] {
            assert_eq!(
                flood_cost(&graph, origin, ttl),
                graph.flood_cost(origin, ttl as u32),
                "{name} ttl {ttl}"
            );
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let run = || {
        let mut net = network(ring_graph(80, 60, 4), 7);
        share(&mut net, 33, "needle.txt");
        net.with_node(1, |s, now| s.query(now, Query::new("needle"), 5));
        net.run_until_quiet();
        net.trace()
            .iter()
            .map(|t| (t.at, t.from, t.to, t.descriptor.guid, t.descriptor.ttl))
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

#[test]
fn an_unsolicited_pong_is_dropped_and_names_no_host() {
    use servent::proto::payload::Pong;
    let mut net = network(ring_graph(3, 0, 1), 7);
    let pong = Pong {
        port: 6346,
        ip: Ipv4Addr::new(192, 0, 2, 9),
        files_shared: 1,
        kbytes_shared: 1,
        ggep: None,
    };
    net.inject(
        0,
        1,
        Descriptor::new(Guid::new_v4(), 3, 0, Payload::Pong(pong)),
    );
    net.run_until_quiet();
    assert_eq!(net.node(1).stats().dropped(DropReason::NoRoute), 1);
    assert!(
        net.take_events(1).is_empty(),
        "no Pong event: the host cache is not fed"
    );
    assert_eq!(net.total_sent(), 0);
}

/// The copies a core queued since the last drain: (peer, type, TTL, hops).
fn drain(core: &mut Servent) -> Vec<(PeerId, PayloadType, u8, u8)> {
    std::iter::from_fn(|| core.poll_transmit())
        .map(|t| {
            let d = &t.descriptor;
            (t.peer, d.payload_type(), d.ttl, d.hops)
        })
        .collect()
}

#[test]
fn a_later_query_copy_with_more_ttl_is_relayed_again_and_takes_the_reverse_route() {
    let (a, b, c) = (PeerId(1), PeerId(2), PeerId(3));
    let mut core = Servent::new(config(0, 7));
    core.set_matcher(SharedFiles {
        matcher: Box::new(ListMatcher(vec![LocalFile {
            index: 1,
            size: 10,
            name: "abc.txt".into(),
            sha1_urn: None,
        }])),
        files: 1,
        kbytes: 1,
    });
    let now = Duration::ZERO;
    for p in [a, b, c] {
        core.handle_connected(now, p, Default::default());
    }
    let guid = Guid([0x47; 16]);
    let copy = |ttl: u8| Descriptor::new(guid, ttl, 7 - ttl, Payload::Query(Query::new("abc")));

    // The first copy, the long way round: TTL 1. Answered (to A), not relayed.
    core.handle_descriptor(now, a, copy(1));
    assert_eq!(drain(&mut core), vec![(a, PayloadType::QueryHit, 7, 0)]);

    // A later copy with TTL 3 came the short way: relayed with TTL 2, hops 5 to everyone
    // but its sender, not answered again, not a duplicate.
    core.handle_descriptor(now, b, copy(3));
    let sent = drain(&mut core);
    assert_eq!(
        sent,
        vec![(a, PayloadType::Query, 2, 5), (c, PayloadType::Query, 2, 5)]
    );
    assert_eq!(core.stats().relayed_better_ttl, 1);
    assert_eq!(core.stats().dropped(DropReason::Duplicate), 0);
    assert_eq!(core.stats().queries_answered, 1);

    // Its sender is now the reverse route: a QueryHit from C goes to B, not A.
    core.handle_descriptor(now, c, some_hit(guid));
    assert_eq!(drain(&mut core), vec![(b, PayloadType::QueryHit, 4, 2)]);

    // A copy with less TTL than the best, or as much: a duplicate, nothing sent.
    core.handle_descriptor(now, c, copy(2));
    core.handle_descriptor(now, a, copy(3));
    assert!(drain(&mut core).is_empty());
    assert_eq!(core.stats().dropped(DropReason::Duplicate), 2);

    // Bounded: at most MAX_BETTER_TTL_RELAYS copies are relayed again, each with more TTL
    // than the last; a further better copy is a duplicate and the route stays put.
    assert!((1..=4).contains(&MAX_BETTER_TTL_RELAYS));
    let mut ttl = 3;
    for _ in 1..MAX_BETTER_TTL_RELAYS {
        ttl += 1;
        core.handle_descriptor(now, a, copy(ttl));
        let sent = drain(&mut core);
        assert_eq!(sent.len(), 2, "ttl {ttl}: {sent:?}");
        assert!(sent.iter().all(|&(p, _, t, _)| p != a && t == ttl - 1));
    }
    let last = if MAX_BETTER_TTL_RELAYS > 1 { a } else { b };
    core.handle_descriptor(now, c, copy(ttl + 1));
    assert!(drain(&mut core).is_empty());
    assert_eq!(
        core.stats().relayed_better_ttl,
        u64::from(MAX_BETTER_TTL_RELAYS)
    );
    assert_eq!(core.stats().dropped(DropReason::Duplicate), 3);
    core.handle_descriptor(now, b, some_hit(guid));
    let back = drain(&mut core);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].0, last);
    assert_eq!(core.stats().queries_answered, 1);
}

#[test]
fn our_own_query_and_walkers_are_never_relayed_again_for_their_ttl() {
    let (a, b) = (PeerId(1), PeerId(2));
    let mut core = Servent::new(config(0, 7));
    let now = Duration::ZERO;
    for p in [a, b] {
        core.handle_connected(now, p, Default::default());
    }
    // Ours: a copy coming back, whatever its TTL, is a duplicate.
    let ours = core.query(now, Query::new("abc"), 3);
    drain(&mut core);
    core.handle_descriptor(
        now,
        a,
        Descriptor::new(ours, 6, 1, Payload::Query(Query::new("abc"))),
    );
    assert!(drain(&mut core).is_empty());

    // A walker-marked Query from a peer without walker support takes the flood path, but
    // a walk is not a flood: a later copy with more TTL is a duplicate too.
    let tag = WalkerTag {
        walker: 0,
        check_every: 0,
        remember_neighbours: false,
        look_ahead: false,
        degree_bias: false,
        steps: 1,
        steps_left: 5,
        sender_path: 0,
    };
    let walker = tag.apply(&Query::new("abc"));
    let guid = Guid([0x57; 16]);
    core.handle_descriptor(
        now,
        a,
        Descriptor::new(guid, 1, 5, Payload::Query(walker.clone())),
    );
    core.handle_descriptor(now, b, Descriptor::new(guid, 3, 3, Payload::Query(walker)));
    assert!(drain(&mut core).is_empty());
    assert_eq!(core.stats().relayed_better_ttl, 0);
    assert_eq!(core.stats().dropped(DropReason::Duplicate), 2);
}
