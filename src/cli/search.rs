//! `servent search`: joins the mesh through one or more servents as a short-lived servent
//! of its own (a real handshake), searches with a strategy, filters every hit by the full
//! pattern (other servents do not know wildcards), prints the results grouped by SHA-1,
//! each group's magnet link and, with `--stats`, the search's cost; `--download` fetches
//! the best group from all its sources.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;
use futures::StreamExt;

use servent::core::strategy::QueryCost;
use servent::core::RolePolicy;
use servent::core::Strategy;
use servent::download::magnet::Magnet;
use servent::download::{download, sanitize_name, DownloadError, DownloadOptions, DownloadRequest};
use servent::library::hash;
use servent::library::hits::{filter_hits, group_hits, render_table, HitGroup, SearchHit};
use servent::library::matching::Pattern;
use servent::net::{Node, NodeConfig, SearchEvent};
use servent::proto::payload::Query;
use servent::proto::Guid;
use servent::rt;

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Keywords; `*` and `?` make a term a glob that matches a word of the file name or
    /// the whole name (`beat?es`, `linux*.iso`, `*.mp3`).
    pattern: String,
    /// Servent to join through (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT", required = true)]
    peers: Vec<SocketAddr>,
    /// How to search: flood, ring, walk, look (walkers that look one hop ahead through
    /// the ultrapeers' query routing tables) or dq (dynamic querying, run for us by our
    /// ultrapeers), or a full form such as `walk:k=16,check=4` or `dq:want=50`.
    #[arg(long, default_value = "flood")]
    strategy: String,
    /// TTL of a flood; the largest ring of an expanding ring.
    #[arg(long)]
    ttl: Option<u8>,
    /// Random walkers.
    #[arg(long)]
    walkers: Option<u8>,
    /// Steps a walker takes at most.
    #[arg(long)]
    max_steps: Option<u16>,
    /// A walker asks the requester whether to go on every this many steps.
    #[arg(long)]
    check_every: Option<u8>,
    /// Results wanted: an expanding ring or a walk stops once it has them.
    #[arg(long)]
    want: Option<u32>,
    /// How long to collect hits.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// Print the search's cost after the results.
    #[arg(long)]
    stats: bool,
    /// One JSON object per hit (and the cost record last, with --stats).
    #[arg(long)]
    json: bool,
    /// Download the best result (most sources) from all its sources.
    #[arg(long)]
    download: bool,
    /// Where to save a download [default: the file's name].
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Download limit (bytes per second, all sources together).
    #[command(flatten)]
    rates: super::library_args::DownloadRateArgs,
}

/// `5s`, `500ms`, `2m` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((t, "s"), |i| (&t[..i], &t[i..]));
    let v: f64 = num
        .parse()
        .map_err(|_| format!("not a duration: {text:?}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return Err(format!("unknown unit in {text:?} (use ms, s or m)")),
    };
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("duration out of range: {text:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl SearchArgs {
    /// The strategy, with the flags folded into its parameters.
    fn strategy(&self) -> anyhow::Result<Strategy> {
        let (name, params) = self
            .strategy
            .split_once(':')
            .unwrap_or((&self.strategy, ""));
        let mut p: Vec<String> = params
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let mut set = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                p.push(format!("{k}={v}"));
            }
        };
        match name.trim() {
            "flood" => set("ttl", self.ttl.map(|t| t.to_string())),
            "ring" => {
                set("max", self.ttl.map(|t| t.to_string()));
                set("want", self.want.map(|t| t.to_string()));
            }
            "dq" => {
                set("max", self.ttl.map(|t| t.to_string()));
                set("want", self.want.map(|t| t.to_string()));
            }
            "walk" | "look" => {
                set("k", self.walkers.map(|t| t.to_string()));
                set("steps", self.max_steps.map(|t| t.to_string()));
                set("check", self.check_every.map(|t| t.to_string()));
                set("want", self.want.map(|t| t.to_string()));
            }
            _ => {}
        }
        let text = if p.is_empty() {
            name.to_owned()
        } else {
            format!("{name}:{}", p.join(","))
        };
        text.parse().with_context(|| format!("--strategy {text}"))
    }
}

pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    args.rates.apply();
    // Refuse what cannot be answered sensibly before touching the network.
    let pattern = Pattern::parse(&args.pattern)
        .map_err(|e| anyhow::anyhow!("cannot search for {:?}: {e}", args.pattern))?;
    let strategy = args.strategy()?;
    rt::block_on(async move {
        let node = join(&args.peers).await?;
        // Responders flagged firewalled get a Push, through this servent: it stays up
        // (and listening for their GIV) until the download is over.
        let (raw, cost, firewalled) = collect_hits(&node, &args, strategy).await;
        if !args.download {
            node.shutdown().await;
        }

        let shown: Vec<(SearchHit, u8)> = raw
            .into_iter()
            .filter(|(h, _)| pattern.matches_name(&h.name))
            .collect();
        let groups = group_hits(filter_hits(
            &pattern,
            shown.iter().map(|(h, _)| h.clone()).collect(),
        ));
        if args.json {
            print_json(&shown, &groups, args.stats.then_some(&cost));
        } else {
            print_groups(&args, &groups, &cost);
        }
        if args.download {
            let done = download_best(&args, &groups, &node, &firewalled).await;
            node.shutdown().await;
            done?;
        }
        Ok(())
    })
}

/// Hosts from refusals' `X-Try` tried when no `--peer` took us (each a connect of at most
/// a few seconds, so joining stays bounded).
const JOIN_TRY_HOSTS: usize = 5;

/// Starts a short-lived servent of our own, a leaf (it shares nothing, so it sends no
/// routing table and no one routes Queries to it; ultrapeers never offer a leaf's address
/// as a place to connect), and links it to every `--peer` that answers; if all of them
/// refuse (full, or leaves themselves), to one of the ultrapeers their refusals offered.
async fn join(peers: &[SocketAddr]) -> anyhow::Result<Node> {
    let node = Node::start_plain(NodeConfig {
        role: RolePolicy::Leaf,
        min_peers: 0,
        leaf_ultrapeers: peers.len().max(1),
        ..NodeConfig::default()
    })
    .await?;
    let mut joined = 0;
    for peer in peers {
        match node.connect(*peer).await {
            Ok(_) => joined += 1,
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    // Refused (full): go where the refusals' X-Try pointed, as a servent joining does.
    if joined == 0 {
        for host in node.hosts_to_try(JOIN_TRY_HOSTS) {
            match node.connect(host).await {
                Ok(_) => {
                    eprintln!("joined through {host} (offered by a --peer's X-Try)");
                    joined += 1;
                    break;
                }
                Err(e) => eprintln!("warning: {e}"),
            }
        }
    }
    if joined == 0 {
        bail!("could not join the mesh through any --peer (nor the hosts they offered)");
    }
    Ok(node)
}

/// Runs the search and gathers its hits (each with the hops it came over) until the
/// strategy is done (ring, walk) or `--timeout` passes (a flood's hits trickle in), and
/// the search's cost record, and the servent IDs of responders flagged firewalled.
async fn collect_hits(
    node: &Node,
    args: &SearchArgs,
    strategy: Strategy,
) -> (Vec<(SearchHit, u8)>, Option<QueryCost>, HashSet<Guid>) {
    let mut firewalled = HashSet::new();
    let (id, mut events) = node.search(Query::new(&args.pattern), strategy);
    let deadline = Instant::now() + args.timeout;
    let mut raw: Vec<(SearchHit, u8)> = Vec::new();
    let mut cost: Option<QueryCost> = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rt::timeout(left, events.next()).await {
            Ok(Some(SearchEvent::Hit(h))) => {
                if h.hit.needs_push() {
                    firewalled.insert(h.hit.servent_id);
                }
                raw.extend(
                    SearchHit::from_query_hit(&h.hit)
                        .into_iter()
                        .map(|s| (s, h.hops)),
                );
            }
            Ok(Some(SearchEvent::Done(c))) => {
                cost = Some(*c);
                // A ring or walk that got what it wanted is over; a flood's hits
                // trickle in until the timeout.
                if !matches!(strategy, Strategy::Flood(_)) {
                    break;
                }
            }
            _ => break,
        }
    }
    let cost = cost.or_else(|| node.search_cost(id));
    (raw, cost, firewalled)
}

/// `--json`: one object per hit (with the magnet of its group: every source of that
/// file), then the cost record when `cost` is given (`--stats`).
fn print_json(shown: &[(SearchHit, u8)], groups: &[HitGroup], cost: Option<&Option<QueryCost>>) {
    let magnets: Vec<String> = groups
        .iter()
        .map(|g| Magnet::for_group(g).to_string())
        .collect();
    for (h, hops) in shown {
        let magnet = groups
            .iter()
            .position(|g| match &g.sha1_urn {
                Some(u) => h.sha1_urn.as_ref() == Some(u),
                None => h.sha1_urn.is_none() && g.name == h.name && g.size == h.size,
            })
            .map(|i| magnets[i].as_str());
        println!(
            "{}",
            serde_json::json!({
                "name": h.name, "size": h.size, "sha1": h.sha1_urn, "index": h.index,
                "host": h.addr.ip().to_string(), "port": h.addr.port(),
                "servent_id": h.servent_id.to_string(), "hops": hops, "url": h.url(),
                "magnet": magnet,
            })
        );
    }
    if let Some(cost) = cost {
        println!("{}", serde_json::json!({ "cost": cost }));
    }
}

/// The results table, then each group's magnet link under its number (for
/// `servent get 'magnet:?...'`), and the cost with `--stats`.
fn print_groups(args: &SearchArgs, groups: &[HitGroup], cost: &Option<QueryCost>) {
    if groups.is_empty() {
        println!("no results for {:?}", args.pattern);
    } else {
        print!("{}", render_table(groups));
        println!();
        for (i, g) in groups.iter().enumerate() {
            println!("{:>3}  {}", i + 1, Magnet::for_group(g));
        }
    }
    if args.stats {
        match cost {
            Some(c) => {
                println!();
                super::costs::print_costs(std::slice::from_ref(c));
            }
            None => println!("(no cost record: the search did not report one)"),
        }
    }
}

/// `--download`: fetches the best group from all its sources to `-o` or its own name;
/// firewalled ones by Push, and all of them by Push when no direct connect worked.
async fn download_best(
    args: &SearchArgs,
    groups: &[HitGroup],
    node: &Node,
    firewalled: &HashSet<Guid>,
) -> anyhow::Result<()> {
    let Some(best) = groups.first() else {
        bail!("nothing to download")
    };
    let output = match &args.output {
        Some(o) => o.clone(),
        None => PathBuf::from(
            sanitize_name(&best.name)
                .context("the result's name cannot be used as a file name: give -o FILE")?,
        ),
    };
    let (first, pushed) = super::push::source_urls(&best.sources, firewalled);
    let by_push = first.iter().filter(|u| u.starts_with("push://")).count();
    if by_push > 0 {
        eprintln!("{by_push} source(s) firewalled: asking them by Push to connect back");
    }
    let mut req = DownloadRequest {
        sources: first,
        sha1: best.sha1_urn.as_deref().and_then(hash::parse_urn),
        output,
        options: DownloadOptions {
            pusher: Some(Arc::new(super::push::NodePusher(node.clone()))),
            ..DownloadOptions::default()
        },
    };
    let report = match download(req.clone()).await {
        Err(DownloadError::NoUsableSource(why)) if req.sources != pushed => {
            eprintln!(
                "no source could be used directly ({} failed): asking them to push",
                why.len()
            );
            req.sources = pushed;
            download(req).await?
        }
        done => done?,
    };
    if args.json {
        println!("{}", serde_json::json!({ "download": report }));
    } else {
        println!(
            "downloaded {} ({} bytes, {} sources){}",
            report.path.display(),
            report.size,
            report.sources.len(),
            if report.verified {
                ", SHA-1 verified"
            } else {
                ""
            }
        );
    }
    Ok(())
}
