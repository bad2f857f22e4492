//! One experiment over several seeds (`servent compare --seeds N`): every numeric
//! column of each strategy's [`Summary`] as a mean with its 95% confidence interval
//! over the seeds, and a summary of the means for tables and charts.

use std::collections::BTreeMap;

use super::experiment::Summary;
use super::stats::{mean_ci, Interval};

/// One strategy's columns over the seeds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StrategyIntervals {
    /// The strategy as given.
    pub strategy: String,
    /// Seeds the intervals are over.
    pub seeds: usize,
    /// Every numeric field of [`Summary`] by its JSON name: mean and 95% interval over
    /// the seeds where it has a value (`mean_hops` has none for a seed without a hit).
    pub columns: BTreeMap<String, Interval>,
}

impl StrategyIntervals {
    /// The interval of column `key` (a [`Summary`] field name), if any seed had it.
    pub fn get(&self, key: &str) -> Option<Interval> {
        self.columns.get(key).copied()
    }
}

/// The intervals of each strategy over `per_seed` (one results list per seed, the same
/// strategies in the same order in each).
pub fn intervals(per_seed: &[Vec<Summary>]) -> Vec<StrategyIntervals> {
    let Some(first) = per_seed.first() else {
        return Vec::new();
    };
    (0..first.len())
        .map(|si| {
            let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for run in per_seed {
                let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&run[si]) else {
                    continue;
                };
                for (key, value) in fields {
                    if let Some(x) = value.as_f64() {
                        samples.entry(key).or_default().push(x);
                    }
                }
            }
            StrategyIntervals {
                strategy: first[si].strategy.clone(),
                seeds: per_seed.len(),
                columns: samples
                    .into_iter()
                    .filter(|(k, _)| k != "sweep")
                    .map(|(k, v)| (k, mean_ci(&v)))
                    .collect(),
            }
        })
        .collect()
}

/// `base` (one seed's summary of the strategy) with every numeric column replaced by
/// its mean over the seeds: what tables and charts show for several seeds. Counts are
/// rounded to the nearest integer.
pub fn mean_summary(base: &Summary, iv: &StrategyIntervals) -> Summary {
    let f = |key: &str, old: f64| iv.get(key).map_or(old, |i| i.mean);
    let o = |key: &str| iv.get(key).map(|i| i.mean);
    let u = |key: &str, old: u64| iv.get(key).map_or(old, |i| i.mean.round() as u64);
    Summary {
        queries: u("queries", base.queries as u64) as usize,
        successes: u("successes", base.successes as u64) as usize,
        success_rate: f("success_rate", base.success_rate),
        mean_hops: o("mean_hops"),
        mean_first_hit_steps: o("mean_first_hit_steps"),
        p95_hops: o("p95_hops").map(|h| h.round().clamp(0.0, 255.0) as u8),
        messages_per_query: f("messages_per_query", base.messages_per_query),
        messages_per_servent_per_query: f(
            "messages_per_servent_per_query",
            base.messages_per_servent_per_query,
        ),
        query_messages_per_query: f("query_messages_per_query", base.query_messages_per_query),
        hit_messages_per_query: f("hit_messages_per_query", base.hit_messages_per_query),
        check_messages_per_query: f("check_messages_per_query", base.check_messages_per_query),
        checks_per_query: f("checks_per_query", base.checks_per_query),
        visited_per_query: f("visited_per_query", base.visited_per_query),
        duplicate_ratio: f("duplicate_ratio", base.duplicate_ratio),
        peak_load: u("peak_load", base.peak_load),
        load_median: u("load_median", base.load_median),
        load_p99: u("load_p99", base.load_p99),
        load_gini: f("load_gini", base.load_gini),
        mean_first_hit_delay: o("mean_first_hit_delay"),
        first_hit_delay_median: o("first_hit_delay_median"),
        first_hit_delay_p90: o("first_hit_delay_p90"),
        first_hit_delay_p99: o("first_hit_delay_p99"),
        mean_rings: f("mean_rings", base.mean_rings),
        satisfied_rate: f("satisfied_rate", base.satisfied_rate),
        max_query_messages: u("max_query_messages", base.max_query_messages),
        events: u("events", base.events),
        ..base.clone()
    }
}
