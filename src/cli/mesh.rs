//! `servent mesh`: N servents in one process on 127.0.0.1 (ports from the OS), linked as a
//! random graph or an edge-list file; prints who links to whom (for up to
//! [`TABLE_MAX`] servents), how long linking took and the memory per servent, optionally
//! sends a Ping or a Query and prints the exact network-wide cost, or checks that a Ping
//! flood from outside reaches every servent within its TTL, then runs until Ctrl-C.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::core::RolePolicy;
use servent::net::fd_limit;
use servent::net::mesh::{Mesh, PingCheck};
use servent::net::NodeConfig;
use servent::proto::payload::Query;
use servent::proto::PayloadType;
use servent::rt;
use servent::topology::{Graph, TwoTier};

use super::signals;

#[derive(Debug, Args)]
pub struct MeshArgs {
    /// Number of servents (ignored with --topology).
    #[arg(long, default_value_t = 20)]
    pub nodes: usize,
    /// Mean degree of the random graph (a ring plus random chords, so it is connected).
    #[arg(long, default_value_t = 4.0)]
    pub degree: f64,
    /// Seed of the graph and of every servent's RNG.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A two-tier mesh instead of a flat one: this many ultrapeers (linked as a random
    /// graph of --degree), with --leaves leaves of 3 ultrapeers each.
    #[arg(long, requires = "leaves")]
    pub ultrapeers: Option<usize>,
    /// With --ultrapeers: the leaves (each links to 3 random ultrapeers, at most 30
    /// leaves per ultrapeer while the numbers allow).
    #[arg(long, requires = "ultrapeers")]
    pub leaves: Option<usize>,
    /// Edge list (SNAP format) to use as the topology instead of a random graph.
    #[arg(long)]
    pub topology: Option<PathBuf>,
    /// With --topology: keep only the largest connected component.
    #[arg(long)]
    pub largest_component: bool,
    /// Keep at least this many neighbours per servent (0: exactly the graph's links).
    #[arg(long, default_value_t = 0)]
    pub min_peers: usize,
    /// TTL + hops limit of every servent (up to 15 for experiments).
    #[arg(long, default_value_t = 7)]
    pub max_ttl: u8,
    /// Send a Ping with this TTL from --from and count the Pongs (neighbours answer it
    /// from their pong caches; it floods only with pong caching off).
    #[arg(long, value_name = "TTL")]
    pub ping: Option<u8>,
    /// Search for this text from --from with --strategy; print hits and the exact
    /// network-wide cost (summed over every servent's per-query counters).
    #[arg(long, value_name = "TEXT")]
    pub query: Option<String>,
    /// The servent that sends the Ping or Query.
    #[arg(long, default_value_t = 0)]
    pub from: usize,
    /// Search strategy: `flood:ttl=7`, `ring:start=1,step=2,max=7,want=1`,
    /// `walk:k=16,steps=1024,check=4,want=1`, `look` (look-ahead walkers,
    /// `walk:k=8,check=4,via=udp,look=1,bias=degree`), `dq:want=1,max=5` (dynamic querying).
    #[arg(long, default_value = "flood:ttl=7")]
    pub strategy: servent::core::Strategy,
    /// Link a servent from outside the mesh to --from, flood a Ping with this TTL from it
    /// and count the servents whose Pong comes back (pong caching is off in every servent
    /// of the mesh for this, so the Ping floods).
    #[arg(long, value_name = "TTL")]
    pub ping_check: Option<u8>,
    /// Deflate the links between the mesh's servents. Off by default: they all run in
    /// this process over loopback, where compression costs memory and time and saves
    /// nothing.
    #[arg(long)]
    pub compress: bool,
    /// Exit after the Ping/Query instead of running until Ctrl-C.
    #[arg(long)]
    pub exit: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn graph(args: &MeshArgs) -> anyhow::Result<Graph> {
    if let (Some(ultrapeers), Some(leaves)) = (args.ultrapeers, args.leaves) {
        anyhow::ensure!(ultrapeers >= 1, "a two-tier mesh needs an ultrapeer");
        let shape = TwoTier {
            ultrapeers,
            leaves,
            degree: args.degree.round().max(1.0) as usize,
            leaf_ultrapeers: servent::core::role::LEAF_ULTRAPEERS,
            max_leaves: servent::core::role::MAX_LEAVES,
        };
        return Ok(Graph::two_tier(
            &shape,
            &mut ChaCha8Rng::seed_from_u64(args.seed),
        ));
    }
    Ok(match &args.topology {
        Some(path) => {
            let g = Graph::load_edge_list(path)?;
            if args.largest_component {
                g.largest_component()
            } else {
                g
            }
        }
        None => {
            anyhow::ensure!(args.nodes >= 2, "a mesh needs at least 2 servents");
            let chords = ((args.degree / 2.0 - 1.0).max(0.0) * args.nodes as f64).round() as usize;
            Graph::ring_with_chords(
                args.nodes,
                chords,
                &mut ChaCha8Rng::seed_from_u64(args.seed),
            )
        }
    })
}

pub fn run(args: MeshArgs) -> anyhow::Result<()> {
    let graph = graph(&args)?;
    anyhow::ensure!(
        args.from < graph.node_count(),
        "--from {} is not a servent of the mesh",
        args.from
    );
    let files = fd_limit::raise_open_files()?;
    let need = fd_limit::mesh_files(graph.node_count(), graph.edge_count());
    anyhow::ensure!(
        need <= files.soft,
        "a mesh of {} servents and {} links needs about {need} open files (a listener and a \
         UDP socket held twice per servent, both ends of every link), but this process may open only {} (the hard \
         limit; raising it needs privilege: `ulimit -Hn`, or prlimit as root); try fewer \
         servents, e.g. --nodes {}",
        graph.node_count(),
        graph.edge_count(),
        files.soft,
        fit_nodes(files.soft, graph.node_count(), graph.edge_count()),
    );
    if files.soft > files.was {
        log::info!(
            "open-file limit raised from {} to {}",
            files.was,
            files.soft
        );
    }
    let rss_before = rss_bytes();
    let mut sigs = signals::signals()?;
    rt::block_on(async move {
        let started = Instant::now();
        let mesh = start_mesh(&args, graph).await?;
        let link_s = started.elapsed().as_secs_f64();
        let per_servent = |rss: Option<u64>| {
            rss.zip(rss_before)
                .map(|(r, b)| r.saturating_sub(b) / mesh.nodes.len() as u64)
        };
        let linked_rss = per_servent(rss_bytes());
        let mut report = serde_json::Map::new();
        report.insert(
            "mesh".into(),
            serde_json::json!({
                "servents": mesh.nodes.len(),
                "links": mesh.graph.edge_count(),
                "compressed": args.compress,
                "link_seconds": link_s,
                "rss_bytes_per_servent": linked_rss,
                "open_file_limit": files.soft,
            }),
        );
        if !args.json {
            if mesh.nodes.len() <= TABLE_MAX {
                print_table(&mesh);
            }
            println!(
                "{} servents, {} links{} linked in {link_s:.2} s; {} per servent",
                mesh.nodes.len(),
                mesh.graph.edge_count(),
                if args.compress { " (deflate)" } else { "" },
                kb(linked_rss)
            );
        }
        if let Some(ttl) = args.ping_check {
            let check = mesh
                .ping_check(args.from, ttl, Duration::from_secs(120))
                .await?;
            print_ping_check(&check, per_servent(rss_bytes()), args.json, &mut report)?;
        }
        if let Some(ttl) = args.ping {
            let before = mesh.total_stats();
            let (_, mut pongs) = mesh.nodes[args.from].ping(ttl);
            mesh.wait_quiet(Duration::from_millis(300), Duration::from_secs(30))
                .await;
            let mut count = 0;
            while pongs.try_recv().is_ok() {
                count += 1;
            }
            let after = mesh.total_stats();
            let pings = after.sent(PayloadType::Ping) - before.sent(PayloadType::Ping);
            let pong_msgs = after.sent(PayloadType::Pong) - before.sent(PayloadType::Pong);
            if args.json {
                report.insert("ping".into(), serde_json::json!({"ttl": ttl, "pongs": count, "ping_messages": pings, "pong_messages": pong_msgs}));
            } else {
                println!("\nPing from servent {} (TTL {ttl}): {count} Pongs; {pings} Ping and {pong_msgs} Pong messages network-wide", args.from);
            }
        }
        if let Some(text) = &args.query {
            run_query(&mesh, &args, text, &mut report).await?;
        }
        if args.json {
            println!("{}", serde_json::Value::Object(report));
        }
        if !args.exit {
            println!("\nmesh running; Ctrl-C to stop");
            signals::until_shutdown(&mut sigs, || {}).await;
        }
        mesh.shutdown().await;
        Ok(())
    })
}

/// Starts the servents of `graph` as `args` asks and waits until every link is up.
async fn start_mesh(args: &MeshArgs, graph: Graph) -> anyhow::Result<Mesh> {
    let max_degree = graph.max_degree();
    let (seed, min_peers, max_ttl) = (args.seed, args.min_peers, args.max_ttl);
    // The simulator's seeds and servent IDs for the same --seed: a search here and
    // in `servent compare` / `sim::run_one_query` on the same graph take the same
    // random choices.
    let leaf = |i| graph.is_leaf(i);
    let leaves: Vec<bool> = (0..graph.node_count()).map(leaf).collect();
    let (compress, pong_caching) = (args.compress, args.ping_check.is_none());
    let mesh = Mesh::start(graph, |i| {
        let sim = servent::sim::node_config(seed, i, servent::sim::Latency::default());
        NodeConfig {
            // Each servent in the role its graph node has (all ultrapeers when flat).
            role: if leaves[i] {
                RolePolicy::Leaf
            } else {
                RolePolicy::Ultrapeer
            },
            max_leaves: max_degree + 4,
            leaf_ultrapeers: max_degree.max(1),
            min_peers,
            max_peers: max_degree.max(min_peers) + 4,
            max_ttl,
            seed: Some(sim.seed),
            servent_id: Some(sim.servent_id),
            compress,
            pong_caching,
            // Without pong caching every discovery Ping would flood the mesh.
            discover_hosts: pong_caching,
            ..NodeConfig::default()
        }
    })
    .await?;
    anyhow::ensure!(
        mesh.wait_linked(Duration::from_secs(60)).await,
        "links did not come up"
    );
    Ok(mesh)
}

/// Runs the `--query` search and prints (or adds to `report`) its hits and cost.
async fn run_query(
    mesh: &Mesh,
    args: &MeshArgs,
    text: &str,
    report: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let strategy = args.strategy;
    let (hits, cost) = mesh
        .search(
            args.from,
            Query::new(text),
            strategy,
            Duration::from_secs(120),
        )
        .await?;
    if args.json {
        report.insert("query".into(), serde_json::json!({
            "text": text,
            "hits": hits.iter().flat_map(|h| h.hit.results.iter().map(move |r| serde_json::json!({
                "hops": h.hops, "address": format!("{}:{}", h.hit.ip, h.hit.port), "name": r.name_lossy(),
            }))).collect::<Vec<_>>(),
            "cost": cost,
        }));
    } else {
        println!(
            "\nQuery {text:?} from servent {} with {}:",
            args.from, cost.strategy
        );
        super::costs::print_hits(&hits);
        println!();
        super::costs::print_costs(&[cost]);
    }
    Ok(())
}

/// Prints (or adds to the JSON `report`) what a Ping check found.
fn print_ping_check(
    check: &PingCheck,
    rss: Option<u64>,
    json: bool,
    report: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    if json {
        let mut v = serde_json::to_value(check)?;
        v["rss_bytes_per_servent"] = serde_json::json!(rss);
        report.insert("ping_check".into(), v);
    } else {
        println!(
            "Ping from outside via servent {} (TTL {}): {} of the {} servents within the TTL \
             answered ({:.2}%), {} of all {}, last Pong after {:.2} s; {} per servent after",
            check.entry,
            check.ttl,
            check.answered_within_ttl,
            check.within_ttl,
            100.0 * check.fraction,
            check.answered,
            check.servents,
            check.seconds,
            kb(rss)
        );
    }
    Ok(())
}

/// Largest mesh whose servents get the whole table printed.
pub const TABLE_MAX: usize = 200;

/// Resident memory of this process (`VmRSS` in /proc/self/status), if the system says.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn kb(bytes: Option<u64>) -> String {
    bytes.map_or("? KB".into(), |b| format!("{:.1} KB", b as f64 / 1000.0))
}

/// About how many servents of the same mean degree fit in `files` open files.
fn fit_nodes(files: u64, nodes: usize, links: usize) -> u64 {
    let per_servent = fd_limit::FILES_PER_SERVENT as f64 + 2.0 * links as f64 / nodes.max(1) as f64;
    (files.saturating_sub(fd_limit::SPARE_FILES) as f64 / per_servent) as u64
}

pub fn print_table(mesh: &Mesh) {
    println!("{:<6} {:<22} {:<9} neighbours", "node", "address", "role");
    for (i, n) in mesh.nodes.iter().enumerate() {
        let ns: Vec<String> = mesh
            .neighbours_of(i)
            .iter()
            .map(|x| x.to_string())
            .collect();
        println!(
            "{:<6} {:<22} {:<9} {}",
            i,
            n.listen_addr().to_string(),
            n.with_servent(|s| s.role()).to_string(),
            ns.join(" ")
        );
    }
}
