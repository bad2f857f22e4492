//! The simulator against the real network: the same topology (120 servents, loaded from an
//! edge-list file as `servent mesh --topology FILE` does) and the same seeds, run as a real
//! loopback TCP mesh and in the simulator. A flood whose TTL covers the graph costs exactly
//! 2E - (N - 1) in both, plus over TCP the copies relayed again for carrying more TTL
//! (each counted); a walker takes exactly the same steps through exactly
//! the same servents; a TTL-bounded flood may differ over TCP (arrival order decides which
//! copy a servent keeps) and the test reports by how much.

use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::core::{QueryTraffic, Strategy};
use servent::net::mesh::Mesh;
use servent::net::{NodeConfig, Timing};
use servent::rt;
use servent::sim::experiment::{build_network, object_query};
use servent::sim::workload::Placement;
use servent::sim::{node_config, run_search, Latency};
use servent::topology::Graph;

const SEED: u64 = 42;

/// Per-servent Query counts for a search's descriptor IDs (also `lookahead.rs`'s).
pub(crate) fn per_servent(
    n: usize,
    guids: &[servent::proto::Guid],
    lookup: impl Fn(usize, &servent::proto::Guid) -> Option<QueryTraffic>,
) -> Vec<u32> {
    (0..n)
        .map(|i| {
            guids
                .iter()
                .filter_map(|g| lookup(i, g))
                .map(|t| t.queries)
                .sum()
        })
        .collect()
}

/// Runs `strategy` from servent 0 in the simulator; returns Query messages sent and the
/// per-servent counts.
fn simulate(graph: &Graph, strategy: &Strategy) -> (u64, Vec<u32>) {
    let placement = std::sync::Arc::new(Placement::from_holders(graph.node_count(), &[vec![]]));
    let mut net = build_network(graph.clone(), &placement, SEED, Latency::default());
    let out = run_search(&mut net, 0, object_query(0, 0), strategy, None, true).unwrap();
    let cost = out.cost.expect("the search ended");
    let now = net.now();
    let counts = per_servent(graph.node_count(), &cost.guids, |i, g| {
        net.node(i).query_traffic(g, now)
    });
    (out.sim.query_messages, counts)
}

#[test]
fn simulator_and_tcp_mesh_agree_on_floods_and_walks() {
    // The topology goes through an edge-list file, as with `servent mesh --topology FILE`.
    let generated = Graph::ring_with_chords(120, 60, &mut ChaCha8Rng::seed_from_u64(SEED));
    let path = std::env::temp_dir().join(format!("servent-simtcp-{}.txt", std::process::id()));
    std::fs::write(&path, generated.to_edge_list()).unwrap();
    let graph = Graph::load_edge_list(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let (n, e) = (graph.node_count() as u64, graph.edge_count() as u64);
    assert_eq!((n, e), (120, 180));

    rt::block_on(async {
        let mesh = Mesh::start(graph.clone(), |i| {
            let c = node_config(SEED, i, Latency::default());
            NodeConfig {
                min_peers: 0,
                max_peers: 64,
                max_ttl: c.max_ttl,
                seed: Some(c.seed),
                servent_id: Some(c.servent_id),
                // On a loaded machine a verdict can take longer than the 20 ms floor of
                // a check's timeout on loopback; a timed-out check would end the walker
                // early (CI saw 4 steps of 40). Timeouts never fire here otherwise.
                timing: Timing {
                    min_search_timeout: Duration::from_secs(2),
                    ..Timing::default()
                },
                ..NodeConfig::default()
            }
        })
        .await
        .unwrap();
        assert!(mesh.wait_linked(Duration::from_secs(30)).await);
        let within = Duration::from_secs(60);

        // One walker, no replica: the same seeds must give the same walk, servent by
        // servent. (Run first: every servent's RNG is fresh in both worlds.)
        let walk: Strategy = "walk:k=1,steps=40,check=4,want=1,remember=true"
            .parse()
            .unwrap();
        let (sim_steps, sim_path) = simulate(&graph, &walk);
        let (_, cost) = mesh
            .search(0, object_query(0, 0), walk, within)
            .await
            .unwrap();
        let tcp_path = per_servent(mesh.nodes.len(), &cost.guids, |i, g| {
            mesh.nodes[i].query_traffic(g)
        });
        assert_eq!(sim_steps, 40);
        assert_eq!(cost.traffic.queries, sim_steps, "walker steps over TCP");
        assert_eq!(
            tcp_path, sim_path,
            "the walker visits the same servents the same number of times"
        );

        // A flood covering the graph: exactly 2E - (N - 1) in the simulator. Over TCP a
        // servent may first hear a copy that came the long way; a later copy with more TTL
        // is relayed once more, to every link but its sender (protocol/README.md section
        // 7): those copies, counted by each servent, are the only difference.
        let better = || -> Vec<u64> {
            (0..mesh.nodes.len())
                .map(|i| mesh.nodes[i].with_servent(|s| s.stats().relayed_better_ttl))
                .collect()
        };
        let flood: Strategy = "flood:ttl=15".parse().unwrap();
        let (sim_full, _) = simulate(&graph, &flood);
        let before = better();
        let (_, cost) = mesh
            .search(0, object_query(0, 0), flood, within)
            .await
            .unwrap();
        let again: u64 = (better().iter().zip(&before).enumerate())
            .map(|(i, (after, before))| (after - before) * (graph.degree(i) as u64 - 1))
            .sum();
        assert_eq!(sim_full, 2 * e - (n - 1));
        assert_eq!(
            cost.traffic.queries,
            sim_full + again,
            "full flood over TCP"
        );
        eprintln!("full flood: {again} Query messages relayed again for more TTL over TCP");

        // A TTL-bounded flood: the simulator is exact (the per-distance formula); over TCP
        // a servent may first hear a copy with less TTL left. Report the difference.
        let bounded: Strategy = "flood:ttl=3".parse().unwrap();
        let (sim_bounded, _) = simulate(&graph, &bounded);
        let (_, cost) = mesh
            .search(0, object_query(0, 0), bounded, within)
            .await
            .unwrap();
        let tcp_bounded = cost.traffic.queries;
        eprintln!(
            "TTL 3 flood: simulator {sim_bounded}, TCP {tcp_bounded} Query messages ({:+})",
            tcp_bounded as i64 - sim_bounded as i64
        );
        assert!(tcp_bounded > 0 && tcp_bounded <= sim_full);
        mesh.shutdown().await;
    });
}
