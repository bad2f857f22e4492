//! How experiment results are shown: a table for people, JSON for scripts, CSV for
//! spreadsheets, and the topology's vital statistics.

use std::fmt::Write as _;

use std::time::Duration;

use super::experiment::{SimCost, Summary};
use super::seeds::StrategyIntervals;
use crate::topology::Graph;

/// A topology's size and shape, as `servent compare` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TopologyInfo {
    /// The topology description as given (`plrg:n=10000,exponent=2.1`).
    pub spec: String,
    /// Nodes of the graph.
    pub servents: usize,
    /// Undirected links.
    pub links: usize,
    /// Mean links per servent.
    pub mean_degree: f64,
    /// Most links of one servent.
    pub max_degree: usize,
    /// Connected components (an isolated servent is one).
    pub components: usize,
    /// The largest component sizes, largest first (at most 10).
    pub largest_components: Vec<usize>,
    /// Servents with no link at all.
    pub isolated: usize,
    /// Leaves of a two-tier overlay (0 for a flat one: every servent an ultrapeer).
    pub leaves: usize,
}

impl TopologyInfo {
    /// Measures `g`, labelled with the description `spec` it was built from.
    pub fn of(spec: &str, g: &Graph) -> TopologyInfo {
        let sizes = g.component_sizes();
        TopologyInfo {
            spec: spec.to_owned(),
            servents: g.node_count(),
            links: g.edge_count(),
            mean_degree: g.mean_degree(),
            max_degree: g.max_degree(),
            components: sizes.len(),
            largest_components: sizes.iter().take(10).copied().collect(),
            isolated: (0..g.node_count()).filter(|&v| g.degree(v) == 0).count(),
            leaves: g.leaf_count(),
        }
    }

    /// One paragraph for people.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "topology {}: {} servents, {} links, mean degree {:.2}, max degree {}\n",
            self.spec,
            group(self.servents as f64, 0),
            group(self.links as f64, 0),
            self.mean_degree,
            self.max_degree
        );
        if self.leaves > 0 {
            let _ = writeln!(
                s,
                "two tiers: {} ultrapeers, {} leaves (queries start at leaves)",
                group((self.servents - self.leaves) as f64, 0),
                group(self.leaves as f64, 0)
            );
        }
        let sizes: Vec<String> = self
            .largest_components
            .iter()
            .map(|&c| group(c as f64, 0))
            .collect();
        let _ = write!(
            s,
            "components: {} (largest: {}{}), {} isolated servents",
            self.components,
            sizes.join(", "),
            if self.components > sizes.len() {
                ", ..."
            } else {
                ""
            },
            self.isolated
        );
        s
    }
}

/// A chart's subtitle: the topology's size and the workload, then `seeds` ("seed 1",
/// "mean of 5 seeds from 1").
pub fn chart_subtitle(info: &TopologyInfo, spec: &crate::sim::WorkloadSpec, seeds: &str) -> String {
    format!(
        "{} servents, {} links; {} objects at {:.2}% replication; {} queries per strategy; {seeds}",
        group(info.servents as f64, 0),
        group(info.links as f64, 0),
        spec.objects,
        100.0 * spec.replication,
        spec.queries,
    )
}

/// `1234567.891` with `decimals` decimals and thousands separators: `1,234,567.89`.
pub fn group(x: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if x < 0.0 && x.abs() >= 0.5 * 10f64.powi(-(decimals as i32)) {
        out.insert(0, '-');
    }
    out
}

/// How a column's numbers are written.
#[derive(Clone, Copy)]
enum Format {
    /// A fraction as a percentage with this many decimals.
    Percent(usize),
    /// Grouped by thousands with this many decimals.
    Grouped(usize),
}

impl Format {
    fn write(self, x: f64) -> String {
        match self {
            Format::Percent(d) => format!("{:.*}%", d, 100.0 * x),
            Format::Grouped(d) => group(x, d),
        }
    }

    /// An interval's half-width, in the same unit (no `%` sign: it follows the mean).
    fn half(self, x: f64) -> String {
        match self {
            Format::Percent(d) => format!("{:.*}", d, 100.0 * x),
            Format::Grouped(d) => group(x, d),
        }
    }
}

/// The table's columns after the strategy: header, [`Summary`] field, format.
const COLUMNS: [(&str, &str, Format); 17] = [
    ("success", "success_rate", Format::Percent(1)),
    ("hops", "mean_hops", Format::Grouped(2)),
    ("steps1", "mean_first_hit_steps", Format::Grouped(1)),
    ("p95", "p95_hops", Format::Grouped(0)),
    ("msgs/query", "messages_per_query", Format::Grouped(1)),
    ("query msgs", "query_messages_per_query", Format::Grouped(1)),
    ("checks", "checks_per_query", Format::Grouped(1)),
    ("check msgs", "check_messages_per_query", Format::Grouped(1)),
    ("visited", "visited_per_query", Format::Grouped(1)),
    ("dup", "duplicate_ratio", Format::Percent(1)),
    ("load med", "load_median", Format::Grouped(0)),
    ("load p99", "load_p99", Format::Grouped(0)),
    ("load max", "peak_load", Format::Grouped(0)),
    ("gini", "load_gini", Format::Grouped(3)),
    ("t1 med", "first_hit_delay_median", Format::Grouped(1)),
    ("t1 p90", "first_hit_delay_p90", Format::Grouped(1)),
    ("t1 p99", "first_hit_delay_p99", Format::Grouped(1)),
];

/// What the table's headers mean, for the legend under it.
pub const LEGEND: &str = "hops: the first hit's return hops; steps1: steps the walker that made \
the first find had taken (walkers share one reverse route, so their hits come back in fewer hops than \
they walked); msgs/query: Query + check messages per query (checks: walker checks and dq's \
query status messages), every hop counted; query msgs: Query descriptors (for walkers, their steps); \
checks: checks the requester answered; check msgs: their requests and verdicts, every hop; visited: \
distinct servents reached; dup: share of Query deliveries to a servent that had it; load med/p99/max, \
gini: descriptors each servent handled over the whole query set (every servent counted); t1 \
med/p90/p99: time to the first hit in link latencies (the Query's way out and the hit's way back, \
ring and walker waits included).";

/// The results table: one row per strategy; with `intervals` (one per row, over
/// several seeds) every cell is `mean±half-width` of its 95% confidence interval.
pub fn table(rows: &[Summary], intervals: Option<&[StrategyIntervals]>) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let fields = serde_json::to_value(r).unwrap_or_default();
            let iv = intervals.and_then(|iv| iv.get(i));
            let mut row = vec![r.strategy.clone()];
            for (_, key, format) in COLUMNS {
                let cell = match iv.and_then(|iv| iv.get(key)) {
                    Some(x) if x.n > 1 => {
                        format!("{}±{}", format.write(x.mean), format.half(x.ci95))
                    }
                    Some(x) => format.write(x.mean),
                    None => fields[key]
                        .as_f64()
                        .map_or_else(|| "-".to_owned(), |x| format.write(x)),
                };
                row.push(cell);
            }
            row
        })
        .collect();
    let headers: Vec<String> = std::iter::once("strategy")
        .chain(COLUMNS.iter().map(|c| c.0))
        .map(str::to_owned)
        .collect();
    let mut width: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[String]| {
        for (i, c) in row.iter().enumerate() {
            let pad = " ".repeat(width[i].saturating_sub(c.chars().count()));
            if i == 0 {
                let _ = write!(out, "{c}{pad}");
            } else {
                let _ = write!(out, "  {pad}{c}");
            }
        }
        out.push('\n');
    };
    line(&mut out, &headers);
    for row in &cells {
        line(&mut out, row);
    }
    out
}

/// The header of [`per_query_csv`].
pub const PER_QUERY_HEADER: &str = "seed,strategy,query,origin,object,success,satisfied,messages,\
query_messages,checks,check_messages,hit_messages,hits,visited,duplicates,first_hit_hops,\
first_hit_steps,first_hit_delay,duration,rings,walkers\n";

/// One row per query of `strategy` (`servent compare --per-query FILE`), after
/// [`PER_QUERY_HEADER`]: the seed, the strategy, the query's index, origin and object,
/// and what it cost. Times are in link latencies (`unit`); empty cells where a query had
/// no hit.
pub fn per_query_csv(
    out: &mut String,
    seed: u64,
    strategy: &str,
    costs: &[SimCost],
    unit: Duration,
) {
    let unit = unit.as_micros().max(1) as f64;
    for (i, c) in costs.iter().enumerate() {
        let _ = writeln!(
            out,
            "{seed},\"{strategy}\",{i},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.3},{},{}",
            c.origin,
            c.object,
            u8::from(c.success()),
            u8::from(c.satisfied),
            c.search_messages(),
            c.query_messages,
            c.checks,
            c.check_messages,
            c.hit_messages,
            c.hits,
            c.visited,
            c.duplicates,
            c.first_hit_hops.map_or(String::new(), |h| h.to_string()),
            c.first_hit_steps.map_or(String::new(), |h| h.to_string()),
            c.first_hit_delay_us
                .map_or(String::new(), |d| format!("{:.3}", d as f64 / unit)),
            c.duration_us as f64 / unit,
            c.rings,
            c.walkers
        );
    }
}

/// The results as CSV with a header row.
pub fn csv(rows: &[Summary]) -> String {
    let mut out = String::from(
        "strategy,family,queries,successes,success_rate,mean_hops,p95_hops,messages_per_query,\
         messages_per_servent_per_query,hit_messages_per_query,check_messages_per_query,\
         visited_per_query,duplicate_ratio,peak_load,mean_first_hit_delay,events,\
         query_messages_per_query,checks_per_query,load_median,load_p99,load_gini,\
         first_hit_delay_median,first_hit_delay_p90,first_hit_delay_p99\n",
    );
    let o = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.4}"));
    for r in rows {
        let _ = writeln!(
            out,
            "\"{}\",{},{},{},{:.4},{},{},{:.2},{:.6},{:.2},{:.2},{:.2},{:.4},{},{},{},{:.2},{:.2},{},{},{:.4},{},{},{}",
            r.strategy,
            r.family,
            r.queries,
            r.successes,
            r.success_rate,
            o(r.mean_hops),
            r.p95_hops.map_or(String::new(), |h| h.to_string()),
            r.messages_per_query,
            r.messages_per_servent_per_query,
            r.hit_messages_per_query,
            r.check_messages_per_query,
            r.visited_per_query,
            r.duplicate_ratio,
            r.peak_load,
            o(r.mean_first_hit_delay),
            r.events,
            r.query_messages_per_query,
            r.checks_per_query,
            r.load_median,
            r.load_p99,
            r.load_gini,
            o(r.first_hit_delay_median),
            o(r.first_hit_delay_p90),
            o(r.first_hit_delay_p99)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(group(1_234_567.891, 2), "1,234,567.89");
        assert_eq!(group(999.0, 0), "999");
        assert_eq!(group(1000.0, 1), "1,000.0");
        assert_eq!(group(0.04, 1), "0.0");
        assert_eq!(group(-12345.0, 0), "-12,345");
    }
}
