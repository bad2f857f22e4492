//! How experiment results are shown: a table for people, JSON for scripts, CSV for
//! spreadsheets, and the topology's vital statistics.

use std::fmt::Write as _;

use super::experiment::Summary;
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

fn opt(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

const COLUMNS: [&str; 10] = [
    "strategy",
    "success",
    "hops",
    "p95",
    "msgs/query",
    "msgs/servent",
    "visited",
    "dup",
    "peak load",
    "checks/q",
];

/// The results table: one row per strategy.
pub fn table(rows: &[Summary]) -> String {
    let cells: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            [
                r.strategy.clone(),
                format!("{:.1}%", 100.0 * r.success_rate),
                opt(r.mean_hops, 2),
                r.p95_hops.map_or("-".into(), |h| h.to_string()),
                group(r.messages_per_query, 1),
                format!("{:.4}", r.messages_per_servent_per_query),
                group(r.visited_per_query, 1),
                format!("{:.1}%", 100.0 * r.duplicate_ratio),
                group(r.peak_load as f64, 0),
                group(r.check_messages_per_query, 1),
            ]
        })
        .collect();
    let mut width = COLUMNS.map(str::len);
    for row in &cells {
        for (w, c) in width.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, row: &[String]| {
        for (i, c) in row.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "{c:<w$}", w = width[i]);
            } else {
                let _ = write!(out, "  {c:>w$}", w = width[i]);
            }
        }
        out.push('\n');
    };
    line(&mut out, &COLUMNS.map(str::to_owned));
    for row in &cells {
        line(&mut out, row);
    }
    out
}

/// The results as CSV with a header row.
pub fn csv(rows: &[Summary]) -> String {
    let mut out = String::from(
        "strategy,family,queries,successes,success_rate,mean_hops,p95_hops,messages_per_query,\
         messages_per_servent_per_query,hit_messages_per_query,check_messages_per_query,\
         visited_per_query,duplicate_ratio,peak_load,mean_first_hit_delay,events\n",
    );
    let o = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v:.4}"));
    for r in rows {
        let _ = writeln!(
            out,
            "\"{}\",{},{},{},{:.4},{},{},{:.2},{:.6},{:.2},{:.2},{:.2},{:.4},{},{},{}",
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
            r.events
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
