//! `servent churn`: the churn experiment run the way users run servent: N separate
//! `servent serve` processes on 127.0.0.1 with default options, searches before and after
//! SIGKILLing a fraction of them, and how long the survivors take to get back to
//! `--min-peers`.

mod fleet;
mod overlay;
mod report;
mod searches;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use fleet::{Fleet, Snapshot};
use overlay::Overlay;
use report::{Report, Searches, Spread, Wait};
use searches::Plan;

/// Chords of the start topology: servent i links to i-1, i-2 and i-7 (a line with chords,
/// the shape issue 10 measured: connected, diameter well within TTL 7 at 40 servents).
const LINK_BACK: [usize; 3] = [1, 2, 7];
/// How long every servent may take to reach `--min-peers` before the first searches.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How often the live servents' `/status` is read while waiting for `--min-peers`.
const STATUS_POLL: Duration = Duration::from_millis(250);
/// Most servents one run starts: each is a process with a few threads and sockets.
const MAX_SERVENTS: usize = 500;

#[derive(Debug, Args)]
pub struct ChurnArgs {
    /// Servents to start (separate `servent serve` processes).
    #[arg(long, default_value_t = 40)]
    servents: usize,
    /// Fraction of the servents to SIGKILL at random (at least 2 stay alive).
    #[arg(long, default_value_t = 0.3)]
    kill: f64,
    /// Searches before the kill, and again after healing.
    #[arg(long, default_value_t = 30)]
    searches: usize,
    /// Seconds the survivors get to be back at --min-peers.
    #[arg(long, default_value_t = 30.0)]
    heal_limit: f64,
    /// Seconds within which a search's QueryHit must arrive to count as found.
    #[arg(long, default_value_t = 5.0)]
    search_timeout: f64,
    /// Searches running at once (each is its own `servent search` process).
    #[arg(long, default_value_t = 8)]
    parallel: usize,
    /// Passed to every servent.
    #[arg(long, default_value_t = 3)]
    min_peers: usize,
    /// Passed to every servent.
    #[arg(long, default_value_t = 8)]
    max_peers: usize,
    /// Seed of the experiment's own choices (origins, files, who is killed) [default: a
    /// fresh one, printed]. The servents always seed themselves from the OS.
    #[arg(long)]
    seed: Option<u64>,
    /// The `servent` binary to run [default: this one].
    #[arg(long, value_name = "PATH")]
    servent_bin: Option<PathBuf>,
    /// Keep the work directory (each servent's data, share and log) and print where.
    #[arg(long)]
    keep: bool,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

impl ChurnArgs {
    fn check(&self) -> anyhow::Result<()> {
        if !(2..=MAX_SERVENTS).contains(&self.servents) {
            bail!("--servents must be 2 to {MAX_SERVENTS}");
        }
        if !(0.0..=1.0).contains(&self.kill) {
            bail!("--kill is a fraction from 0 to 1");
        }
        if !(0.1..=3600.0).contains(&self.heal_limit) {
            bail!("--heal-limit must be 0.1 to 3600 s");
        }
        if !(0.1..=600.0).contains(&self.search_timeout) {
            bail!("--search-timeout must be 0.1 to 600 s");
        }
        if !(1..=64).contains(&self.parallel) || self.searches > 100_000 {
            bail!("--parallel must be 1 to 64 and --searches at most 100000");
        }
        Ok(())
    }

    /// How many to kill: the fraction rounded, leaving an origin and a file holder alive.
    fn victims(&self) -> usize {
        ((self.servents as f64 * self.kill).round() as usize).min(self.servents - 2)
    }
}

/// Set by Ctrl-C or SIGTERM: every loop checks it, so the run unwinds and the guards kill
/// the children.
#[derive(Clone)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    fn install() -> anyhow::Result<Stop> {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&flag))?;
        }
        Ok(Stop(flag))
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        if self.is_set() {
            bail!("interrupted");
        }
        Ok(())
    }
}

/// A progress line on stderr.
fn note(text: impl AsRef<str>) {
    eprintln!("churn: {}", text.as_ref());
}

pub fn run(args: ChurnArgs) -> anyhow::Result<()> {
    args.check()?;
    let stop = Stop::install()?;
    let seed = args.seed.unwrap_or_else(|| {
        let (a, b) = uuid::Uuid::new_v4().as_u64_pair();
        a ^ b.rotate_left(32)
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let bin = match &args.servent_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("finding this servent binary")?,
    };
    let mut fleet = Fleet::create(args.keep)?;
    note(format!(
        "seed {seed}; {} servents of {} in {}",
        args.servents,
        bin.display(),
        fleet.root().display()
    ));
    start_all(&mut fleet, &args, &bin, &stop)?;

    let (start, _) = wait_min_peers(&mut fleet, args.min_peers, START_LIMIT, &stop, "start")?;
    let before = search_phase(&mut fleet, &args, &bin, &mut rng, &stop, "before")?;
    let snaps_before = fleet.snapshots();

    let killed = args.victims();
    let live: Vec<usize> = fleet.live().map(|s| s.index).collect();
    let mut victims: Vec<usize> = live.choose_multiple(&mut rng, killed).copied().collect();
    victims.sort_unstable();
    for &v in &victims {
        fleet.kill(v)?;
    }
    note(format!("SIGKILLed {killed} servents: {victims:?}"));

    let heal_limit = Duration::from_secs_f64(args.heal_limit);
    let (heal, snaps_healed) =
        wait_min_peers(&mut fleet, args.min_peers, heal_limit, &stop, "heal")?;
    let after = search_phase(&mut fleet, &args, &bin, &mut rng, &stop, "after")?;
    let snaps_after = fleet.snapshots();

    let report = Report {
        seed,
        servents: args.servents,
        killed,
        live: fleet.live().count(),
        min_peers: args.min_peers,
        max_peers: args.max_peers,
        search_timeout_s: args.search_timeout,
        start,
        before: before.0,
        heal,
        after: after.0,
        degree_before: Spread::degrees(&snaps_before),
        degree_after: Spread::degrees(&snaps_healed),
        host_cache_before: Spread::host_caches(&snaps_before),
        host_cache_after: Spread::host_caches(&snaps_healed),
        dropped_before: report::dropped(&before.1),
        dropped_after: report::dropped(&snaps_after),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.render());
    }
    if args.keep {
        note(format!("kept {}", fleet.root().display()));
    }
    Ok(())
}

/// Starts the servents in order, each linked back to the ones [`LINK_BACK`] before it.
fn start_all(
    fleet: &mut Fleet,
    args: &ChurnArgs,
    bin: &std::path::Path,
    stop: &Stop,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut addrs: Vec<SocketAddr> = Vec::with_capacity(args.servents);
    for i in 0..args.servents {
        let peers: Vec<SocketAddr> = LINK_BACK
            .iter()
            .filter_map(|d| i.checked_sub(*d).map(|j| addrs[j]))
            .collect();
        addrs.push(fleet.start(bin, &peers, args.min_peers, args.max_peers, stop)?);
        if (i + 1) % 10 == 0 || i + 1 == args.servents {
            note(format!("started {}/{} servents", i + 1, args.servents));
        }
    }
    note(format!(
        "all started in {:.1} s",
        t0.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Polls every live servent's `/status` until each has at least `min_peers` neighbours
/// (when that first held) or `limit` passes; returns the last snapshots too.
fn wait_min_peers(
    fleet: &mut Fleet,
    min_peers: usize,
    limit: Duration,
    stop: &Stop,
    phase: &str,
) -> anyhow::Result<(Wait, Vec<Snapshot>)> {
    let t0 = Instant::now();
    let mut last_note = t0;
    loop {
        stop.check()?;
        fleet.check_running()?;
        let snaps = fleet.snapshots();
        let short = snaps.iter().filter(|s| s.degree < min_peers).count();
        let elapsed = t0.elapsed();
        if short == 0 || elapsed >= limit {
            let seconds = (short == 0).then_some(elapsed.as_secs_f64());
            note(match seconds {
                Some(s) => format!("{phase}: every live servent at min-peers after {s:.1} s"),
                None => format!(
                    "{phase}: {short}/{} live servents below min-peers after {:.0} s",
                    snaps.len(),
                    limit.as_secs_f64()
                ),
            });
            let wait = Wait {
                healed: short == 0,
                seconds,
                limit_s: limit.as_secs_f64(),
                below: snaps
                    .iter()
                    .filter(|s| s.degree < min_peers)
                    .map(|s| (s.index, s.degree))
                    .collect(),
            };
            return Ok((wait, snaps));
        }
        if last_note.elapsed() >= Duration::from_secs(2) {
            last_note = Instant::now();
            let d = Spread::degrees(&snaps);
            note(format!(
                "{phase}: {:.0} s, {short}/{} below min-peers, degree min {} mean {:.1}",
                elapsed.as_secs_f64(),
                snaps.len(),
                d.min,
                d.mean
            ));
        }
        std::thread::sleep(STATUS_POLL);
    }
}

/// Runs `--searches` searches, each from a random live servent for a random file of
/// another live servent; returns the tally and the live servents' snapshots after it.
fn search_phase(
    fleet: &mut Fleet,
    args: &ChurnArgs,
    bin: &std::path::Path,
    rng: &mut ChaCha8Rng,
    stop: &Stop,
    phase: &str,
) -> anyhow::Result<(Searches, Vec<Snapshot>)> {
    fleet.check_running()?;
    let addrs: Vec<SocketAddr> = fleet.servents.iter().map(|s| s.addr).collect();
    let overlay = Overlay::from_snapshots(&fleet.snapshots(), &addrs);
    let live: Vec<&fleet::Servent> = fleet.live().collect();
    let plans: Vec<Plan> = (0..args.searches)
        .map(|_| {
            let o = rng.gen_range(0..live.len());
            // Another live servent: skip the origin's slot.
            let h = (o + rng.gen_range(1..live.len())) % live.len();
            let (origin, holder) = (live[o], live[h]);
            Plan {
                origin: origin.index,
                origin_addr: origin.addr,
                holder: holder.index,
                file: holder.files[rng.gen_range(0..holder.files.len())].clone(),
            }
        })
        .collect();
    let timeout = Duration::from_secs_f64(args.search_timeout);
    let t0 = Instant::now();
    let total = plans.len();
    let outcomes = searches::run_all(bin, &plans, timeout, args.parallel, stop, |done, found| {
        if done % 10 == 0 || done == total {
            note(format!("{phase}: {done}/{total} searches, {found} found"));
        }
    })?;
    let tally = Searches::tally(&plans, &outcomes, &overlay);
    note(format!(
        "{phase}: {}/{} found in {:.1} s",
        tally.found,
        tally.searches,
        t0.elapsed().as_secs_f64()
    ));
    fleet.check_running()?;
    Ok((tally, fleet.snapshots()))
}
