//! The simulator and `servent compare` checked against analysis: a flood's message count
//! equals the graph formulas on every generator and on SNAP crawls, the per-query cost
//! record agrees with what the cores themselves counted, hops to the first hit are the
//! BFS distance to the nearest replica, and a seed fixes every number.

use std::path::PathBuf;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::core::strategy::{ExpandingRing, Flood, RandomWalk};
use servent::core::{DropReason, Strategy};
use servent::proto::PayloadType;
use servent::sim::experiment::{build_network, object_query, StrategyResult};
use servent::sim::spec::parse_strategies;
use servent::sim::workload::Placement;
use servent::sim::{
    run_one_query, run_search, Experiment, Latency, SimCost, Workload, WorkloadSpec,
};
use servent::topology::{Graph, TopologySpec};

/// The SNAP topologies the repository carries (`data/README.md`).
fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

fn snap(name: &str) -> Graph {
    Graph::load_edge_list(&data_dir().join(name))
        .unwrap()
        .largest_component()
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn flood(ttl: u8) -> Strategy {
    Strategy::Flood(Flood { ttl })
}

/// One search's link counts on a fresh network (`holders` share the object).
fn one(graph: &Graph, strategy: &Strategy, origin: usize, holders: &[usize]) -> SimCost {
    run_one_query(graph, 1, strategy, origin, holders, 1)
        .unwrap()
        .sim
}

fn assert_flood_formulas(name: &str, graph: &Graph, origins: &[usize]) {
    assert_eq!(graph.component_sizes().len(), 1, "{name} must be connected");
    let (n, e) = (graph.node_count() as u64, graph.edge_count() as u64);
    for &origin in origins {
        let ecc = graph.eccentricity(origin);
        assert!(ecc < 15, "{name}: eccentricity {ecc} too large for TTL 15");
        let full = one(graph, &flood(ecc as u8 + 1), origin, &[]);
        assert_eq!(full.query_messages, 2 * e - (n - 1), "{name} full flood");
        assert_eq!(full.visited, n - 1, "{name}: every other servent reached");
        assert_eq!(full.duplicates, full.query_messages - (n - 1));
        for ttl in 1..=ecc.min(5) {
            let cost = one(graph, &flood(ttl as u8), origin, &[]);
            assert_eq!(
                cost.query_messages,
                graph.flood_cost(origin, ttl),
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
    let out = run_search(&mut net, origin, object_query(0, 0), &flood(4), None, true).unwrap();
    let cost = out.sim;

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
    let miss = one(&graph, &flood(3), 0, &[]);
    assert_eq!(miss.hits, 0);
    assert_eq!(miss.first_hit_hops, None);
    assert!(!miss.success());
    let hit = one(&graph, &flood(3), 0, &[1, 2, 3]);
    assert!(hit.success());
    assert_eq!(hit.query_messages, miss.query_messages);
    assert!(run_one_query(&graph, 3, &flood(3), 500, &[], 1).is_err());
}

fn experiment(
    graph: &Graph,
    workload: &Workload,
    seed: u64,
    latency: Latency,
    threads: usize,
    strategies: &str,
) -> Vec<StrategyResult> {
    let strategies = parse_strategies(strategies).unwrap();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let results = Experiment {
        graph,
        workload,
        seed,
        latency,
        threads,
        tables: false,
        churn: servent::sim::Churn::NONE,
    }
    .run(&strategies, &|_| {
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!(
        calls.into_inner(),
        strategies.len() * workload.queries.len(),
        "progress once per query"
    );
    results
}

fn small_experiment(seed: u64, latency: Latency, threads: usize) -> String {
    let topo: TopologySpec = "plrg:n=1500,lcc".parse().unwrap();
    let graph = topo.build(&mut rng(seed)).unwrap();
    let spec = WorkloadSpec {
        objects: 20,
        replication: 0.01,
        queries: 60,
        ..WorkloadSpec::default()
    };
    let workload = Workload::generate(&spec, graph.node_count(), &mut rng(seed + 1));
    let results = experiment(
        &graph,
        &workload,
        seed,
        latency,
        threads,
        "flood:ttl=3,ring,walk:k=4",
    );
    let mut out = Vec::new();
    for mut r in results {
        assert_eq!(r.costs.len(), 60);
        assert_eq!(r.summary.queries, 60);
        // Events processed include each network's route-expiry timers: a speed figure
        // that depends on how the queries were split, not a result.
        r.summary.events = 0;
        out.push(serde_json::to_string(&r.summary).unwrap());
        out.push(serde_json::to_string(&r.costs).unwrap());
    }
    out.join("\n")
}

/// Compares two runs' outputs line by line, reporting only the first difference.
fn assert_same(a: &str, b: &str, what: &str) {
    if let Some((x, y)) = a.lines().zip(b.lines()).find(|(x, y)| x != y) {
        let at = x.bytes().zip(y.bytes()).take_while(|(p, q)| p == q).count();
        let from = at.saturating_sub(80);
        panic!(
            "{what}: differs at byte {at}:\n  {}\n  {}",
            &x[from..(at + 80).min(x.len())],
            &y[from..(at + 80).min(y.len())]
        );
    }
    assert_eq!(a.lines().count(), b.lines().count(), "{what}");
}

#[test]
fn the_same_seed_gives_the_same_numbers_on_any_thread_count() {
    let a = small_experiment(1, Latency::default(), 1);
    assert_same(&a, &small_experiment(1, Latency::default(), 1), "same run");
    assert_same(
        &a,
        &small_experiment(1, Latency::default(), 3),
        "split over 3 networks",
    );
    assert!(
        a != small_experiment(2, Latency::default(), 1),
        "another seed, other numbers"
    );
    let ms = std::time::Duration::from_millis;
    let jitter = Latency::Uniform(ms(1), ms(20));
    let j = small_experiment(1, jitter, 2);
    assert_same(
        &j,
        &small_experiment(1, jitter, 2),
        "random latency, same seed",
    );
    assert!(j != a, "random latency changes the walks");
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
    let results = experiment(
        &graph,
        &workload,
        1,
        Latency::default(),
        1,
        "flood:ttl=1,flood:ttl=2,flood:ttl=3,flood:ttl=4,flood:ttl=5,flood:ttl=6",
    );
    let mut last: Option<servent::sim::Summary> = None;
    for (ttl, r) in (1u8..).zip(results) {
        let s = r.summary;
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

fn walk(walkers: u8, max_steps: u16, check_every: u8) -> Strategy {
    Strategy::RandomWalk(RandomWalk {
        walkers,
        max_steps,
        check_every,
        ..RandomWalk::default()
    })
}

#[test]
fn walkers_never_exceed_k_times_max_steps_and_checks_cost_two_per_path_hop() {
    let graph = Graph::plrg(2_000, 2.1, 1, usize::MAX, &mut rng(10)).largest_component();
    let n = graph.node_count();
    // Nobody holds the object: every walker runs to its step limit (or a dead end).
    for (k, steps, check) in [(1u8, 50u16, 0u8), (16, 40, 0), (16, 40, 4), (32, 64, 4)] {
        let out = run_one_query(&graph, 2, &walk(k, steps, check), 5, &[], 1).unwrap();
        let sim = out.sim;
        assert!(
            sim.query_messages <= k as u64 * steps as u64,
            "k {k} steps {steps}: {} walker steps",
            sim.query_messages
        );
        assert!(
            sim.query_messages >= k as u64,
            "every walker takes a first step"
        );
        assert_eq!(sim.walkers, k as u32);
        assert_eq!(sim.hits, 0);
        assert!(!sim.satisfied);
        assert!(sim.visited <= sim.query_messages && sim.visited < n as u64);
        assert_eq!(sim.duplicates, sim.query_messages - sim.visited);
        if check == 0 {
            assert_eq!(sim.check_messages, 0);
        } else {
            // One check per `check` steps taken, each 2 x L hops with L >= 1 (checks held
            // by the origin itself are free), never more than 2 x steps hops each.
            let checks_due = sim.query_messages / check as u64;
            assert!(sim.check_messages > 0 && sim.check_messages % 2 == 0);
            assert!(sim.check_messages <= checks_due * 2 * steps as u64);
        }
        let record = out.cost.expect("the walk ended");
        assert_eq!(record.traffic.queries, sim.query_messages);
        assert_eq!(record.traffic.checks, sim.check_messages);
        assert_eq!(record.reached, Some(sim.visited));
        assert_eq!(sim.sent[PayloadType::Vendor.index()], sim.check_messages);
    }
}

#[test]
fn walkers_stop_soon_after_a_hit_and_cost_far_less_than_a_flood() {
    let graph = Graph::random_mean_degree(3_000, 4.0, &mut rng(11)).largest_component();
    let holders: Vec<usize> = (0..graph.node_count()).step_by(50).collect();
    let flood = one(&graph, &flood(7), 1, &holders);
    let walk = run_one_query(&graph, 3, &walk(16, 1024, 4), 1, &holders, 1).unwrap();
    let sim = walk.sim;
    assert!(sim.success() && sim.satisfied, "{sim:?}");
    assert!(
        sim.search_messages() * 10 < flood.search_messages(),
        "walk {} vs flood {}",
        sim.search_messages(),
        flood.search_messages()
    );
    assert!(sim.first_hit_hops.unwrap() >= flood.first_hit_hops.unwrap());
}

#[test]
fn an_expanding_ring_costs_the_sum_of_its_floods() {
    let graph = Graph::barabasi_albert(2_000, 2, &mut rng(12));
    let origin = (0..graph.node_count())
        .min_by_key(|&v| graph.degree(v))
        .unwrap();
    let ring = |start, step, max| {
        Strategy::ExpandingRing(ExpandingRing {
            start_ttl: start,
            step,
            max_ttl: max,
            ..ExpandingRing::default()
        })
    };
    // Nothing to find: every ring is flooded, 1, 3 and 5.
    let miss = one(&graph, &ring(1, 2, 5), origin, &[]);
    let floods: u64 = [1u32, 3, 5]
        .iter()
        .map(|&t| graph.flood_cost(origin, t))
        .sum();
    assert_eq!(miss.query_messages, floods);
    assert_eq!(miss.rings, 3);
    // A holder at distance 2: found by the TTL-3 ring, which is the last one sent.
    let dist = graph.bfs_distances(origin);
    let holder = (0..graph.node_count()).find(|&v| dist[v] == 2).unwrap();
    let hit = one(&graph, &ring(1, 2, 5), origin, &[holder]);
    assert_eq!(hit.rings, 2);
    assert!(hit.satisfied);
    assert_eq!(
        hit.query_messages,
        graph.flood_cost(origin, 1) + graph.flood_cost(origin, 3)
    );
    assert_eq!(hit.first_hit_hops, Some(2));
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
        "flood:ttl=2,flood:ttl=5,ring,walk:k=8",
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
    assert_eq!(results.len(), 4);
    assert_eq!(results[3]["family"], "walk");
    assert!(results[3]["check_messages_per_query"].as_f64().unwrap() > 0.0);
    assert_eq!(results[0]["strategy"], "flood:ttl=2");
    assert_eq!(results[1]["queries"], 40);
    let (m2, m5) = (
        results[0]["messages_per_query"].as_f64().unwrap(),
        results[1]["messages_per_query"].as_f64().unwrap(),
    );
    assert!(m5 > m2 && m2 > 0.0);
    assert!(v["topology"]["servents"].as_u64().unwrap() > 300);

    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), 5);
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
