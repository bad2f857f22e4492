//! `servent demo`: the README's main command. Starts a small mesh of real servents on
//! 127.0.0.1 sharing sample files, shows it link up, sends a Ping (answered from pong
//! caches), runs a wildcard search,
//! downloads a result from several sources with SHA-1 verification, compares the three
//! search strategies on the live mesh, and prints each step. With `--stay` the mesh stays
//! up after the tour and servent 0 serves the web interface, its address printed, until
//! Ctrl-C.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use futures::StreamExt;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use servent::download::{download, DownloadOptions, DownloadRequest};
use servent::library::hash;
use servent::library::hits::{filter_hits, group_hits, render_table, HitGroup, SearchHit};
use servent::library::matching::Pattern;
use servent::library::{Library, LibraryConfig};
use servent::net::mesh::Mesh;
use servent::net::{NodeConfig, NodeShare};
use servent::proto::payload::Query;
use servent::proto::PayloadType;
use servent::rt;
use servent::topology::Graph;
use servent::ui::{Ui, UiConfig};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of servents.
    #[arg(long, default_value_t = 20)]
    nodes: usize,
    /// Mean degree of the mesh (a ring plus random chords).
    #[arg(long, default_value_t = 4.0)]
    degree: f64,
    /// Seed of the topology, the sample files and every servent's RNG.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the sample shares and the download go [default: a fresh temporary directory].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// After the tour keep the mesh up and print the address of servent 0's web page
    /// (search and download from a browser); Ctrl-C ends it.
    #[arg(long)]
    stay: bool,
}

/// Sample files: (name, size in bytes, every how many servents share it).
const SAMPLES: [(&str, usize, usize); 6] = [
    ("linux-6.1-x86_64.iso", 3 << 20, 6),
    ("debian-12-netinst.iso", 1 << 20, 4),
    ("Beatles - Help.mp3", 300 << 10, 3),
    ("Beatles - Yesterday.mp3", 250 << 10, 5),
    ("Holst - The Planets.ogg", 400 << 10, 7),
    ("notes.txt", 2 << 10, 2),
];

const WAIT: Duration = Duration::from_secs(30);

/// Writes node `i`'s share: each sample whose turn it is, same bytes on every servent.
fn make_share(dir: &Path, i: usize, seed: u64) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut n = 0;
    for (k, (name, size, every)) in SAMPLES.iter().enumerate() {
        if (i + k) % every != 0 {
            continue;
        }
        let mut bytes = vec![0u8; *size];
        ChaCha8Rng::seed_from_u64(seed ^ k as u64).fill_bytes(&mut bytes);
        std::fs::write(dir.join(name), bytes)?;
        n += 1;
    }
    Ok(n)
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.nodes >= 2, "a mesh needs at least 2 servents");
    let chords = ((args.degree / 2.0 - 1.0).max(0.0) * args.nodes as f64).round() as usize;
    let graph = Graph::ring_with_chords(
        args.nodes,
        chords,
        &mut ChaCha8Rng::seed_from_u64(args.seed),
    );
    let base = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("servent-demo-{}", std::process::id())),
    };
    let libraries = share_samples(&base, graph.node_count(), args.seed)?;

    rt::block_on(async move {
        let mesh = start_mesh(graph, &libraries, args.seed).await?;
        ping_flood(&mesh).await;
        let groups = wildcard_search(&mesh).await?;
        download_best(&groups, &base).await?;
        live_strategies(&mesh).await?;
        if args.stay {
            simulate(&mesh.graph, &base, args.seed)?;
            stay(&mesh, &libraries, &base).await?;
        }
        mesh.shutdown().await;
        println!("\nall servents said Bye and closed their links");
        if !args.stay {
            simulate(&mesh.graph, &base, args.seed)?;
        }
        if args.dir.is_none() {
            let _ = std::fs::remove_dir_all(&base);
        }
        Ok(())
    })
}

/// Step 1: writes every servent's sample share under `base` and hashes it.
fn share_samples(base: &Path, servents: usize, seed: u64) -> anyhow::Result<Vec<Arc<Library>>> {
    println!("== 1. Sample shares in {}", base.display());
    let mut libraries = Vec::new();
    for i in 0..servents {
        let dir = base.join(format!("share{i:02}"));
        make_share(&dir, i, seed)?;
        libraries.push(Library::open(LibraryConfig {
            roots: vec![dir],
            data_dir: None,
            include_hidden: false,
            progress: None,
        })?);
    }
    for lib in &libraries {
        anyhow::ensure!(
            lib.wait_hashed(WAIT),
            "hashing the sample files took too long"
        );
    }
    let files: usize = libraries.iter().map(|l| l.totals().0 as usize).sum();
    println!(
        "{files} files shared by {} servents, all hashed (SHA-1)",
        libraries.len()
    );
    Ok(libraries)
}

/// Step 2: starts one servent per node of `graph` on 127.0.0.1, each sharing its library,
/// and waits for every link.
async fn start_mesh(graph: Graph, libraries: &[Arc<Library>], seed: u64) -> anyhow::Result<Mesh> {
    println!(
        "\n== 2. Starting {} servents on 127.0.0.1 ({} links, mean degree {:.2}, seed {})",
        graph.node_count(),
        graph.edge_count(),
        graph.mean_degree(),
        seed
    );
    let started = Instant::now();
    let mut libs = libraries.iter().cloned();
    let mesh = Mesh::start_sharing(
        graph,
        |i| NodeConfig {
            min_peers: 0,
            max_peers: 32,
            seed: Some(seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            ..NodeConfig::default()
        },
        |_| libs.next().map_or(NodeShare::Nothing, NodeShare::Library),
    )
    .await?;
    anyhow::ensure!(mesh.wait_linked(WAIT).await, "links did not come up");
    println!(
        "linked in {:.0} ms (Gnutella 0.6 handshakes, deflate links)\n",
        started.elapsed().as_secs_f64() * 1e3
    );
    super::mesh::print_table(&mesh);
    Ok(mesh)
}

/// Step 3: a Ping from servent 0, answered from pong caches: who it learnt of, at what
/// distance, and what it cost.
async fn ping_flood(mesh: &Mesh) {
    println!("\n== 3. Ping from servent 0 (TTL 7), answered from pong caches");
    mesh.wait_quiet(Duration::from_millis(200), WAIT).await;
    let before = mesh.total_stats();
    let (_, mut pongs) = mesh.nodes[0].ping(7);
    let mut from = HashSet::new();
    // Pongs come at once from the neighbours; done when none came for a moment.
    while let Ok(Some(p)) = rt::timeout(Duration::from_millis(300), pongs.next()).await {
        from.insert(p.port);
    }
    mesh.wait_quiet(Duration::from_millis(200), WAIT).await;
    let after = mesh.total_stats();
    let neighbours = mesh.nodes[0].neighbour_count();
    println!(
        "{} of {} other servents named ({} neighbours, the rest from their pong caches); \
         {} Ping and {} Pong messages network-wide: Pings are answered, never relayed",
        from.len(),
        mesh.nodes.len() - 1,
        neighbours,
        after.sent(PayloadType::Ping) - before.sent(PayloadType::Ping),
        after.sent(PayloadType::Pong) - before.sent(PayloadType::Pong),
    );
}

/// Step 4: a flooded wildcard search from servent 0; its results grouped by SHA-1.
async fn wildcard_search(mesh: &Mesh) -> anyhow::Result<Vec<HitGroup>> {
    let text = "linux*.iso";
    println!("\n== 4. Wildcard search {text:?} from servent 0 (flood, TTL 7)");
    let pattern = Pattern::parse(text).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (hits, cost) = mesh
        .search(0, Query::new(text), "flood:ttl=7".parse()?, WAIT)
        .await?;
    let results: Vec<SearchHit> = hits
        .iter()
        .flat_map(|h| SearchHit::from_query_hit(&h.hit))
        .collect();
    let groups = group_hits(filter_hits(&pattern, results));
    print!("{}", render_table(&groups));
    println!(
        "{} Query and {} QueryHit messages network-wide",
        cost.traffic.queries, cost.traffic.hits
    );
    Ok(groups)
}

/// Step 5: downloads the best result from all its sources into `base/downloads`.
async fn download_best(groups: &[HitGroup], base: &Path) -> anyhow::Result<()> {
    let best = groups
        .first()
        .ok_or_else(|| anyhow::anyhow!("the search found nothing"))?;
    let out = base.join("downloads").join(&best.name);
    println!(
        "\n== 5. Downloading {:?} from its {} sources (ranged GETs in parallel, SHA-1 verified)",
        best.name,
        best.sources.len()
    );
    let _ = std::fs::remove_file(&out);
    let report = download(DownloadRequest {
        sources: best.urls(),
        sha1: best.sha1_urn.as_deref().and_then(hash::parse_urn),
        output: out.clone(),
        options: DownloadOptions {
            chunk_size: 256 << 10,
            on_event: Some(super::progress::hook(super::progress::ProgressMode::Auto)),
            ..DownloadOptions::default()
        },
    })
    .await?;
    println!("{:<44} {:>10}", "source", "bytes");
    for s in &report.sources {
        println!("{:<44} {:>10}", s.url, s.bytes);
    }
    println!(
        "saved {} ({} bytes), SHA-1 {}",
        report.path.display(),
        report.size,
        if report.verified {
            "verified"
        } else {
            "not known"
        }
    );
    Ok(())
}

/// Step 6: one query with each of the three strategies on the live mesh, costs side by side.
async fn live_strategies(mesh: &Mesh) -> anyhow::Result<()> {
    println!("\n== 6. Query \"beatles\" from servent 0 with the three strategies");
    let strategies = [
        "flood:ttl=7",
        "ring:start=1,step=2,max=7,want=3",
        "walk:k=4,steps=64,check=4,want=3",
    ];
    let mut costs = Vec::new();
    for s in strategies {
        let (_, cost) = mesh
            .search(0, Query::new("beatles"), s.parse()?, WAIT)
            .await?;
        costs.push(cost);
    }
    super::costs::print_costs(&costs);
    Ok(())
}

/// Step 8 (`--stay`): servent 0 serves the web interface (downloads go to
/// `base/downloads`) until Ctrl-C or SIGTERM.
async fn stay(mesh: &Mesh, libraries: &[Arc<Library>], base: &Path) -> anyhow::Result<()> {
    // Installed only now, so a Ctrl-C during the tour still ends the process at once.
    let mut sigs = super::signals::signals()?;
    let node = &mesh.nodes[0];
    let ui = Ui::start(
        node,
        libraries.first().cloned(),
        UiConfig {
            download_dir: base.join("downloads"),
            ..UiConfig::default()
        },
    );
    println!(
        "\n== 8. The mesh stays up: {} servents; servent 0's web interface (search, download, \
         overlay, compare) at",
        mesh.nodes.len()
    );
    println!("http://{}/", node.listen_addr());
    println!(
        "try the search \"linux*.iso\" there; downloads go to {}. Ctrl-C ends the demo.",
        base.join("downloads").display()
    );
    super::signals::until_shutdown(&mut sigs, || {}).await;
    drop(ui);
    Ok(())
}

/// Step 7: `servent compare` on the same topology, written out as an edge list.
fn simulate(graph: &Graph, base: &Path, seed: u64) -> anyhow::Result<()> {
    println!(
        "\n== 7. The same topology in the simulator (same core code): 500 queries per strategy"
    );
    let topology = base.join("topology.txt");
    std::fs::write(&topology, graph.to_edge_list())?;
    let seed = seed.to_string();
    let argv = [
        "compare",
        "--topology",
        topology.to_str().unwrap_or("topology.txt"),
        "--strategies",
        "flood:ttl=7,ring,walk:k=4,walk:k=8",
        "--objects",
        "20",
        "--replication",
        "0.1",
        "--queries",
        "500",
        "--seed",
        &seed,
    ];
    #[derive(clap::Parser)]
    struct Compare {
        #[command(flatten)]
        args: super::compare::CompareArgs,
    }
    let compare = <Compare as clap::Parser>::try_parse_from(argv)?;
    super::compare::run(compare.args)
}
