//! What a churn run found: search success before and after the kill, heal time, the live
//! servents' degrees and host caches; as one JSON object or a table for a person.

use std::collections::BTreeMap;

use serde::Serialize;

use super::fleet::Snapshot;
use super::overlay::Overlay;
use super::searches::{Outcome, Plan};

/// Hops from the origin a `servent search` Query can reach: it leaves the search's own
/// short-lived servent with flood TTL 7 (the default), and the first hop is to the origin.
pub const SEARCH_REACH_HOPS: usize = 6;
/// Failure messages kept per search phase (the rest are only counted).
const FAILURES_KEPT: usize = 5;

#[derive(Debug, Serialize)]
pub struct Report {
    pub seed: u64,
    pub servents: usize,
    pub killed: usize,
    pub live: usize,
    pub min_peers: usize,
    pub max_peers: usize,
    pub search_timeout_s: f64,
    /// Every servent at `--min-peers` before the searches began.
    pub start: Wait,
    pub before: Searches,
    pub heal: Wait,
    pub after: Searches,
    /// The live servents just before the kill and when healing ended.
    pub degree_before: Spread,
    pub degree_after: Spread,
    pub host_cache_before: Option<Spread>,
    pub host_cache_after: Option<Spread>,
    /// Descriptors dropped by reason, summed over the live servents after each search
    /// phase (cumulative since they started).
    pub dropped_before: BTreeMap<String, u64>,
    pub dropped_after: BTreeMap<String, u64>,
}

/// A bounded wait for every live servent to reach `--min-peers`.
#[derive(Debug, Serialize)]
pub struct Wait {
    pub healed: bool,
    /// When it first held, from the start of the wait.
    pub seconds: Option<f64>,
    pub limit_s: f64,
    /// The live servents still below `--min-peers` when the wait ended, with their degree.
    pub below: Vec<(usize, usize)>,
}

#[derive(Debug, Serialize)]
pub struct Searches {
    pub searches: usize,
    pub found: usize,
    pub percent: f64,
    pub no_hit: usize,
    pub failed: usize,
    /// Searches not found whose file was beyond [`SEARCH_REACH_HOPS`] of the origin (or
    /// in another part) when the searches began: the overlay's shape, not routing.
    pub out_of_reach: usize,
    /// The first few failures: origin, file, why, and how far apart the two servents
    /// were in the overlay when the searches began.
    pub failures: Vec<String>,
    /// The live overlay when the searches began: sizes of its connected parts (largest
    /// first; one entry when all are connected) and its diameter in hops.
    pub overlay_parts: Vec<usize>,
    pub diameter: usize,
}

impl Searches {
    pub fn tally(plans: &[Plan], outcomes: &[Outcome], overlay: &Overlay) -> Searches {
        let found = outcomes.iter().filter(|o| **o == Outcome::Found).count();
        let no_hit = outcomes.iter().filter(|o| **o == Outcome::NoHit).count();
        let out_of_reach = plans
            .iter()
            .zip(outcomes)
            .filter(|(p, o)| {
                **o != Outcome::Found
                    && overlay
                        .hops(p.origin, p.holder)
                        .is_none_or(|h| h > SEARCH_REACH_HOPS)
            })
            .count();
        let failures = plans
            .iter()
            .zip(outcomes)
            .filter(|(_, o)| **o != Outcome::Found)
            .take(FAILURES_KEPT)
            .map(|(p, o)| {
                let why = match o {
                    Outcome::Failed(why) => why.as_str(),
                    _ => "no hit",
                };
                let apart = overlay
                    .hops(p.origin, p.holder)
                    .map_or("not connected".into(), |h| format!("{h} hops apart"));
                format!(
                    "servent {} -> {} (held by servent {}, {apart}): {why}",
                    p.origin, p.file, p.holder
                )
            })
            .collect();
        Searches {
            searches: outcomes.len(),
            found,
            percent: percent(found, outcomes.len()),
            no_hit,
            failed: outcomes.len() - found - no_hit,
            out_of_reach,
            failures,
            overlay_parts: overlay.components(),
            diameter: overlay.diameter(),
        }
    }
}

fn percent(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

/// Smallest, mean and largest of a count over the live servents.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub min: usize,
    pub mean: f64,
    pub max: usize,
}

impl Spread {
    pub fn of(values: impl IntoIterator<Item = usize>) -> Spread {
        let v: Vec<usize> = values.into_iter().collect();
        Spread {
            min: v.iter().copied().min().unwrap_or(0),
            mean: v.iter().sum::<usize>() as f64 / v.len().max(1) as f64,
            max: v.iter().copied().max().unwrap_or(0),
        }
    }

    pub fn degrees(snaps: &[Snapshot]) -> Spread {
        Spread::of(snaps.iter().map(|s| s.degree))
    }

    /// `None` when no `/status` listed its host cache.
    pub fn host_caches(snaps: &[Snapshot]) -> Option<Spread> {
        let sizes: Vec<usize> = snaps.iter().filter_map(|s| s.host_cache).collect();
        (!sizes.is_empty()).then(|| Spread::of(sizes))
    }

    fn cell(&self) -> String {
        format!("{} / {:.1} / {}", self.min, self.mean, self.max)
    }
}

/// Drop counts summed over servents (only the reasons that occurred).
pub fn dropped(snaps: &[Snapshot]) -> BTreeMap<String, u64> {
    let mut sum = BTreeMap::new();
    for (reason, n) in snaps.iter().flat_map(|s| &s.dropped) {
        *sum.entry(reason.clone()).or_insert(0) += n;
    }
    sum.retain(|_, n| *n > 0);
    sum
}

impl Report {
    /// The table for a person.
    pub fn render(&self) -> String {
        let wait = |w: &Wait| match w.seconds {
            Some(s) => format!("{s:.1} s"),
            None => {
                let below: Vec<String> = w
                    .below
                    .iter()
                    .map(|(i, d)| format!("servent {i} at {d}"))
                    .collect();
                format!("not healed in {:.0} s ({})", w.limit_s, below.join(", "))
            }
        };
        let found = |s: &Searches| format!("{}/{} ({:.1}%)", s.found, s.searches, s.percent);
        let parts = |s: &Searches| format!("{:?}, {} hops", s.overlay_parts, s.diameter);
        let misses = |s: &Searches| format!("{} / {} ({})", s.no_hit, s.failed, s.out_of_reach);
        let caches = |c: &Option<Spread>| c.as_ref().map_or("-".into(), Spread::cell);
        let drops = |d: &BTreeMap<String, u64>| {
            let v: Vec<String> = d.iter().map(|(k, n)| format!("{k} {n}")).collect();
            if v.is_empty() {
                "-".into()
            } else {
                v.join(", ")
            }
        };
        let rows = [
            ("searches found", found(&self.before), found(&self.after)),
            (
                "no hit / failed (beyond 6 hops)",
                misses(&self.before),
                misses(&self.after),
            ),
            (
                "degree min/mean/max",
                self.degree_before.cell(),
                self.degree_after.cell(),
            ),
            (
                "overlay parts, diameter",
                parts(&self.before),
                parts(&self.after),
            ),
            (
                "host cache min/mean/max",
                caches(&self.host_cache_before),
                caches(&self.host_cache_after),
            ),
        ];
        let mut out = format!(
            "churn: {} servents, {} killed, {} live (seed {}; --min-peers {}, --max-peers {}, \
             found = QueryHit within {} s)\n\n",
            self.servents,
            self.killed,
            self.live,
            self.seed,
            self.min_peers,
            self.max_peers,
            self.search_timeout_s
        );
        out += &format!("{:<32} {:<22} {}\n", "", "before the kill", "after");
        for (name, before, after) in rows {
            out += &format!("{name:<32} {before:<22} {after}\n");
        }
        out += &format!("{:<32} {}\n", "min-peers at start", wait(&self.start));
        out += &format!("{:<32} {}\n", "heal time", wait(&self.heal));
        out += &format!(
            "{:<32} {}\n",
            "dropped (before)",
            drops(&self.dropped_before)
        );
        out += &format!("{:<32} {}\n", "dropped (after)", drops(&self.dropped_after));
        for (phase, s) in [("before", &self.before), ("after", &self.after)] {
            for f in &s.failures {
                out += &format!("missed {phase}: {f}\n");
            }
        }
        out
    }
}
