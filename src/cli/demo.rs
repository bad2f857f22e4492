//! `servent demo`: the README's main command. Starts a small mesh of real servents on
//! 127.0.0.1, shows it link up, floods a Ping and a Query, and prints each step.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use clap::Args;
use futures::StreamExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::core::matcher::ListMatcher;
use crate::core::{LocalFile, QueryMatcher};
use crate::net::mesh::Mesh;
use crate::net::{runtime, NodeConfig};
use crate::proto::payload::Query;
use crate::proto::PayloadType;
use crate::sim::Graph;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of servents.
    #[arg(long, default_value_t = 20)]
    nodes: usize,
    /// Mean degree of the mesh (a ring plus random chords).
    #[arg(long, default_value_t = 4.0)]
    degree: f64,
    /// Seed of the topology and of every servent's RNG.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Sample files shared across the demo mesh, one per servent in turn.
const SAMPLE_FILES: [&str; 5] = [
    "linux-6.1-x86_64.iso",
    "Beatles - Help.mp3",
    "debian-12-netinst.iso",
    "Holst - The Planets.ogg",
    "Beatles - Yesterday.mp3",
];

const WAIT: Duration = Duration::from_secs(30);

fn sample_share(i: usize) -> Option<(Box<dyn QueryMatcher>, u32, u32)> {
    let name = SAMPLE_FILES[i % SAMPLE_FILES.len()];
    let files = vec![LocalFile {
        index: 1,
        size: 1 << 20,
        name: name.to_owned(),
        sha1_urn: None,
    }];
    Some((Box::new(ListMatcher(files)), 1, 1024))
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.nodes >= 2, "a mesh needs at least 2 servents");
    let chords = ((args.degree / 2.0 - 1.0).max(0.0) * args.nodes as f64).round() as usize;
    let graph = Graph::ring_with_chords(
        args.nodes,
        chords,
        &mut ChaCha8Rng::seed_from_u64(args.seed),
    );
    runtime::block_on(async move {
        println!(
            "== 1. Starting {} servents on 127.0.0.1 ({} links, mean degree {:.2}, seed {})",
            graph.node_count(),
            graph.edge_count(),
            graph.mean_degree(),
            args.seed
        );
        let started = Instant::now();
        let seed = args.seed;
        let mesh = Mesh::start_sharing(
            graph,
            |i| NodeConfig {
                min_peers: 0,
                max_peers: 32,
                seed: seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ..NodeConfig::default()
            },
            sample_share,
        )
        .await?;
        anyhow::ensure!(mesh.wait_linked(WAIT).await, "links did not come up");
        println!(
            "linked in {:.0} ms (Gnutella 0.6 handshakes, deflate links)\n",
            started.elapsed().as_secs_f64() * 1e3
        );
        super::mesh::print_table(&mesh);

        println!("\n== 2. Ping flood from servent 0 (TTL 7)");
        let before = mesh.total_stats();
        let (_, mut pongs) = mesh.nodes[0].ping(7);
        let mut from = HashSet::new();
        while from.len() + 1 < mesh.nodes.len() {
            match runtime::timeout(WAIT, pongs.next()).await {
                Ok(Some(p)) => from.insert(p.port),
                _ => break,
            };
        }
        mesh.wait_quiet(Duration::from_millis(200), WAIT).await;
        let after = mesh.total_stats();
        println!(
            "{} of {} other servents answered; {} Ping and {} Pong messages network-wide",
            from.len(),
            mesh.nodes.len() - 1,
            after.sent(PayloadType::Ping) - before.sent(PayloadType::Ping),
            after.sent(PayloadType::Pong) - before.sent(PayloadType::Pong),
        );

        println!("\n== 3. Query \"beatles\" from servent 0, three strategies");
        let strategies = [
            "flood:ttl=7",
            "ring:start=1,step=2,max=7,want=3",
            "walk:k=4,steps=64,check=4,want=3",
        ];
        let mut costs = Vec::new();
        for (n, text) in strategies.iter().enumerate() {
            let strategy: crate::core::Strategy = text.parse()?;
            let (hits, cost) = mesh
                .search(0, Query::new("beatles"), strategy, WAIT)
                .await?;
            if n == 0 {
                super::costs::print_hits(&hits);
            }
            costs.push(cost);
        }
        println!();
        super::costs::print_costs(&costs);
        mesh.shutdown().await;
        println!("\nall servents said Bye and closed their links");
        Ok(())
    })
}
