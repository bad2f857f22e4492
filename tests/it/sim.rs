//! The simulator and `servent compare` checked against analysis: a flood's message count
//! equals the graph formulas on every generator and on SNAP crawls, the per-query cost
//! record agrees with what the cores themselves counted, hops to the first hit are the
//! BFS distance to the nearest replica, and a seed fixes every number.

use std::path::PathBuf;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::core::DropReason;
use servent::sim::experiment::{build_network, run_strategy};
use servent::sim::spec::parse_strategies;
use servent::sim::workload::Placement;
use servent::sim::{
    run_one_query, run_query, Graph, Latency, StrategySpec, TopologySpec, Workload, WorkloadSpec,
};

/// `shared/data` beside the repository (or beside any ancestor: worktrees sit deeper).
fn data_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/data"))
        .find(|d| d.join("p2p-Gnutella08.txt").exists())
        .expect("shared/data with the SNAP p2p-Gnutella files next to the repository")
}

fn snap(name: &str) -> Graph {
    Graph::load_edge_list(&data_dir().join(name))
        .unwrap()
        .largest_component()
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Flood cost from analysis (unit latency): the origin sends to every neighbour; every
/// servent at distance 1..TTL-1 relays to all its neighbours but the one it heard from.
fn bounded_flood_cost(graph: &Graph, origin: usize, ttl: u32) -> u64 {
    let dist = graph.bfs_distances(origin);
    let relays: u64 = (0..graph.node_count())
        .filter(|&v| v != origin && dist[v] >= 1 && dist[v] < ttl)
        .map(|v| graph.degree(v) as u64 - 1)
        .sum();
    graph.degree(origin) as u64 + relays
}

fn flood(ttl: u8) -> StrategySpec {
    StrategySpec::Flood { ttl }
}

fn assert_flood_formulas(name: &str, graph: &Graph, origins: &[usize]) {
    assert_eq!(graph.component_sizes().len(), 1, "{name} must be connected");
    let (n, e) = (graph.node_count() as u64, graph.edge_count() as u64);
    for &origin in origins {
        let ecc = graph.eccentricity(origin);
        assert!(ecc < 15, "{name}: eccentricity {ecc} too large for TTL 15");
        let full = run_one_query(graph, 1, &flood(ecc as u8 + 1), origin, &[], 1).unwrap();
        assert_eq!(full.query_messages, 2 * e - (n - 1), "{name} full flood");
        assert_eq!(full.visited, n - 1, "{name}: every other servent reached");
        assert_eq!(full.duplicates, full.query_messages - (n - 1));
        for ttl in 1..=ecc.min(5) {
            let cost = run_one_query(graph, 1, &flood(ttl as u8), origin, &[], 1).unwrap();
            assert_eq!(
                cost.query_messages,
                bounded_flood_cost(graph, origin, ttl),
                "{name} origin {origin} ttl {ttl}"
            );
            let within = graph
                .bfs_distances(origin)
                .iter()
                .filter(|&&d| d >= 1 && d <= ttl)
                .count() as u64;
            assert_eq!(cost.visited, within, "{name} ttl {ttl}: servents reached");
        }
    }
}

#[test]
fn floods_cost_exactly_the_formulas_on_generated_graphs() {
    let plrg = Graph::plrg(3_000, 2.1, 1, usize::MAX, &mut rng(1)).largest_component();
    assert!(plrg.node_count() > 2_000 && plrg.max_degree() > 100);
    let plrg2 = Graph::plrg(2_000, 2.5, 2, 200, &mut rng(2)).largest_component();
    let ba = Graph::barabasi_albert(3_000, 2, &mut rng(3));
    let grid = Graph::grid(7, 6);
    let random = Graph::random_mean_degree(2_000, 4.0, &mut rng(4)).largest_component();
    for (name, g) in [
        ("PLRG 2.1", &plrg),
        ("PLRG 2.5 min 2", &plrg2),
        ("Barabasi-Albert", &ba),
        ("grid 7x6", &grid),
        ("G(n,m)", &random),
    ] {
        let hub = (0..g.node_count()).max_by_key(|&v| g.degree(v)).unwrap();
        let leaf = (0..g.node_count()).min_by_key(|&v| g.degree(v)).unwrap();
        assert_flood_formulas(name, g, &[0, hub, leaf]);
    }
}

#[test]
fn floods_cost_exactly_the_formulas_on_snap_crawls() {
    for file in ["p2p-Gnutella08.txt", "p2p-Gnutella05.txt"] {
        let g = snap(file);
        assert!(
            g.node_count() > 6_000,
            "{file}: {} servents",
            g.node_count()
        );
        assert_flood_formulas(file, &g, &[0, g.node_count() / 2]);
    }
}

#[test]
fn snap_files_load_with_the_published_counts() {
    let g = Graph::load_edge_list(&data_dir().join("p2p-Gnutella08.txt")).unwrap();
    assert_eq!((g.node_count(), g.edge_count()), (6_301, 20_777));
    let g = Graph::load_edge_list(&data_dir().join("p2p-Gnutella04.txt")).unwrap();
    assert_eq!((g.node_count(), g.edge_count()), (10_876, 39_994));
    // CRLF, comments and tabs; repeated and reversed edges collapse into one link.
    let g = Graph::parse_edge_list("# c\r\n1\t2\r\n2\t1\r\n2 3\r\n\r\n5\t5\r\n", "x").unwrap();
    assert_eq!((g.node_count(), g.edge_count()), (4, 2));
    assert_eq!(g.component_sizes(), vec![3, 1]);
    assert_eq!(g.largest_component().node_count(), 3);
}

#[test]
fn the_cost_record_agrees_with_the_cores_own_counters() {
    let graph = Graph::plrg(2_000, 2.1, 1, usize::MAX, &mut rng(5)).largest_component();
    let holders: Vec<u32> = vec![10, 500, 900];
    let placement = Arc::new(Placement::from_holders(
        graph.node_count(),
        std::slice::from_ref(&holders),
    ));
    let mut net = build_network(graph.clone(), &placement, 9, Latency::default());
    let origin = 77;
    let cost = run_query(&mut net, origin, 0, &flood(4), 0).unwrap();

    let dups: u64 = (0..net.len())
        .map(|i| net.node(i).stats().dropped(DropReason::Duplicate))
        .sum();
    assert_eq!(
        cost.duplicates, dups,
        "duplicates as the cores counted them"
    );
    let received: u64 = (0..net.len())
        .map(|i| {
            net.node(i)
                .stats()
                .received(servent::proto::PayloadType::Query)
        })
        .sum();
    assert_eq!(cost.query_messages, received);
    assert_eq!(cost.query_messages - cost.duplicates, cost.visited);

    // Hits: one per holder within the TTL, each costing its distance in QueryHit hops;
    // the first comes from the nearest holder.
    let dist = graph.bfs_distances(origin);
    let reached: Vec<u32> = holders
        .iter()
        .map(|&h| dist[h as usize])
        .filter(|&d| (1..=4).contains(&d))
        .collect();
    assert!(!reached.is_empty(), "test needs a holder within the TTL");
    assert_eq!(cost.hits as usize, reached.len());
    assert_eq!(
        cost.hit_messages,
        reached.iter().map(|&d| d as u64).sum::<u64>()
    );
    assert_eq!(
        cost.first_hit_hops.map(u32::from),
        reached.iter().copied().min()
    );
    assert_eq!(
        cost.first_hit_delay_us,
        Some(2 * 1000 * *reached.iter().min().unwrap() as u64),
        "at unit latency the first hit arrives after twice its distance in ms"
    );
    let load = net.load();
    assert_eq!(
        load.iter().map(|&l| l as u64).sum::<u64>(),
        net.total_sent()
    );
}

#[test]
fn a_query_nobody_can_answer_fails_and_costs_the_same() {
    let graph = Graph::barabasi_albert(500, 2, &mut rng(6));
    let miss = run_one_query(&graph, 3, &flood(3), 0, &[], 1).unwrap();
    assert_eq!(miss.hits, 0);
    assert_eq!(miss.first_hit_hops, None);
    assert!(!miss.success());
    let hit = run_one_query(&graph, 3, &flood(3), 0, &[1, 2, 3], 1).unwrap();
    assert!(hit.success());
    assert_eq!(hit.query_messages, miss.query_messages);
    assert!(run_one_query(&graph, 3, &flood(3), 500, &[], 1).is_err());
}

fn small_experiment(seed: u64, latency: Latency) -> String {
    let topo: TopologySpec = "plrg:n=1500,lcc".parse().unwrap();
    let graph = topo.build(&mut rng(seed)).unwrap();
    let spec = WorkloadSpec {
        objects: 20,
        replication: 0.01,
        queries: 60,
        ..WorkloadSpec::default()
    };
    let workload = Workload::generate(&spec, graph.node_count(), &mut rng(seed + 1));
    let mut net = build_network(graph, &workload.placement, seed, latency);
    let mut out = Vec::new();
    for s in parse_strategies("flood:ttl=2,flood:ttl=4").unwrap() {
        let mut calls = 0;
        let (summary, costs) = run_strategy(&mut net, &workload, &s, || calls += 1).unwrap();
        assert_eq!(calls, 60);
        assert_eq!(costs.len(), 60);
        assert_eq!(summary.queries, 60);
        out.push(serde_json::to_string(&summary).unwrap());
        out.push(serde_json::to_string(&costs).unwrap());
    }
    out.join("\n")
}

#[test]
fn the_same_seed_gives_the_same_numbers() {
    let a = small_experiment(1, Latency::default());
    assert_eq!(a, small_experiment(1, Latency::default()));
    assert_ne!(a, small_experiment(2, Latency::default()));
    let ms = std::time::Duration::from_millis;
    let jitter = Latency::Uniform(ms(1), ms(20));
    assert_eq!(small_experiment(1, jitter), small_experiment(1, jitter));
}

#[test]
fn a_bigger_ttl_finds_more_at_higher_cost() {
    let graph = Graph::random_mean_degree(3_000, 4.0, &mut rng(8)).largest_component();
    let spec = WorkloadSpec {
        objects: 30,
        replication: 0.005,
        queries: 100,
        ..WorkloadSpec::default()
    };
    let workload = Workload::generate(&spec, graph.node_count(), &mut rng(9));
    let mut net = build_network(graph, &workload.placement, 1, Latency::default());
    let mut last: Option<servent::sim::Summary> = None;
    for ttl in 1..=6 {
        let (s, _) = run_strategy(&mut net, &workload, &flood(ttl), || {}).unwrap();
        if let Some(prev) = &last {
            assert!(s.success_rate >= prev.success_rate, "ttl {ttl}");
            assert!(s.messages_per_query > prev.messages_per_query, "ttl {ttl}");
            assert!(s.peak_load >= prev.peak_load);
        }
        if let Some(p95) = s.p95_hops {
            assert!(p95 <= ttl, "no hit from beyond the TTL");
        }
        last = Some(s);
    }
    let last = last.unwrap();
    assert!(
        last.success_rate > 0.9,
        "TTL 6 covers the graph: {}",
        last.success_rate
    );
}

fn run_cli(args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_servent"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "servent {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn compare_prints_json_csv_svg_and_a_table() {
    let dir = std::env::temp_dir().join(format!("servent-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (csv, svg) = (dir.join("r.csv"), dir.join("r.svg"));
    let args = [
        "compare",
        "--topology",
        "random:n=400,degree=4,lcc",
        "--strategies",
        "flood:ttl=2,flood:ttl=5",
        "--queries",
        "40",
        "--objects",
        "10",
        "--replication",
        "0.02",
        "--seed",
        "3",
    ];
    let mut json_args = args.to_vec();
    json_args.extend([
        "--json",
        "--csv",
        csv.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    let out = run_cli(&json_args);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["seed"], 3);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["strategy"], "flood:ttl=2");
    assert_eq!(results[1]["queries"], 40);
    let (m2, m5) = (
        results[0]["messages_per_query"].as_f64().unwrap(),
        results[1]["messages_per_query"].as_f64().unwrap(),
    );
    assert!(m5 > m2 && m2 > 0.0);
    assert!(v["topology"]["servents"].as_u64().unwrap() > 300);

    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), 3);
    assert!(csv
        .lines()
        .nth(2)
        .unwrap()
        .starts_with("\"flood:ttl=5\",flood,40,"));
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("ttl=5"));

    // The table: same numbers, for people.
    let out = run_cli(&args);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("seed 3"), "{text}");
    assert!(text.contains("components: 1"), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("flood:ttl=5"))
        .expect("a row per strategy");
    assert!(row.contains(&format!(
        "{:.1}%",
        100.0 * results[1]["success_rate"].as_f64().unwrap()
    )));
    std::fs::remove_dir_all(&dir).unwrap();

    // Bad input is refused with a message, not a panic.
    for bad in [
        vec!["compare", "--strategies", "bfs:depth=2"],
        vec!["compare", "--topology", "torus:n=5"],
        vec!["compare", "--topology", "/nonexistent/edges.txt"],
        vec!["compare", "--replication", "2"],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_servent"))
            .args(&bad)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Error") && !err.contains("panicked"),
            "{bad:?}: {err}"
        );
    }
}
