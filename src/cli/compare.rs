//! `servent compare`: runs search strategies over a simulated overlay (the unmodified
//! core in the discrete-event simulator) and prints their cost side by side: a table,
//! `--json`, `--csv FILE`, `--per-query FILE` and `--svg FILE` / `--svg-dist FILE`
//! charts. `--sweep` varies one parameter; `--seeds N` repeats the experiment on N seeds
//! and gives each column's mean with its 95% confidence interval.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::sim::experiment::{latency_unit, workload_seed, Experiment, Summary};
use servent::sim::report::{self, TopologyInfo};
use servent::sim::seeds::{self, StrategyIntervals};
use servent::sim::spec::{parse_strategies, parse_sweep};
use servent::sim::svg::{self, Chart};
use servent::sim::svg_dist;
use servent::sim::workload::origin_pool;
use servent::sim::{Allocation, Churn, Latency, Origins, StrategyItem, Workload, WorkloadSpec};
use servent::topology::{Graph, TopologySpec};

/// What `servent compare` runs without `--strategies` or `--sweep`.
const DEFAULT_STRATEGIES: &str = "flood:ttl=7,ring,walk:k=16,walk:k=32";

/// Highest `--churn`: sessions of 1 ms on average, a single hop's latency at `unit`.
const MAX_CHURN: f64 = 1000.0;

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
    /// walk[:k=16,check=4,steps=1024,via=udp,look=1,bias=degree], look[:k=8] (the
    /// look-ahead walk: walk:k=8,check=4,via=udp,look=1,bias=degree),
    /// dq[:want=1,probe=auto,max=5] (dynamic querying: run by ultrapeers, for their
    /// leaves on a two-tier topology), comma-separated
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
    /// Run the experiment on this many seeds (--seed, --seed + 1, ...: each its own
    /// topology draw, workload and servent RNGs) and report every column's mean with
    /// its 95% confidence interval (Student t).
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Start queries only at these servents (one index per line, `#` comments), used in
    /// turn; each must be a servent of the topology (after --lcc).
    #[arg(long)]
    origins: Option<PathBuf>,
    /// Draw origins from every servent; by default they come from the largest connected
    /// component only (origins elsewhere cannot find most objects, and their walkers
    /// run to the step limit).
    #[arg(long)]
    all_origins: bool,
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
    /// Also write a chart of the distributions (SVG): per-servent load and time to the
    /// first hit.
    #[arg(long)]
    svg_dist: Option<PathBuf>,
    /// Also write one CSV row per query per strategy (per seed).
    #[arg(long)]
    per_query: Option<PathBuf>,
    /// Churn while each query runs: departures per servent per second of virtual time
    /// (0.05: sessions of 20 s on average, exponential). A servent that left comes back
    /// after an exponential downtime of the same mean as a fresh servent (empty route
    /// tables, same files and ID) linked to its neighbours that are up; meanwhile what
    /// is in flight to it or over its links is lost and its neighbours see the links
    /// close, so walkers, rings and hits lose the paths through it. Every query starts
    /// with all servents up; its origin never leaves; draws are keyed by the query, so
    /// threads do not change them. 0: no churn.
    #[arg(long, default_value_t = 0.0)]
    churn: f64,
    /// The ultrapeers of a flat overlay exchange query routing tables, as 0.6 ultrapeers
    /// that send X-Ultrapeer-Query-Routing do: a flood's last hop then goes only where a
    /// table may match, and look-ahead walkers (walk:look=1) read them. On by itself when
    /// a strategy looks ahead; two-tier overlays always exchange them.
    #[arg(long)]
    qrp: bool,
}

/// Whether the experiment's ultrapeers exchange query routing tables: asked, or needed
/// by a look-ahead walk.
fn tables(args: &CompareArgs, strategies: &[StrategyItem]) -> bool {
    args.qrp || strategies.iter().any(|s| s.strategy.reads_tables())
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
    seeds: Vec<u64>,
    threads: usize,
    topology: &'a TopologyInfo,
    workload: &'a WorkloadSpec,
    replicas: usize,
    origins: &'a str,
    latency: String,
    /// Ultrapeers exchanged query routing tables (`--qrp`, or a look-ahead walk).
    qrp: bool,
    /// Departures per servent per second of virtual time while queries run (0: none);
    /// each result's `churn` counts departures, joins and descriptors lost.
    churn: f64,
    /// One seed's results, or with several seeds every column's mean over them.
    results: &'a [Summary],
    /// With several seeds: every numeric column's mean and 95% interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    intervals: Option<&'a [StrategyIntervals]>,
    /// With several seeds: each seed's own results.
    #[serde(skip_serializing_if = "Option::is_none")]
    per_seed: Option<&'a [Vec<Summary>]>,
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
    anyhow::ensure!((1..=1000).contains(&args.seeds), "--seeds is 1 to 1000");
    anyhow::ensure!(
        (0.0..=MAX_CHURN).contains(&args.churn),
        "--churn is departures per servent per second, 0 to {MAX_CHURN}"
    );
    let churn = Churn { rate: args.churn };
    let latency = parse_latency(&args.latency)?;
    let threads = threads(&args, latency)?;
    let fixed_origins = match &args.origins {
        Some(path) => Some(read_origins(path)?),
        None => None,
    };
    let spec = WorkloadSpec {
        objects: args.objects,
        replication: args.replication,
        allocation: args.allocation,
        zipf_alpha: args.zipf,
        queries: args.queries,
        want_hits: args.want_hits,
    };

    let tables = tables(&args, &strategies);
    let started = Instant::now();
    let bar = progress_bar(&args, args.seeds as usize * strategies.len() * spec.queries);
    let labels: Vec<String> = strategies.iter().map(|s| s.label.clone()).collect();
    let progress = |si: usize| {
        bar.set_message(labels[si].clone());
        bar.inc(1);
    };
    let mut per_seed: Vec<Vec<Summary>> = Vec::new();
    let mut per_query = args
        .per_query
        .as_ref()
        .map(|_| String::from(report::PER_QUERY_HEADER));
    let mut first: Option<(TopologyInfo, usize, String)> = None;
    let seed_list: Vec<u64> = (0..args.seeds).map(|k| args.seed + k).collect();
    for &seed in &seed_list {
        let (graph, info) = topology(&args, seed)?;
        let (origins, origins_text) = origins(&args, &graph, fixed_origins.as_deref())?;
        let mut wrng = ChaCha8Rng::seed_from_u64(workload_seed(seed));
        let workload = Workload::generate_with(&spec, &graph, &origins, &mut wrng);
        let replicas = workload.placement.total_replicas();
        if first.is_none() && !args.json {
            let setup = Setup {
                info: &info,
                spec: &spec,
                replicas,
                latency,
                threads,
                origins: &origins_text,
                tables,
            };
            bar.suspend(|| print_setup(&args, &setup));
        }
        let experiment = Experiment {
            graph: &graph,
            workload: &workload,
            seed,
            latency,
            threads,
            tables,
            churn,
        };
        let results = experiment.run(&strategies, &progress)?;
        if let Some(out) = &mut per_query {
            for r in &results {
                report::per_query_csv(
                    out,
                    seed,
                    &r.summary.strategy,
                    &r.costs,
                    latency_unit(latency),
                );
            }
        }
        per_seed.push(results.into_iter().map(|r| r.summary).collect());
        first.get_or_insert((info, replicas, origins_text));
    }
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();
    let (info, replicas, origins_text) = first.context("no seed ran")?;
    let intervals = (per_seed.len() > 1).then(|| seeds::intervals(&per_seed));
    let results: Vec<Summary> = match &intervals {
        Some(iv) => per_seed[0]
            .iter()
            .zip(iv)
            .map(|(base, iv)| seeds::mean_summary(base, iv))
            .collect(),
        None => per_seed[0].clone(),
    };
    let setup = Setup {
        info: &info,
        spec: &spec,
        replicas,
        latency,
        threads,
        origins: &origins_text,
        tables,
    };
    let report = Report {
        seeds: &seed_list,
        results: &results,
        intervals: intervals.as_deref(),
        per_seed: &per_seed,
    };
    print_results(&args, &setup, &report, wall)?;
    write_files(&args, &results, per_query.as_deref())?;
    write_charts(&args, &setup, &report)?;
    Ok(())
}

/// `--csv FILE` and `--per-query FILE`.
fn write_files(
    args: &CompareArgs,
    results: &[Summary],
    per_query: Option<&str>,
) -> anyhow::Result<()> {
    if let Some(path) = &args.csv {
        std::fs::write(path, report::csv(results))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let (Some(path), Some(rows)) = (&args.per_query, per_query) {
        std::fs::write(path, rows).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// What an experiment found, over one seed or several.
struct Report<'a> {
    seeds: &'a [u64],
    /// One seed's results or the means over the seeds.
    results: &'a [Summary],
    intervals: Option<&'a [StrategyIntervals]>,
    per_seed: &'a [Vec<Summary>],
}

/// Reads `--origins`: one servent index per line; blank lines and `#` comments skipped.
fn read_origins(path: &Path) -> anyhow::Result<Vec<usize>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading origins {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let v: usize = line.parse().with_context(|| {
            format!(
                "{} line {}: {line:?} is not a servent index",
                path.display(),
                n + 1
            )
        })?;
        out.push(v);
    }
    anyhow::ensure!(!out.is_empty(), "{}: no origin listed", path.display());
    Ok(out)
}

/// Where queries start on `graph`, and how to say so: `--origins` (each checked to be a
/// servent of the graph), every servent with `--all-origins`, else the largest component.
fn origins(
    args: &CompareArgs,
    graph: &Graph,
    fixed: Option<&[usize]>,
) -> anyhow::Result<(Origins, String)> {
    let n = graph.node_count();
    if let Some(list) = fixed {
        if let Some(&bad) = list.iter().find(|&&v| v >= n) {
            anyhow::bail!(
                "--origins: servent {bad} is not in the topology (servents are 0 to {})",
                n - 1
            );
        }
        let text = format!(
            "{} fixed origin(s) from {}, in turn",
            list.len(),
            path_text(&args.origins)
        );
        return Ok((Origins::Fixed(list.to_vec()), text));
    }
    let all = origin_pool(graph, false).len();
    if args.all_origins {
        return Ok((
            Origins::All,
            format!("any of {} servents", report::group(all as f64, 0)),
        ));
    }
    let pool = origin_pool(graph, true).len();
    let text = if pool == all {
        format!(
            "any of {} servents (one component)",
            report::group(all as f64, 0)
        )
    } else {
        format!(
            "the largest component's {} of {} servents (--all-origins for every servent)",
            report::group(pool as f64, 0),
            report::group(all as f64, 0)
        )
    };
    Ok((Origins::LargestComponent, text))
}

fn path_text(p: &Option<PathBuf>) -> String {
    p.as_ref()
        .map_or_else(String::new, |p| p.display().to_string())
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
    for (i, s) in args.sweep.iter().enumerate() {
        strategies.extend(parse_sweep(s)?.into_iter().map(|mut item| {
            item.sweep = Some(i);
            item
        }));
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

/// Builds `--topology` (drawn from `seed`) and describes it.
fn topology(args: &CompareArgs, seed: u64) -> anyhow::Result<(Graph, TopologyInfo)> {
    let mut topo: TopologySpec = args.topology.parse()?;
    topo.largest_component |= args.lcc;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
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
    origins: &'a str,
    tables: bool,
}

fn print_setup(args: &CompareArgs, setup: &Setup) {
    let spec = setup.spec;
    if args.seeds > 1 {
        println!(
            "servent compare: seeds {}..={} (each its own topology draw and workload; the first described)",
            args.seed,
            args.seed + args.seeds - 1
        );
    } else {
        println!("servent compare: seed {}", args.seed);
    }
    println!("{}", setup.info.describe());
    println!(
        "workload: {} objects, {:.2}% replication ({} allocation, Zipf alpha {}), {} replicas; {} queries per strategy from random {}, {} hit(s) wanted; {}; {} thread(s)\norigins: {}",
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
        setup.threads,
        setup.origins
    );
    if setup.tables && setup.info.leaves == 0 {
        println!("query routing: ultrapeers exchange tables (last-hop floods and look-ahead walkers use them)");
    }
    if args.churn > 0.0 {
        println!("churn: {}", churn_text(args.churn));
    }
}

/// What `--churn RATE` means, for the header.
fn churn_text(rate: f64) -> String {
    format!(
        "{rate} departures per servent per second of virtual time (sessions and downtimes \
         of {:.3} s on average, exponential; origins stay)",
        1.0 / rate
    )
}

/// One line per strategy: what churn did while its queries ran.
fn print_churn(results: &[Summary]) {
    for r in results {
        println!(
            "churn under {}: {} departures, {} joins, {} descriptors lost in flight",
            r.strategy,
            report::group(r.churn.departures as f64, 0),
            report::group(r.churn.joins as f64, 0),
            report::group(r.churn.lost as f64, 0)
        );
    }
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
    report: &Report,
    wall: f64,
) -> anyhow::Result<()> {
    let events: u64 = report.per_seed.iter().flatten().map(|r| r.events).sum();
    let events_per_second = events as f64 / wall.max(1e-9);
    if args.json {
        let out = Output {
            seed: args.seed,
            seeds: report.seeds.to_vec(),
            threads: setup.threads,
            topology: setup.info,
            workload: setup.spec,
            replicas: setup.replicas,
            origins: setup.origins,
            latency: latency_text(setup.latency),
            qrp: setup.tables,
            churn: args.churn,
            results: report.results,
            intervals: report.intervals,
            per_seed: report.intervals.map(|_| report.per_seed),
            events,
            wall_seconds: wall,
            events_per_second,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!();
        print!("{}", report::table(report.results, report.intervals));
        if report.seeds.len() > 1 {
            println!(
                "\nmean±half-width of the 95% confidence interval over {} seeds (Student t).",
                report.seeds.len()
            );
        }
        println!(
            "\n{} Over all {} queries per strategy.",
            report::LEGEND,
            setup.spec.queries
        );
        if args.churn > 0.0 {
            print_churn(report.results);
        }
        println!(
            "simulated {} events in {:.2} s ({} events/s)",
            report::group(events as f64, 0),
            wall,
            report::group(events_per_second, 0)
        );
    }
    Ok(())
}

/// The chart's subtitle: the topology and the workload.
fn subtitle(args: &CompareArgs, setup: &Setup, report: &Report) -> String {
    let (info, spec) = (setup.info, setup.spec);
    let seeds = match report.seeds {
        [one] => format!("seed {one}"),
        many => format!("mean of {} seeds from {}", many.len(), args.seed),
    };
    report::chart_subtitle(info, spec, &seeds)
}

/// `--svg` and `--svg-dist`, when asked for.
fn write_charts(args: &CompareArgs, setup: &Setup, report: &Report) -> anyhow::Result<()> {
    let about = (args, setup, report);
    if let Some(path) = &args.svg {
        let curves = !args.sweep.is_empty();
        write_chart(path, "Search cost", curves, svg::render, about)?;
    }
    if let Some(path) = &args.svg_dist {
        let title = "Load and time to the first hit";
        write_chart(path, title, false, svg_dist::render_distributions, about)?;
    }
    Ok(())
}

/// Writes one chart of the results: `--svg` (the search cost, a curve per sweep) or
/// `--svg-dist` (load and time to the first hit), drawn by `render`.
fn write_chart(
    path: &Path,
    title: &str,
    curves: bool,
    render: fn(&Chart) -> String,
    (args, setup, report): (&CompareArgs, &Setup, &Report),
) -> anyhow::Result<()> {
    let chart = Chart {
        title: format!("{title} on {}", setup.info.spec),
        subtitle: subtitle(args, setup, report),
        rows: report.results,
        curves,
    };
    std::fs::write(path, render(&chart)).with_context(|| format!("writing {}", path.display()))
}
