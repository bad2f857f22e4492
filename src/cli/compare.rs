//! `servent compare`: runs search strategies over a simulated overlay (the unmodified
//! core in the discrete-event simulator) and prints their cost side by side: a table,
//! `--json`, `--csv FILE` and an `--svg FILE` chart. `--sweep` varies one parameter.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::sim::experiment::{workload_seed, Experiment, Summary};
use servent::sim::report::{self, TopologyInfo};
use servent::sim::spec::{parse_strategies, parse_sweep};
use servent::sim::svg::{self, Chart};
use servent::sim::{Allocation, Latency, StrategyItem, Workload, WorkloadSpec};
use servent::topology::{Graph, TopologySpec};

/// What `servent compare` runs without `--strategies` or `--sweep`.
const DEFAULT_STRATEGIES: &str = "flood:ttl=7,ring,walk:k=16,walk:k=32";

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Overlay: plrg:n=N[,exponent=2.1,min=1,max=D], random:n=N[,degree=4], gnm:n=N,m=M,
    /// grid:w=W,h=H, ba:n=N[,m=2], two-tier:ultrapeers=U,leaves=L,degree=D[,leaf_ups=3,
    /// max_leaves=30] (ultrapeers and leaves; queries start at leaves), or an edge-list
    /// file (SNAP format); add ",lcc" to keep only the largest connected component.
    #[arg(long, default_value = "plrg:n=10000")]
    topology: String,
    /// Keep only the largest connected component of the topology.
    #[arg(long)]
    lcc: bool,
    /// Strategies to compare: flood[:ttl=N], ring[:start=1,step=2,max=7],
    /// walk[:k=16,check=4,steps=1024], dq[:want=1,probe=auto,max=5] (dynamic querying:
    /// run by ultrapeers, for their leaves on a two-tier topology), comma-separated
    /// [default: flood:ttl=7,ring,walk:k=16,walk:k=32 unless --sweep is given].
    #[arg(long)]
    strategies: Option<String>,
    /// Vary one parameter and plot the curve, e.g. flood:ttl=1..8, walk:k=1..64*2 or
    /// walk:k=4/16/32 (repeatable; replaces --strategies unless that is given too).
    #[arg(long)]
    sweep: Vec<String>,
    /// Distinct objects.
    #[arg(long, default_value_t = 100)]
    objects: usize,
    /// Mean fraction of servents holding each object.
    #[arg(long, default_value_t = 0.01)]
    replication: f64,
    /// Replica allocation under the query popularity: uniform, proportional, sqrt.
    #[arg(long, default_value = "uniform")]
    allocation: Allocation,
    /// Zipf exponent of query popularity (0: all objects equally popular).
    #[arg(long, default_value_t = 0.0)]
    zipf: f64,
    /// Queries per strategy, each from a random servent.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Hits wanted per query (ring, walkers and dq stop at this many; floods cannot).
    #[arg(long, default_value_t = 1)]
    want_hits: u16,
    /// Link latency: "unit" (1 ms per hop: exact hop counts), "fixed:5ms" or
    /// "uniform:1ms..20ms".
    #[arg(long, default_value = "unit")]
    latency: String,
    /// Seed of the topology, the workload and every servent's RNG.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Networks simulated side by side, each running a share of the queries (memory
    /// grows with each). At a fixed latency the numbers do not depend on it; with random
    /// latencies they do slightly (timeouts follow each origin's measured hop latency).
    /// [default: the number of CPUs, at most 2; 1 with random latencies]
    #[arg(long)]
    threads: Option<usize>,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the results as CSV.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Also write a chart (SVG).
    #[arg(long)]
    svg: Option<PathBuf>,
}

fn parse_duration(s: &str) -> anyhow::Result<Duration> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "ms"), |i| s.split_at(i));
    let v: f64 = num.parse().with_context(|| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        _ => anyhow::bail!("bad duration unit in {s:?} (us, ms, s)"),
    };
    anyhow::ensure!((0.0..3600.0).contains(&secs), "latency {s:?} out of range");
    Ok(Duration::from_secs_f64(secs))
}

fn parse_latency(s: &str) -> anyhow::Result<Latency> {
    if s == "unit" {
        return Ok(Latency::default());
    }
    if let Some(d) = s.strip_prefix("fixed:") {
        return Ok(Latency::Fixed(parse_duration(d)?));
    }
    if let Some(r) = s.strip_prefix("uniform:") {
        let (lo, hi) = r
            .split_once("..")
            .context("uniform latency is uniform:MIN..MAX")?;
        let (lo, hi) = (parse_duration(lo)?, parse_duration(hi)?);
        anyhow::ensure!(lo <= hi, "latency range {s:?} is empty");
        return Ok(Latency::Uniform(lo, hi));
    }
    anyhow::bail!("bad latency {s:?} (unit, fixed:5ms, uniform:1ms..20ms)")
}

fn latency_text(l: Latency) -> String {
    match l {
        Latency::Fixed(d) => format!("fixed latency {d:?} per hop"),
        Latency::Uniform(lo, hi) => format!("latency uniform in {lo:?}..{hi:?}"),
    }
}

#[derive(serde::Serialize)]
struct Output<'a> {
    seed: u64,
    threads: usize,
    topology: &'a TopologyInfo,
    workload: &'a WorkloadSpec,
    replicas: usize,
    latency: String,
    results: &'a [Summary],
    events: u64,
    wall_seconds: f64,
    events_per_second: f64,
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let strategies = strategies(&args)?;
    anyhow::ensure!(args.objects >= 1, "--objects must be at least 1");
    anyhow::ensure!(
        args.replication > 0.0 && args.replication <= 1.0,
        "--replication is a fraction in (0, 1]"
    );
    let latency = parse_latency(&args.latency)?;
    let threads = threads(&args, latency)?;
    let (graph, info) = topology(&args)?;

    let spec = WorkloadSpec {
        objects: args.objects,
        replication: args.replication,
        allocation: args.allocation,
        zipf_alpha: args.zipf,
        queries: args.queries,
        want_hits: args.want_hits,
    };
    let mut wrng = ChaCha8Rng::seed_from_u64(workload_seed(args.seed));
    let workload = Workload::generate_on(&spec, &graph, &mut wrng);
    let replicas = workload.placement.total_replicas();
    let setup = Setup {
        info: &info,
        spec: &spec,
        replicas,
        latency,
        threads,
    };
    if !args.json {
        print_setup(&args, &setup);
    }

    let started = Instant::now();
    let bar = progress_bar(&args, strategies.len() * spec.queries);
    let experiment = Experiment {
        graph: &graph,
        workload: &workload,
        seed: args.seed,
        latency,
        threads,
    };
    let labels: Vec<String> = strategies.iter().map(|s| s.label.clone()).collect();
    let progress = |si: usize| {
        bar.set_message(labels[si].clone());
        bar.inc(1);
    };
    let results: Vec<Summary> = experiment
        .run(&strategies, &progress)?
        .into_iter()
        .map(|r| r.summary)
        .collect();
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();

    print_results(&args, &setup, &results, wall)?;
    if let Some(path) = &args.csv {
        std::fs::write(path, report::csv(&results))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.svg {
        write_chart(path, &args, &setup, &results)?;
    }
    Ok(())
}

/// The strategies to run: `--strategies` (or the default list without `--sweep`), then
/// every `--sweep`, each waiting for `--want-hits` unless its text says otherwise.
fn strategies(args: &CompareArgs) -> anyhow::Result<Vec<StrategyItem>> {
    let mut strategies: Vec<StrategyItem> = Vec::new();
    match &args.strategies {
        Some(list) => strategies.extend(parse_strategies(list)?),
        None if args.sweep.is_empty() => strategies.extend(parse_strategies(DEFAULT_STRATEGIES)?),
        None => {}
    }
    for s in &args.sweep {
        strategies.extend(parse_sweep(s)?);
    }
    for s in &mut strategies {
        s.default_want_hits(u32::from(args.want_hits.max(1)));
    }
    Ok(strategies)
}

/// Networks simulated side by side: `--threads`, or the default for `latency`.
fn threads(args: &CompareArgs, latency: Latency) -> anyhow::Result<usize> {
    // At a fixed latency a query's numbers depend on its seed alone, however the queries
    // are split; with random latencies each origin's hop-latency estimate (and so its
    // timeouts) carries history, so the default stays on one network.
    let threads = args.threads.unwrap_or_else(|| match latency {
        Latency::Fixed(_) => std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
        Latency::Uniform(..) => 1,
    });
    anyhow::ensure!(threads >= 1, "--threads must be at least 1");
    Ok(threads)
}

/// Builds `--topology` (drawn from the seed) and describes it.
fn topology(args: &CompareArgs) -> anyhow::Result<(Graph, TopologyInfo)> {
    let mut topo: TopologySpec = args.topology.parse()?;
    topo.largest_component |= args.lcc;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let graph = topo
        .build(&mut rng)
        .with_context(|| format!("building topology {topo}"))?;
    anyhow::ensure!(
        graph.node_count() >= 2,
        "the topology has fewer than 2 servents"
    );
    let info = TopologyInfo::of(&topo.to_string(), &graph);
    Ok((graph, info))
}

/// What an experiment ran on, for the printed header, the JSON and the chart.
struct Setup<'a> {
    info: &'a TopologyInfo,
    spec: &'a WorkloadSpec,
    replicas: usize,
    latency: Latency,
    threads: usize,
}

fn print_setup(args: &CompareArgs, setup: &Setup) {
    let spec = setup.spec;
    println!("servent compare: seed {}", args.seed);
    println!("{}", setup.info.describe());
    println!(
        "workload: {} objects, {:.2}% replication ({} allocation, Zipf alpha {}), {} replicas; {} queries per strategy from random {}, {} hit(s) wanted; {}; {} thread(s)",
        spec.objects,
        100.0 * spec.replication,
        spec.allocation,
        spec.zipf_alpha,
        report::group(setup.replicas as f64, 0),
        report::group(spec.queries as f64, 0),
        if setup.info.leaves > 0 {
            "leaves"
        } else {
            "servents"
        },
        spec.want_hits,
        latency_text(setup.latency),
        setup.threads
    );
}

/// A progress bar over every query, hidden for `--json` or when stderr is no terminal.
fn progress_bar(args: &CompareArgs, queries: usize) -> ProgressBar {
    let bar = ProgressBar::new(queries as u64);
    if args.json || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>22} [{bar:40}] {pos}/{len} queries, {per_sec}, eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// The results as JSON (`--json`) or as the table with its legend and the event rate.
fn print_results(
    args: &CompareArgs,
    setup: &Setup,
    results: &[Summary],
    wall: f64,
) -> anyhow::Result<()> {
    let events: u64 = results.iter().map(|r| r.events).sum();
    let events_per_second = events as f64 / wall.max(1e-9);
    if args.json {
        let out = Output {
            seed: args.seed,
            threads: setup.threads,
            topology: setup.info,
            workload: setup.spec,
            replicas: setup.replicas,
            latency: latency_text(setup.latency),
            results,
            events,
            wall_seconds: wall,
            events_per_second,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!();
        print!("{}", report::table(results));
        println!(
            "\nmsgs/query: Query + check descriptors per query (checks: walker checks and dq's query status messages); msgs/servent: the same per servent; \
             visited: distinct servents reached; dup: share of Query deliveries to a servent that had it; \
             peak load: most descriptors one servent handled over all {} queries; hops at unit latency.",
            setup.spec.queries
        );
        println!(
            "simulated {} events in {:.2} s ({} events/s)",
            report::group(events as f64, 0),
            wall,
            report::group(events_per_second, 0)
        );
    }
    Ok(())
}

/// `--svg`: the chart of `results`, curves for a sweep.
fn write_chart(
    path: &Path,
    args: &CompareArgs,
    setup: &Setup,
    results: &[Summary],
) -> anyhow::Result<()> {
    let (info, spec) = (setup.info, setup.spec);
    let chart = Chart {
        title: format!("Search cost on {}", info.spec),
        subtitle: format!(
            "{} servents, {} links; {} objects at {:.2}% replication; {} queries per strategy; seed {}",
            report::group(info.servents as f64, 0),
            report::group(info.links as f64, 0),
            spec.objects,
            100.0 * spec.replication,
            spec.queries,
            args.seed
        ),
        rows: results,
        curves: !args.sweep.is_empty(),
    };
    std::fs::write(path, svg::render(&chart)).with_context(|| format!("writing {}", path.display()))
}
