//! Churn in the simulator (`servent compare --churn RATE`): servents leave and join while
//! queries run. No churn changes nothing; a high rate costs walkers their paths and
//! success, the same seed gives the same numbers on any number of threads, and a leave
//! closes the links on both sides (a join opens them again).

use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::core::PeerId;
use servent::sim::experiment::{build_network, StrategyResult};
use servent::sim::spec::parse_strategies;
use servent::sim::workload::Placement;
use servent::sim::{Churn, Experiment, Latency, Workload, WorkloadSpec};
use servent::topology::{Graph, TopologySpec};

/// A small connected overlay and its workload, drawn from `seed`.
fn setup(seed: u64, queries: usize) -> (Graph, Workload) {
    let topo: TopologySpec = "plrg:n=1500,lcc".parse().unwrap();
    let graph = topo.build(&mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
    let spec = WorkloadSpec {
        objects: 20,
        replication: 0.01,
        queries,
        ..WorkloadSpec::default()
    };
    let mut wrng = ChaCha8Rng::seed_from_u64(seed + 1);
    let workload = Workload::generate(&spec, graph.node_count(), &mut wrng);
    (graph, workload)
}

fn run(
    (graph, workload): &(Graph, Workload),
    strategies: &str,
    churn: Churn,
    threads: usize,
) -> Vec<StrategyResult> {
    Experiment {
        graph,
        workload,
        seed: 7,
        latency: Latency::default(),
        threads,
        tables: false,
        churn,
    }
    .run(&parse_strategies(strategies).unwrap(), &|_| {})
    .unwrap()
}

const STRATEGIES: &str = "flood:ttl=4,ring,walk:k=8,walk:k=8,check=4,via=udp";

#[test]
fn churn_zero_changes_nothing() {
    let s = setup(3, 40);
    let plain = run(&s, STRATEGIES, Churn::NONE, 1);
    let zero = run(&s, STRATEGIES, Churn { rate: 0.0 }, 1);
    let zero_on_two = run(&s, STRATEGIES, Churn { rate: 0.0 }, 2);
    for (a, b) in plain.iter().zip(&zero) {
        assert_eq!(a.costs, b.costs, "{}", a.summary.strategy);
        let (ja, jb) = (
            serde_json::to_string(&a.summary).unwrap(),
            serde_json::to_string(&b.summary).unwrap(),
        );
        assert_eq!(ja, jb);
        assert_eq!(a.summary.churn, Default::default());
    }
    for (a, b) in plain.iter().zip(&zero_on_two) {
        assert_eq!(a.costs, b.costs, "{}, 2 threads", a.summary.strategy);
    }
    // So slow that no servent leaves: the churned run loop and fresh servents for every
    // query change no query's numbers either.
    let glacial = run(&s, STRATEGIES, Churn { rate: 1e-9 }, 2);
    for (a, b) in plain.iter().zip(&glacial) {
        assert_eq!(a.costs, b.costs, "{}, churn 1e-9", a.summary.strategy);
    }
}

#[test]
fn high_churn_costs_walkers_paths_and_success_deterministically() {
    let s = setup(5, 60);
    // Sessions of 50 ms on average (a walk of 1024 steps at 1 ms a step lasts ~1 s).
    let churn = Churn { rate: 20.0 };
    let calm = run(&s, STRATEGIES, Churn::NONE, 1);
    let churned = run(&s, STRATEGIES, churn, 1);
    for (a, b) in calm.iter().zip(&churned) {
        let c = b.summary.churn;
        eprintln!(
            "{}: success {} -> {}, messages {:.1} -> {:.1}, {c:?}",
            a.summary.strategy,
            a.summary.successes,
            b.summary.successes,
            a.summary.messages_per_query,
            b.summary.messages_per_query
        );
        assert!(c.departures > 0 && c.joins > 0, "{c:?}");
        assert!(c.lost > 0, "descriptors lost in flight: {c:?}");
    }
    for walk in &churned[2..] {
        let calm = &calm[2].summary;
        assert!(
            walk.summary.successes < calm.successes,
            "{}: success {} with churn, {} without",
            walk.summary.strategy,
            walk.summary.successes,
            calm.successes
        );
    }
    for threads in [1, 2] {
        let again = run(&s, STRATEGIES, churn, threads);
        for (a, b) in churned.iter().zip(&again) {
            for (q, (x, y)) in a.costs.iter().zip(&b.costs).enumerate() {
                assert_eq!(
                    x, y,
                    "{} query {q}, {threads} thread(s)",
                    a.summary.strategy
                );
            }
            assert_eq!(a.summary.churn, b.summary.churn);
        }
    }
}

#[test]
fn a_leave_closes_links_on_both_sides_and_a_join_reopens_them() {
    let graph = Graph::from_edges(5, vec![(0, 1), (1, 2), (2, 3), (1, 4)]);
    let placement = Arc::new(Placement::from_holders(5, &[vec![3]]));
    let mut net = build_network(graph, &placement, 1, Latency::default());
    for i in 0..5 {
        let _ = net.node(i);
    }
    let peers = |net: &servent::sim::Network, i: usize| -> Vec<u32> {
        net.node(i).peers().map(|(p, _)| p.0).collect()
    };
    assert_eq!(peers(&net, 1), vec![0, 2, 4]);
    net.leave(1);
    assert!(!net.is_up(1) && !net.is_built(1));
    for i in [0, 2, 4] {
        assert!(
            net.node(i).peer(PeerId(1)).is_none(),
            "servent {i} still links 1"
        );
    }
    assert_eq!(peers(&net, 2), vec![3]);
    net.leave(2);
    net.join(1);
    assert!(net.is_up(1) && net.is_built(1));
    assert_eq!(peers(&net, 1), vec![0, 4], "2 is down: not linked");
    assert_eq!(peers(&net, 0), vec![1]);
    assert_eq!(peers(&net, 4), vec![1]);
    net.join(2);
    assert_eq!(peers(&net, 2), vec![1, 3]);
    assert_eq!(peers(&net, 1), vec![0, 2, 4]);
    assert_eq!(peers(&net, 3), vec![2]);
}
