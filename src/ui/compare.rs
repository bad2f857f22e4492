//! `POST /api/v1/compare`: a small `servent compare` run in the servent (the unmodified
//! core in the simulator), bounded so a page cannot tie the machine up
//! ([`MAX_COMPARE_SERVENTS`], [`MAX_COMPARE_QUERIES`], [`MAX_COMPARE_STRATEGIES`], one
//! run at a time), on a blocking thread so the servent's tasks keep running. It answers
//! the summary rows `compare --json` prints and the chart `compare --svg` draws.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::sim::experiment::{workload_seed, Experiment};
use crate::sim::report::{self, TopologyInfo};
use crate::sim::spec::parse_strategies;
use crate::sim::svg::{self, Chart};
use crate::sim::{Latency, Origins, Workload, WorkloadSpec};
use crate::topology::{TopologyKind, TopologySpec};

use super::api::ApiError;

/// Most servents a compare from the page may simulate (a few seconds of work).
pub const MAX_COMPARE_SERVENTS: usize = 20_000;
/// Most queries per strategy.
pub const MAX_COMPARE_QUERIES: usize = 500;
/// Most strategies in one run.
pub const MAX_COMPARE_STRATEGIES: usize = 8;
/// Most links per servent a generated topology may ask for (mean degree, or edges / n).
pub const MAX_COMPARE_DEGREE: f64 = 64.0;
/// The seed of every compare from the page: the same request draws the same chart.
const COMPARE_SEED: u64 = 1;

/// What the page asks for.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct CompareRequest {
    /// A generated topology (`plrg:n=1000`); edge-list files are refused.
    pub topology: String,
    /// The strategies, as `compare --strategies` takes them.
    pub strategies: String,
    /// Queries per strategy.
    pub queries: usize,
}

/// Servents a topology would have, or why it is refused (a file, too large, too dense).
fn servents_of(spec: &TopologySpec) -> Result<usize, String> {
    let (n, links) = match &spec.kind {
        TopologyKind::Random { n, degree } => (*n, degree / 2.0 * *n as f64),
        TopologyKind::Gnm { n, m } => (*n, *m as f64),
        TopologyKind::Plrg { n, .. } => (*n, 0.0),
        TopologyKind::Grid { width, height } => (width.saturating_mul(*height), 0.0),
        TopologyKind::BarabasiAlbert { n, m } => (*n, (*n as f64) * (*m as f64)),
        TopologyKind::TwoTier(t) => (
            t.ultrapeers.saturating_add(t.leaves),
            (t.ultrapeers as f64) * (t.degree as f64),
        ),
        TopologyKind::File(_) => return Err("edge-list files cannot be read from the page".into()),
    };
    if n > MAX_COMPARE_SERVENTS {
        return Err(format!(
            "at most {MAX_COMPARE_SERVENTS} servents (asked for {n})"
        ));
    }
    if links > MAX_COMPARE_DEGREE * n as f64 {
        return Err(format!("at most {MAX_COMPARE_DEGREE} links per servent"));
    }
    Ok(n)
}

/// Runs the comparison (blocking: call it on a blocking thread).
pub fn run(req: &CompareRequest) -> Result<Value, ApiError> {
    let topo: TopologySpec = req
        .topology
        .parse()
        .map_err(|e| ApiError::bad(format!("topology: {e}")))?;
    servents_of(&topo).map_err(ApiError::bad)?;
    if req.queries == 0 || req.queries > MAX_COMPARE_QUERIES {
        return Err(ApiError::bad(format!(
            "queries must be 1 to {MAX_COMPARE_QUERIES}"
        )));
    }
    let mut strategies =
        parse_strategies(&req.strategies).map_err(|e| ApiError::bad(format!("strategies: {e}")))?;
    if strategies.len() > MAX_COMPARE_STRATEGIES {
        return Err(ApiError::bad(format!(
            "at most {MAX_COMPARE_STRATEGIES} strategies"
        )));
    }
    for s in &mut strategies {
        s.default_want_hits(1);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(COMPARE_SEED);
    let graph = topo
        .build(&mut rng)
        .map_err(|e| ApiError::bad(format!("building {topo}: {e}")))?;
    if graph.node_count() < 2 {
        return Err(ApiError::bad(
            "the topology has fewer than 2 servents".into(),
        ));
    }
    let info = TopologyInfo::of(&topo.to_string(), &graph);
    let spec = WorkloadSpec {
        queries: req.queries,
        ..WorkloadSpec::default()
    };
    let mut wrng = ChaCha8Rng::seed_from_u64(workload_seed(COMPARE_SEED));
    // Origins in the largest component, as `servent compare` draws them by default:
    // walkers from a small component walk to their step limit and dominate the cost.
    let workload = Workload::generate_with(&spec, &graph, &Origins::LargestComponent, &mut wrng);
    let experiment = Experiment {
        graph: &graph,
        workload: &workload,
        seed: COMPARE_SEED,
        latency: Latency::default(),
        threads: 1,
        // Look-ahead walks read the ultrapeers' tables, as `servent compare` turns on.
        tables: strategies.iter().any(|s| s.strategy.reads_tables()),
        churn: crate::sim::Churn::NONE,
    };
    let rows: Vec<_> = experiment
        .run(&strategies, &|_| {})
        .map_err(|e| ApiError::bad(format!("simulation: {e}")))?
        .into_iter()
        .map(|r| r.summary)
        .collect();
    let chart = Chart {
        title: format!("Search cost on {}", info.spec),
        subtitle: report::chart_subtitle(&info, &spec, &format!("seed {COMPARE_SEED}")),
        rows: &rows,
        curves: false,
    };
    Ok(json!({ "topology": info, "rows": rows, "svg": svg::render(&chart) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servents(text: &str) -> Result<usize, String> {
        servents_of(&text.parse().unwrap())
    }

    #[test]
    fn large_dense_or_file_topologies_are_refused() {
        assert_eq!(servents("plrg:n=1000"), Ok(1000));
        assert!(servents("plrg:n=20001").is_err());
        assert!(servents("grid:w=1000,h=1000").is_err());
        assert!(servents("gnm:n=100,m=100000").is_err());
        assert!(servents("file:/etc/passwd").is_err());
    }

    #[test]
    fn a_small_compare_answers_rows_and_a_chart() {
        let req = CompareRequest {
            topology: "random:n=200,degree=4".into(),
            strategies: "flood:ttl=3,walk:k=4".into(),
            queries: 5,
        };
        let v = run(&req).unwrap();
        assert_eq!(v["rows"].as_array().unwrap().len(), 2);
        assert_eq!(v["rows"][0]["queries"], 5);
        assert!(v["svg"].as_str().unwrap().starts_with("<svg"));
        let too_many = CompareRequest {
            queries: 501,
            ..req
        };
        assert!(run(&too_many).is_err());
    }
}
