//! One strategy's results over a query set ([`Summary`]): success, hops and walker steps
//! to the first find, messages by kind, servents reached, per-servent load and
//! time-to-first-hit distributions, as the tables, JSON and charts show them.

use std::time::Duration;

use super::churn::ChurnCounts;
use super::network::Latency;
use super::query_cost::SimCost;
use super::spec::StrategyItem;
use super::stats::{gini, quantile};

/// One strategy's results over a query set.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    /// The strategy as given (`walk:k=16`).
    pub strategy: String,
    /// Every parameter spelt out (`walk:k=16,steps=1024,check=4,want=1,remember=true`).
    pub parameters: String,
    /// The strategy's name: `flood`, `ring` or `walk`.
    pub family: &'static str,
    /// Which `--sweep` it came from (`None`: listed alone); a sweep's marks make a curve.
    pub sweep: Option<usize>,
    /// Queries run.
    pub queries: usize,
    /// Queries for which at least one QueryHit reached the origin.
    pub successes: usize,
    /// `successes / queries`, 0 to 1.
    pub success_rate: f64,
    /// Mean and 95th percentile of hops to the first hit, over successful queries.
    pub mean_hops: Option<f64>,
    /// Mean steps the finding walker had taken at the first find, over successful
    /// walks (none for floods and rings).
    pub mean_first_hit_steps: Option<f64>,
    /// 95th percentile (nearest rank) of hops to the first hit, over successful queries.
    pub p95_hops: Option<u8>,
    /// Search messages (Queries + checks) per query.
    pub messages_per_query: f64,
    /// Search messages (Queries + checks) per query, divided by the servents in the
    /// network.
    pub messages_per_servent_per_query: f64,
    /// Query descriptors sent per query (flood copies, every ring, walker steps).
    pub query_messages_per_query: f64,
    /// QueryHit descriptors sent per query, every hop counted.
    pub hit_messages_per_query: f64,
    /// Check requests and verdicts sent per query, every hop counted.
    pub check_messages_per_query: f64,
    /// Checks the requester answered per query (messages: `check_messages_per_query`).
    pub checks_per_query: f64,
    /// Distinct servents reached per query.
    pub visited_per_query: f64,
    /// Duplicate Query deliveries / Query deliveries.
    pub duplicate_ratio: f64,
    /// Most descriptors delivered to one servent over the whole query set.
    pub peak_load: u64,
    /// Median descriptors one servent handled over the query set (unreached ones as 0).
    pub load_median: u64,
    /// 99th percentile (nearest rank) of that per-servent load.
    pub load_p99: u64,
    /// Gini coefficient of the per-servent load (0: even, towards 1: a few carry it).
    pub load_gini: f64,
    /// Mean virtual time to the first hit, in link latencies (hops at unit latency).
    pub mean_first_hit_delay: Option<f64>,
    /// Median time to the first hit over successful queries, in link latencies.
    pub first_hit_delay_median: Option<f64>,
    /// 90th percentile (nearest rank) of the time to the first hit, in link latencies.
    pub first_hit_delay_p90: Option<f64>,
    /// 99th percentile (nearest rank) of the time to the first hit, in link latencies.
    pub first_hit_delay_p99: Option<f64>,
    /// Mean rings per query (ring) and share of searches satisfied (ring, walk).
    pub mean_rings: f64,
    /// Share of queries whose search got the hits it wanted, 0 to 1 (0 for a flood).
    pub satisfied_rate: f64,
    /// Most Query messages one search sent.
    pub max_query_messages: u64,
    /// Simulator events (deliveries and timers) processed for this strategy.
    pub events: u64,
    /// Servents that left and came back while the queries ran, descriptors lost to it
    /// (all 0 without `--churn`).
    pub churn: ChurnCounts,
}

/// Summarises per-query costs over a network of `load.len()` servents, `load` being the
/// descriptors each servent handled over the query set.
pub fn summarize(
    item: &StrategyItem,
    costs: &[SimCost],
    load: &[u64],
    unit: Duration,
    events: u64,
) -> Summary {
    let q = costs.len().max(1) as f64;
    let mut hops: Vec<u8> = costs.iter().filter_map(|c| c.first_hit_hops).collect();
    hops.sort_unstable();
    let successes = hops.len();
    let mut delays: Vec<u64> = costs.iter().filter_map(|c| c.first_hit_delay_us).collect();
    delays.sort_unstable();
    let unit_us = unit.as_micros().max(1) as f64;
    let delay_at = |p: f64| quantile(&delays, p).map(|d| d as f64 / unit_us);
    let mut sorted_load = load.to_vec();
    sorted_load.sort_unstable();
    let sum = |f: fn(&SimCost) -> u64| costs.iter().map(f).sum::<u64>() as f64;
    let search = sum(|c| c.search_messages());
    let query_msgs = sum(|c| c.query_messages);
    Summary {
        strategy: item.label.clone(),
        parameters: item.strategy.to_string(),
        family: item.strategy.name(),
        sweep: item.sweep,
        queries: costs.len(),
        successes,
        success_rate: successes as f64 / q,
        mean_hops: (successes > 0)
            .then(|| hops.iter().map(|&h| h as f64).sum::<f64>() / successes as f64),
        mean_first_hit_steps: mean(costs.iter().filter_map(|c| c.first_hit_steps)),
        p95_hops: (successes > 0).then(|| hops[(successes * 95).div_ceil(100) - 1]),
        messages_per_query: search / q,
        messages_per_servent_per_query: search / q / load.len().max(1) as f64,
        query_messages_per_query: query_msgs / q,
        hit_messages_per_query: sum(|c| c.hit_messages) / q,
        check_messages_per_query: sum(|c| c.check_messages) / q,
        checks_per_query: sum(|c| u64::from(c.checks)) / q,
        visited_per_query: sum(|c| c.visited) / q,
        duplicate_ratio: if query_msgs > 0.0 {
            sum(|c| c.duplicates) / query_msgs
        } else {
            0.0
        },
        peak_load: sorted_load.last().copied().unwrap_or(0),
        load_median: quantile(&sorted_load, 0.5).unwrap_or(0),
        load_p99: quantile(&sorted_load, 0.99).unwrap_or(0),
        load_gini: gini(&sorted_load),
        mean_first_hit_delay: (!delays.is_empty())
            .then(|| delays.iter().sum::<u64>() as f64 / delays.len() as f64 / unit_us),
        first_hit_delay_median: delay_at(0.5),
        first_hit_delay_p90: delay_at(0.9),
        first_hit_delay_p99: delay_at(0.99),
        mean_rings: sum(|c| c.rings as u64) / q,
        satisfied_rate: costs.iter().filter(|c| c.satisfied).count() as f64 / q,
        max_query_messages: costs.iter().map(|c| c.query_messages).max().unwrap_or(0),
        events,
        churn: costs
            .iter()
            .fold(ChurnCounts::default(), |a, c| a + c.churn),
    }
}

/// The latency one hop's delay is measured in for [`Summary::mean_first_hit_delay`].
pub fn latency_unit(latency: Latency) -> Duration {
    match latency {
        Latency::Fixed(d) => d,
        Latency::Uniform(lo, hi) => (lo + hi) / 2,
    }
}

/// The mean of `values`, none when there are none.
fn mean(values: impl Iterator<Item = u16>) -> Option<f64> {
    let (n, sum) = values.fold((0u64, 0u64), |(n, s), v| (n + 1, s + u64::from(v)));
    (n > 0).then(|| sum as f64 / n as f64)
}
