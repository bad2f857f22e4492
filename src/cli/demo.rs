//! `servent demo`: a small mesh of servents, a Ping flood and a Query flood, each step
//! printed as a table.

use std::time::Duration;

use clap::Args;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::core::matcher::ListMatcher;
use crate::core::{Config, Event, LocalFile};
use crate::proto::payload::Query;
use crate::proto::{Guid, PayloadType};
use crate::sim::{Graph, Network};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of servents.
    #[arg(long, default_value_t = 20)]
    nodes: usize,
    /// Mean degree of the random mesh.
    #[arg(long, default_value_t = 4.0)]
    degree: f64,
    /// Seed for the topology and every servent's RNG.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const SAMPLE_FILES: [&str; 4] = [
    "linux-6.1-x86_64.iso",
    "Beatles - Help.mp3",
    "debian-12-netinst.iso",
    "Holst - The Planets.ogg",
];

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.nodes >= 2, "a mesh needs at least 2 servents");
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let extra = ((args.degree / 2.0 - 1.0).max(0.0) * args.nodes as f64) as usize;
    let graph = Graph::ring_with_chords(args.nodes, extra, &mut rng);
    println!(
        "demo mesh (in memory, seed {}): {} servents, {} links, mean degree {:.2}",
        args.seed,
        graph.node_count(),
        graph.edge_count(),
        graph.mean_degree()
    );
    let mut net = Network::new(graph, args.seed, |i| Config {
        servent_id: Guid::mark_modern([i as u8; 16]),
        port: 6346 + i as u16,
        seed: args.seed ^ i as u64,
        ..Config::default()
    });
    for i in 0..net.len() {
        let name = SAMPLE_FILES[i % SAMPLE_FILES.len()];
        let files = vec![LocalFile {
            index: 1,
            size: 1 << 20,
            name: name.to_owned(),
            sha1_urn: None,
        }];
        net.with_node(i, |s, _| {
            s.set_matcher(Box::new(ListMatcher(files)), 1, 1024)
        });
    }
    println!("\n{:<6} {:<10} neighbours", "node", "port");
    for i in 0..net.len() {
        let ns: Vec<String> = net
            .graph()
            .neighbours(i)
            .iter()
            .map(|n| n.to_string())
            .collect();
        println!("{:<6} {:<10} {}", i, 6346 + i, ns.join(" "));
    }

    let ttl = 7;
    net.with_node(0, |s, now| s.ping(now, ttl));
    net.run_until_quiet();
    let pongs = net
        .take_events(0)
        .iter()
        .filter(|e| matches!(e, Event::Pong { ours: true, .. }))
        .count();
    println!(
        "\nPing flood from node 0 (TTL {ttl}): {pongs} Pongs from {} other servents, {} Pings and {} Pongs sent",
        net.len() - 1,
        net.sent[PayloadType::Ping.index()],
        net.sent[PayloadType::Pong.index()]
    );

    net.with_node(0, |s, now| s.query(now, Query::new("iso"), ttl));
    net.run_until(net.now() + Duration::from_secs(1));
    let hits: Vec<(u8, String, u16)> = net
        .take_events(0)
        .into_iter()
        .filter_map(|e| match e {
            Event::QueryHit { hit, hops, .. } => {
                Some((hops, hit.results[0].name_lossy().into_owned(), hit.port))
            }
            _ => None,
        })
        .collect();
    println!(
        "\nQuery \"iso\" from node 0 (TTL {ttl}): {} hits, {} Queries and {} QueryHits sent",
        hits.len(),
        net.sent[PayloadType::Query.index()],
        net.sent[PayloadType::QueryHit.index()]
    );
    println!("{:<6} {:<8} name", "hops", "port");
    for (hops, name, port) in hits {
        println!("{hops:<6} {port:<8} {name}");
    }
    Ok(())
}
