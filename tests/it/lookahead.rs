//! Look-ahead walkers (`walk:look=1`, protocol/README.md section 9.8): at every servent
//! a walker reaches first, the Query goes one hop on to the ultrapeer neighbours whose
//! query routing tables may match, and the walker ends where it finds; the requester
//! looks ahead itself before any walker leaves. Exact counts on small graphs in the
//! simulator, the accounting identity on a power-law graph, and the same walk over a
//! loopback TCP mesh as in the simulator.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::core::strategy::SearchEnd;
use servent::core::{SharedFiles, Strategy};
use servent::net::mesh::{wait_until, Mesh};
use servent::net::{NodeConfig, NodeShare, Timing};
use servent::rt;
use servent::sim::experiment::{build_shared_network, object_query};
use servent::sim::workload::{ObjectMatcher, Placement};
use servent::sim::{node_config, run_search, Latency, Network};
use servent::topology::Graph;

use crate::simtcp::per_servent;

/// A line 0 - 1 - ... - (n-1).
fn line(n: usize) -> Graph {
    Graph::from_edges(n, (0..n as u32 - 1).map(|i| (i, i + 1)).collect())
}

fn strategy(text: &str) -> Strategy {
    text.parse().unwrap()
}

/// A simulated network of `graph` whose ultrapeers exchange query routing tables, with
/// object 0 at `holders`.
fn network(graph: &Graph, holders: &[u32], seed: u64) -> Network {
    let placement = Arc::new(Placement::from_holders(
        graph.node_count(),
        &[holders.to_vec()],
    ));
    build_shared_network(
        Arc::new(graph.clone()),
        &placement,
        seed,
        Latency::default(),
        true,
    )
}

#[test]
fn a_look_ahead_walker_steps_until_a_neighbours_table_matches_and_ends_there() {
    // Holder 4 on a line from 0: the walker steps 0 -> 1 -> 2 -> 3 (3 Query messages),
    // servent 3 sees 4's table match and hands it the Query (1 more), and the walker
    // ends at 3 without a check. Its hit comes back 4 -> 3 -> 2 -> 1 -> 0.
    let graph = line(8);
    let mut net = network(&graph, &[4], 1);
    let look = strategy("walk:k=1,check=4,want=1,look=1");
    let out = run_search(&mut net, 0, object_query(0, 1), &look, None, true).unwrap();
    let cost = out.cost.expect("the walk ended");
    assert_eq!(out.sim.query_messages, 4, "3 steps and 1 look ahead");
    assert_eq!(
        out.sim.check_messages, 0,
        "no check: the walker ended at its find"
    );
    assert_eq!(out.sim.hit_messages, 4);
    assert_eq!(out.sim.first_hit_hops, Some(4));
    assert_eq!(
        cost.first_hit_steps,
        Some(4),
        "the look ahead is the 4th step"
    );
    assert_eq!(cost.end, Some(SearchEnd::Satisfied));
    let (steps, sends): (u64, u64) = (0..graph.node_count())
        .map(|i| {
            let st = net.node(i).stats();
            (st.walker_steps, st.look_ahead_sends)
        })
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    assert_eq!((steps, sends), (3, 1));
    assert_eq!(
        net.node(3).stats().walkers_ended,
        1,
        "the walker ended at 3"
    );

    // The same walk without looking ahead steps onto the holder and checks there: 4
    // steps and a check along the 4-hop path (2 x 4).
    let mut net = network(&graph, &[4], 1);
    let plain = strategy("walk:k=1,check=4,want=1");
    let out = run_search(&mut net, 0, object_query(0, 1), &plain, None, true).unwrap();
    assert_eq!(out.sim.query_messages, 4);
    assert_eq!(out.sim.check_messages, 8);
}

#[test]
fn the_requester_looks_ahead_first_and_sends_no_walker_when_its_neighbours_match() {
    // Holder 1 next to requester 0: its table matches, one Query goes to it, no walker
    // leaves, and its hit satisfies the search.
    let graph = line(8);
    let mut net = network(&graph, &[1], 1);
    let look = strategy("walk:k=16,check=4,want=1,look=1");
    let out = run_search(&mut net, 0, object_query(0, 1), &look, None, true).unwrap();
    let cost = out.cost.expect("the walk ended");
    assert_eq!(out.sim.query_messages, 1);
    assert_eq!(out.sim.hit_messages, 1);
    assert_eq!(cost.walkers, 0, "no walker was needed");
    assert_eq!(cost.first_hit_steps, Some(1));
    assert_eq!(cost.end, Some(SearchEnd::Satisfied));

    // Wanting 2 results with one matching neighbour: the probe goes out and the walkers
    // leave at once (1 + 16 first steps at least); the search still ends satisfied.
    let mut net = network(&graph, &[1, 6], 1);
    let want2 = strategy("walk:k=16,check=4,want=2,look=1");
    let out = run_search(&mut net, 0, object_query(0, 2), &want2, None, true).unwrap();
    let cost = out.cost.expect("the walk ended");
    assert_eq!(cost.walkers, 16);
    assert!(out.sim.query_messages >= 17, "{}", out.sim.query_messages);
    assert_eq!(cost.end, Some(SearchEnd::Satisfied));
}

#[test]
fn every_query_message_of_a_look_ahead_walk_is_a_step_or_a_look_ahead() {
    // On a power-law graph with 1% replication, 16 degree-biased look-ahead walkers:
    // the Query messages the simulator counted on the links are exactly the steps the
    // servents took plus the look-aheads they sent, and every walk that ends satisfied
    // ended a walker somewhere (at its find) or needed none (the requester's look ahead).
    let graph = Graph::plrg(2_000, 2.1, 1, usize::MAX, &mut ChaCha8Rng::seed_from_u64(3))
        .largest_component();
    let n = graph.node_count();
    let holders: Vec<u32> = (0..n as u32).filter(|i| i % 100 == 7).collect();
    let look = strategy("walk:k=16,check=4,want=1,via=udp,look=1,bias=degree");
    let mut net = network(&graph, &holders, 5);
    let totals = |net: &Network| -> (u64, u64, u64) {
        (0..n)
            .map(|i| {
                let st = net.node(i).stats();
                (st.walker_steps, st.look_ahead_sends, st.walkers_ended)
            })
            .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
    };
    let mut satisfied = 0;
    for origin in (0..n).step_by(97).take(12) {
        let before = totals(&net);
        let key = Some(origin as u64 + 1);
        let out = run_search(&mut net, origin, object_query(0, 1), &look, key, false).unwrap();
        let after = totals(&net);
        let (steps, sends) = (after.0 - before.0, after.1 - before.1);
        assert_eq!(out.sim.query_messages, steps + sends, "origin {origin}");
        if out.sim.satisfied {
            satisfied += 1;
            let cost = out.cost.unwrap();
            assert!(cost.walkers == 0 || after.2 > before.2, "origin {origin}");
        }
    }
    assert_eq!(satisfied, 12, "every search found the object");
}

#[test]
fn a_look_ahead_walk_over_tcp_is_the_simulators_servent_by_servent() {
    // 60 servents on a ring with chords, object 0 at three of them, the simulator's
    // servent IDs and seeds: real servents exchange ultrapeer tables on their links as
    // the simulator's do with tables on, so one look-ahead walker takes the same steps
    // and looks ahead to the same servents. (Unbiased: a real servent's `X-Degree` is
    // its configured link maximum, the same 64 for all here, where the simulator
    // announces each servent's degree in the graph.)
    const SEED: u64 = 42;
    let graph = Graph::ring_with_chords(60, 30, &mut ChaCha8Rng::seed_from_u64(SEED));
    let holders = vec![17u32, 33, 48];
    let placement = Arc::new(Placement::from_holders(60, std::slice::from_ref(&holders)));
    let look = strategy("walk:k=1,steps=60,check=0,want=1,look=1");
    let mut net = network(&graph, &holders, SEED);
    let out = run_search(&mut net, 0, object_query(0, 0), &look, None, true).unwrap();
    let sim_cost = out.cost.expect("the walk ended");
    let now = net.now();
    let sim_path = per_servent(60, &sim_cost.guids, |i, g| {
        net.node(i).query_traffic(g, now)
    });
    assert!(out.sim.query_messages > 1, "the walker walked");

    rt::block_on(async {
        let mesh = Mesh::start_sharing(
            graph.clone(),
            |i| {
                let c = node_config(SEED, i, Latency::default());
                NodeConfig {
                    min_peers: 0,
                    max_peers: 64,
                    max_ttl: c.max_ttl,
                    seed: Some(c.seed),
                    servent_id: Some(c.servent_id),
                    timing: Timing {
                        min_search_timeout: Duration::from_secs(2),
                        ..Timing::default()
                    },
                    ..NodeConfig::default()
                }
            },
            |i| {
                let matcher = ObjectMatcher {
                    placement: Arc::clone(&placement),
                    node: i,
                };
                let files = placement.objects_of(i).len() as u32;
                NodeShare::Matcher(SharedFiles {
                    matcher: Box::new(matcher),
                    files,
                    kbytes: files * 1024,
                })
            },
        )
        .await
        .unwrap();
        assert!(mesh.wait_linked(Duration::from_secs(30)).await);
        // Every servent holds every neighbour's table before the walk starts.
        let all_tables = || {
            mesh.nodes.iter().all(|node| {
                node.with_servent(|s| {
                    let ids: Vec<_> = s.peers().map(|(id, _)| id).collect();
                    ids.iter().all(|&id| s.qrp_table_of(id).is_some())
                })
            })
        };
        assert!(
            wait_until(Duration::from_secs(30), all_tables).await,
            "tables exchanged"
        );
        let (_, cost) = mesh
            .search(0, object_query(0, 0), look, Duration::from_secs(60))
            .await
            .unwrap();
        let tcp_path = per_servent(60, &cost.guids, |i, g| mesh.nodes[i].query_traffic(g));
        assert_eq!(cost.traffic.queries, out.sim.query_messages);
        assert_eq!(tcp_path, sim_path, "the same servents, as often");
        assert_eq!(cost.first_hit_steps, sim_cost.first_hit_steps);
        mesh.shutdown().await;
    });
}
