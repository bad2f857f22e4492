//! The search workload of an experiment: `m` objects, their replicas placed on servents,
//! and the queries (origin servent, object) to run. Replicas are placed by a replication
//! ratio or, under a Zipf query popularity, by uniform, proportional or square-root
//! allocation (Cohen and Shenker; Lv et al.). Servents answer through [`ObjectMatcher`],
//! which matches the query text `obj<k>` exactly.

use std::sync::Arc;

use rand::seq::index::sample;
use rand::Rng;

use crate::core::{LocalFile, QueryMatcher};
use crate::proto::payload::Query;

use super::network::NodeId;
use crate::topology::Graph;

/// How many replicas each object gets, given its query popularity `q_i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allocation {
    /// Every object the same number of replicas.
    Uniform,
    /// Replicas proportional to `q_i`.
    Proportional,
    /// Replicas proportional to `sqrt(q_i)`: minimises expected search size for random
    /// probing (Cohen and Shenker 2002).
    SquareRoot,
}

impl std::str::FromStr for Allocation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "uniform" => Ok(Allocation::Uniform),
            "proportional" => Ok(Allocation::Proportional),
            "sqrt" | "square-root" => Ok(Allocation::SquareRoot),
            _ => Err(format!(
                "unknown allocation {s:?} (uniform, proportional, sqrt)"
            )),
        }
    }
}

impl std::fmt::Display for Allocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Allocation::Uniform => "uniform",
            Allocation::Proportional => "proportional",
            Allocation::SquareRoot => "sqrt",
        })
    }
}

/// What to place and ask for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WorkloadSpec {
    /// Distinct objects (files `obj0`..), default 100.
    pub objects: usize,
    /// Mean fraction of servents holding each object (0.01 = 1%).
    pub replication: f64,
    /// How the replicas are split among objects.
    pub allocation: Allocation,
    /// Zipf exponent of query popularity; 0 = every object equally popular.
    pub zipf_alpha: f64,
    /// Queries to run, default 1000.
    pub queries: usize,
    /// Hits wanted per query (the Query's max-hits field); ring and walkers stop once
    /// they have this many, floods cannot.
    pub want_hits: u16,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            objects: 100,
            replication: 0.01,
            allocation: Allocation::Uniform,
            zipf_alpha: 0.0,
            queries: 1000,
            want_hits: 1,
        }
    }
}

/// Which servents hold which objects, both ways round (compact: two index arrays each).
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// Objects held by servent `v`: `node_objects[node_start[v]..node_start[v + 1]]`,
    /// sorted.
    node_start: Vec<u32>,
    node_objects: Vec<u32>,
    /// Holders of object `k`: `holders[object_start[k]..object_start[k + 1]]`, sorted.
    object_start: Vec<u32>,
    holders: Vec<u32>,
}

impl Placement {
    /// Builds the placement from each object's holder list.
    pub fn from_holders(nodes: usize, per_object: &[Vec<u32>]) -> Placement {
        let mut object_start = vec![0u32];
        let mut holders = Vec::new();
        let mut count = vec![0u32; nodes + 1];
        for list in per_object {
            let mut list = list.clone();
            list.sort_unstable();
            list.dedup();
            for &v in &list {
                count[v as usize + 1] += 1;
            }
            holders.extend_from_slice(&list);
            object_start.push(holders.len() as u32);
        }
        for v in 0..nodes {
            count[v + 1] += count[v];
        }
        let node_start = count.clone();
        let mut fill = count;
        let mut node_objects = vec![0u32; holders.len()];
        for (k, span) in object_start.windows(2).enumerate() {
            let (a, b) = (span[0] as usize, span[1] as usize);
            for &v in &holders[a..b] {
                node_objects[fill[v as usize] as usize] = k as u32;
                fill[v as usize] += 1;
            }
        }
        Placement {
            node_start,
            node_objects,
            object_start,
            holders,
        }
    }

    /// Objects placed (holder lists given).
    pub fn objects(&self) -> usize {
        self.object_start.len().saturating_sub(1)
    }

    /// Servents holding `object`, sorted.
    pub fn holders(&self, object: u32) -> &[u32] {
        let k = object as usize;
        &self.holders[self.object_start[k] as usize..self.object_start[k + 1] as usize]
    }

    /// Objects servent `node` holds, sorted.
    pub fn objects_of(&self, node: NodeId) -> &[u32] {
        if node + 1 >= self.node_start.len() {
            return &[];
        }
        &self.node_objects[self.node_start[node] as usize..self.node_start[node + 1] as usize]
    }

    /// Servent `node` holds a replica of `object`.
    pub fn holds(&self, node: NodeId, object: u32) -> bool {
        self.objects_of(node).binary_search(&object).is_ok()
    }

    /// Replicas over all objects (distinct (servent, object) pairs).
    pub fn total_replicas(&self) -> usize {
        self.holders.len()
    }
}

/// The query text naming `object`.
pub fn object_name(object: u32) -> String {
    format!("obj{object}")
}

/// Parses `obj<k>` without allocating.
fn parse_object(text: &[u8]) -> Option<u32> {
    let digits = text.strip_prefix(b"obj")?;
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u32)
    })
}

/// A servent's shared files in the simulator: the objects [`Placement`] gives it. Matches
/// a Query whose text is exactly `obj<k>`; no allocation unless it matches.
#[derive(Debug, Clone)]
pub struct ObjectMatcher {
    /// Who holds what, shared by every servent of the network.
    pub placement: Arc<Placement>,
    /// The servent this matcher answers for.
    pub node: NodeId,
}

impl QueryMatcher for ObjectMatcher {
    fn matches(&self, query: &Query, limit: usize) -> Vec<LocalFile> {
        match parse_object(&query.text) {
            Some(k) if limit > 0 && self.placement.holds(self.node, k) => vec![LocalFile {
                index: k,
                size: 1 << 20,
                name: object_name(k),
                sha1_urn: None,
            }],
            _ => Vec::new(),
        }
    }

    /// The names of the objects this servent holds: queries name one object whole, so
    /// the table needs no prefixes.
    fn qrp_words(&self) -> Vec<String> {
        self.placement
            .objects_of(self.node)
            .iter()
            .map(|&k| object_name(k))
            .collect()
    }
}

/// Query popularity `q_k` of each object: Zipf with exponent `alpha`, normalised.
pub fn zipf_popularity(objects: usize, alpha: f64) -> Vec<f64> {
    let w: Vec<f64> = (1..=objects).map(|r| (r as f64).powf(-alpha)).collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

/// Replica count of each object: `replication * nodes * objects` replicas in all, split
/// by the allocation rule, each object at least 1 and at most `nodes`.
pub fn replica_counts(spec: &WorkloadSpec, nodes: usize) -> Vec<usize> {
    let q = zipf_popularity(spec.objects, spec.zipf_alpha);
    let weights: Vec<f64> = match spec.allocation {
        Allocation::Uniform => vec![1.0; spec.objects],
        Allocation::Proportional => q,
        Allocation::SquareRoot => q.iter().map(|x| x.sqrt()).collect(),
    };
    let total_w: f64 = weights.iter().sum();
    let total = spec.replication * nodes as f64 * spec.objects as f64;
    weights
        .iter()
        .map(|w| ((total * w / total_w).round() as usize).clamp(1, nodes.max(1)))
        .collect()
}

/// Where an experiment's queries start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origins {
    /// Any servent (any leaf on two tiers), uniformly.
    All,
    /// Any servent (leaf) of the largest connected component, uniformly: a query from
    /// a small component cannot find most objects, and walkers from there run to their
    /// step limit, so those ~10% of origins on a PLRG would dominate walker cost.
    LargestComponent,
    /// These servents, in turn.
    Fixed(Vec<NodeId>),
}

/// The servents queries may start at on `graph`: its leaves on two tiers, else every
/// servent; with `largest_component`, only those in the largest connected component.
pub fn origin_pool(graph: &Graph, largest_component: bool) -> Vec<NodeId> {
    let two_tier = (0..graph.node_count()).any(|v| graph.is_leaf(v));
    let labels = largest_component.then(|| graph.components());
    let biggest = labels.as_ref().and_then(|l| {
        let mut count = vec![0usize; graph.node_count()];
        for &c in l {
            count[c as usize] += 1;
        }
        // Ties go to the lowest label, as Graph::largest_component keeps.
        (0..count.len()).max_by_key(|&c| (count[c], std::cmp::Reverse(c)))
    });
    (0..graph.node_count())
        .filter(|&v| !two_tier || graph.is_leaf(v))
        .filter(|&v| match (&labels, biggest) {
            (Some(l), Some(b)) => l[v] as usize == b,
            _ => true,
        })
        .collect()
}

/// A placement and the query list (origin, object), drawn from `rng`.
#[derive(Debug, Clone)]
pub struct Workload {
    /// What it was drawn from.
    pub spec: WorkloadSpec,
    /// Which servents hold which objects.
    pub placement: Arc<Placement>,
    /// The queries in run order: (origin servent, object searched for).
    pub queries: Vec<(NodeId, u32)>,
}

impl Workload {
    /// Places replicas on distinct random servents and draws queries: origins uniform,
    /// objects by Zipf popularity.
    pub fn generate<R: Rng>(spec: &WorkloadSpec, nodes: usize, rng: &mut R) -> Workload {
        Workload::generate_from(spec, nodes, None, rng)
    }

    /// As [`Workload::generate`] for `graph`: on a two-tier graph queries start at leaves
    /// (uniform among them), as in the real network, where users' servents are leaves and
    /// ultrapeers search for them; replicas go to leaves and ultrapeers alike. On a flat
    /// graph exactly [`Workload::generate`].
    pub fn generate_on<R: Rng>(spec: &WorkloadSpec, graph: &Graph, rng: &mut R) -> Workload {
        let leaves: Vec<NodeId> = (0..graph.node_count())
            .filter(|&v| graph.is_leaf(v))
            .collect();
        let origins = (!leaves.is_empty()).then_some(leaves.as_slice());
        Workload::generate_from(spec, graph.node_count(), origins, rng)
    }

    /// As [`Workload::generate_on`] with origins drawn from `origins`: every servent
    /// (or leaf), only those of the largest connected component, or a fixed list used
    /// in turn (query `i` from `list[i % len]`; the objects drawn as for the others).
    /// On a connected graph the first two draw exactly the same workload.
    pub fn generate_with<R: Rng>(
        spec: &WorkloadSpec,
        graph: &Graph,
        origins: &Origins,
        rng: &mut R,
    ) -> Workload {
        match origins {
            Origins::All => Workload::generate_on(spec, graph, rng),
            Origins::LargestComponent => {
                let pool = origin_pool(graph, true);
                let all = origin_pool(graph, false);
                if pool.len() == all.len() {
                    return Workload::generate_on(spec, graph, rng);
                }
                Workload::generate_from(spec, graph.node_count(), Some(&pool), rng)
            }
            Origins::Fixed(list) => {
                let mut w = Workload::generate_on(spec, graph, rng);
                if !list.is_empty() {
                    for (i, q) in w.queries.iter_mut().enumerate() {
                        q.0 = list[i % list.len()];
                    }
                }
                w
            }
        }
    }

    fn generate_from<R: Rng>(
        spec: &WorkloadSpec,
        nodes: usize,
        origins: Option<&[NodeId]>,
        rng: &mut R,
    ) -> Workload {
        let counts = replica_counts(spec, nodes);
        let per_object: Vec<Vec<u32>> = counts
            .iter()
            .map(|&r| {
                sample(rng, nodes, r.min(nodes))
                    .into_iter()
                    .map(|v| v as u32)
                    .collect()
            })
            .collect();
        let placement = Arc::new(Placement::from_holders(nodes, &per_object));
        let q = zipf_popularity(spec.objects, spec.zipf_alpha);
        let mut cumulative = Vec::with_capacity(q.len());
        let mut acc = 0.0;
        for x in &q {
            acc += x;
            cumulative.push(acc);
        }
        let queries = (0..spec.queries)
            .map(|_| {
                let origin = match origins {
                    Some(o) => o[rng.gen_range(0..o.len())],
                    None => rng.gen_range(0..nodes),
                };
                let x = rng.gen::<f64>() * acc;
                let k = cumulative
                    .partition_point(|&c| c < x)
                    .min(spec.objects.saturating_sub(1));
                (origin, k as u32)
            })
            .collect();
        Workload {
            spec: spec.clone(),
            placement,
            queries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn placement_indexes_agree_both_ways() {
        let p = Placement::from_holders(5, &[vec![3, 1], vec![], vec![1, 4, 1]]);
        assert_eq!(p.holders(0), &[1, 3]);
        assert_eq!(p.holders(2), &[1, 4]);
        assert_eq!(p.objects_of(1), &[0, 2]);
        assert_eq!(p.objects_of(0), &[] as &[u32]);
        assert!(p.holds(4, 2) && !p.holds(4, 0));
        assert_eq!(p.total_replicas(), 4);
    }

    #[test]
    fn matcher_answers_exactly_its_objects() {
        let p = Arc::new(Placement::from_holders(3, &[vec![2], vec![0, 2]]));
        let m = ObjectMatcher {
            placement: p,
            node: 2,
        };
        assert_eq!(m.matches(&Query::new("obj1"), 10)[0].name, "obj1");
        assert_eq!(m.matches(&Query::new("obj0"), 10).len(), 1);
        for miss in ["obj2", "obj", "obj1x", "xobj1", "obj01x", ""] {
            assert!(m.matches(&Query::new(miss), 10).is_empty(), "{miss}");
        }
        assert!(m.matches(&Query::new("obj1"), 0).is_empty());
    }

    #[test]
    fn allocations_split_the_replica_budget() {
        let spec = WorkloadSpec {
            objects: 4,
            replication: 0.05,
            zipf_alpha: 1.0,
            allocation: Allocation::Proportional,
            ..WorkloadSpec::default()
        };
        let c = replica_counts(&spec, 1000);
        assert_eq!(c.iter().sum::<usize>(), 200);
        assert!(c[0] > c[1] && c[1] > c[2]);
        let sqrt = replica_counts(
            &WorkloadSpec {
                allocation: Allocation::SquareRoot,
                ..spec.clone()
            },
            1000,
        );
        assert!(sqrt[0] < c[0] && sqrt[3] > c[3], "{sqrt:?} vs {c:?}");
        let uniform = replica_counts(
            &WorkloadSpec {
                allocation: Allocation::Uniform,
                ..spec
            },
            1000,
        );
        assert_eq!(uniform, vec![50; 4]);
    }

    /// Origins in the largest component: none from the small one, and on a connected
    /// graph exactly the workload drawn from all servents.
    #[test]
    fn origins_default_to_the_largest_component() {
        // Two components: a path of 6 (0..6) and a triangle (6, 7, 8).
        let edges = [
            (0, 1),
            (1, 2),
            (2, 3),
            (3, 4),
            (4, 5),
            (6, 7),
            (7, 8),
            (8, 6),
        ];
        let g = Graph::from_edges(9, edges.to_vec());
        assert_eq!(origin_pool(&g, true), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(origin_pool(&g, false).len(), 9);
        let spec = WorkloadSpec {
            objects: 3,
            queries: 200,
            ..WorkloadSpec::default()
        };
        let w = Workload::generate_with(
            &spec,
            &g,
            &Origins::LargestComponent,
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        assert!(w.queries.iter().all(|&(o, _)| o < 6));
        let all =
            Workload::generate_with(&spec, &g, &Origins::All, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(all.queries.iter().any(|&(o, _)| o >= 6));
        let fixed = Workload::generate_with(
            &spec,
            &g,
            &Origins::Fixed(vec![7, 2]),
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        assert_eq!(fixed.queries[0].0, 7);
        assert_eq!(fixed.queries[1].0, 2);
        assert_eq!(fixed.queries[2].0, 7);
        let objects = |w: &Workload| w.queries.iter().map(|q| q.1).collect::<Vec<_>>();
        assert_eq!(objects(&fixed), objects(&all));

        let connected = Graph::from_edges(6, edges[..5].to_vec());
        let a = Workload::generate_with(
            &spec,
            &connected,
            &Origins::LargestComponent,
            &mut ChaCha8Rng::seed_from_u64(2),
        );
        let b = Workload::generate(&spec, 6, &mut ChaCha8Rng::seed_from_u64(2));
        assert_eq!(a.queries, b.queries);
    }

    #[test]
    fn workload_is_reproducible_from_the_seed() {
        let spec = WorkloadSpec::default();
        let a = Workload::generate(&spec, 500, &mut ChaCha8Rng::seed_from_u64(7));
        let b = Workload::generate(&spec, 500, &mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(a.queries, b.queries);
        assert_eq!(a.placement.total_replicas(), 100 * 5);
        for k in 0..100 {
            assert_eq!(a.placement.holders(k), b.placement.holders(k));
        }
    }
}
