//! The small language topologies are described in (`servent compare --topology`):
//! `plrg:n=10000,exponent=2.1`, `random:n=1000,degree=4`, `grid:w=100,h=100`,
//! `ba:n=1000,m=2`, `gnm:n=1000,m=2000`, `file:PATH` (a SNAP edge list),
//! `two-tier:ultrapeers=1000,leaves=9000,degree=8[,leaf_ups=3,max_leaves=30]` (ultrapeers
//! and leaves, see `two_tier`), each with an optional `lcc` flag; parsed, printed back,
//! and built into a [`Graph`].

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use rand::Rng;

use super::edge_list::TopologyError;
use super::graph::Graph;
use super::two_tier::{TwoTier, DEFAULT_LEAF_ULTRAPEERS, DEFAULT_MAX_LEAVES};

/// Errors in a topology description.
#[derive(Debug, PartialEq, Eq)]
pub enum TopologySpecError {
    /// The name before `:` is not a known topology.
    UnknownName {
        /// What was being named (`topology`).
        what: &'static str,
        /// The name as given.
        name: String,
        /// The names accepted, comma-separated.
        expected: &'static str,
    },
    /// A parameter the topology does not take.
    UnknownParam {
        /// The whole description as given.
        spec: String,
        /// The unknown key.
        key: String,
        /// The keys this topology takes, comma-separated.
        expected: &'static str,
    },
    /// A parameter without a value, or whose value does not parse as its type.
    BadValue {
        /// The whole description as given.
        spec: String,
        /// The parameter's key.
        key: String,
        /// The value as given (empty when missing).
        value: String,
        /// Why it was refused (the parser's message).
        reason: String,
    },
}

impl fmt::Display for TopologySpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopologySpecError::UnknownName {
                what,
                name,
                expected,
            } => write!(f, "unknown {what} {name:?} (expected one of: {expected})"),
            TopologySpecError::UnknownParam {
                spec,
                key,
                expected,
            } => write!(
                f,
                "{spec}: unknown parameter {key:?} (expected one of: {expected})"
            ),
            TopologySpecError::BadValue {
                spec,
                key,
                value,
                reason,
            } => write!(f, "{spec}: bad value {value:?} for {key}: {reason}"),
        }
    }
}

impl std::error::Error for TopologySpecError {}

/// `name:key=value,flag,...` split into its name and parameters.
struct Parts<'a> {
    spec: &'a str,
    name: &'a str,
    params: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> Parts<'a> {
    fn parse(spec: &'a str) -> Parts<'a> {
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let params = rest
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (p, None),
            })
            .collect();
        Parts {
            spec,
            name: name.trim(),
            params,
        }
    }

    fn check_keys(&self, allowed: &'static str) -> Result<(), TopologySpecError> {
        for (k, _) in &self.params {
            if !allowed.split(", ").any(|a| a == *k) {
                return Err(TopologySpecError::UnknownParam {
                    spec: self.spec.to_owned(),
                    key: (*k).to_owned(),
                    expected: allowed,
                });
            }
        }
        Ok(())
    }

    fn flag(&self, key: &str) -> bool {
        self.params.iter().any(|(k, _)| *k == key)
    }

    fn get<T: FromStr>(&self, key: &str, default: T) -> Result<T, TopologySpecError>
    where
        T::Err: fmt::Display,
    {
        match self.params.iter().rev().find(|(k, _)| *k == key) {
            None => Ok(default),
            Some((_, None)) => Err(self.bad(key, "", "a value is needed".into())),
            Some((_, Some(v))) => v
                .parse()
                .map_err(|e: T::Err| self.bad(key, v, e.to_string())),
        }
    }

    fn bad(&self, key: &str, value: &str, reason: String) -> TopologySpecError {
        TopologySpecError::BadValue {
            spec: self.spec.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            reason,
        }
    }
}

/// How an overlay is made.
#[derive(Debug, Clone, PartialEq)]
pub enum TopologyKind {
    /// G(n, m) with m = n * degree / 2.
    Random {
        /// Nodes (default 10,000).
        n: usize,
        /// Mean degree, links per node (default 4).
        degree: f64,
    },
    /// G(n, m): `m` distinct links chosen uniformly at random.
    Gnm {
        /// Nodes (default 10,000).
        n: usize,
        /// Links (default 2n; at most n(n-1)/2 are made).
        m: usize,
    },
    /// Power-law random graph by the configuration model.
    Plrg {
        /// Nodes (default 10,000).
        n: usize,
        /// Exponent of the degree law: P(k) proportional to k^-exponent (default 2.1).
        exponent: f64,
        /// Smallest degree drawn (`min`, default 1).
        min_degree: usize,
        /// Largest degree drawn (`max`, default unbounded; capped at n - 1).
        max_degree: usize,
    },
    /// A 2D lattice, each node linked to its 4 neighbours (fewer on the border).
    Grid {
        /// Nodes per row (`w`, default the square root of `n`, itself default 10,000).
        width: usize,
        /// Rows (`h`, default as `w`).
        height: usize,
    },
    /// Barabasi-Albert preferential attachment (`ba`).
    BarabasiAlbert {
        /// Nodes (default 10,000).
        n: usize,
        /// Links each new node makes to existing ones (default 2).
        m: usize,
    },
    /// Ultrapeers in a random regular graph, leaves linked to a few of them
    /// (`two-tier`; defaults 1,000 ultrapeers, 9,000 leaves, degree 8, 3 ultrapeers per
    /// leaf, at most 30 leaves per ultrapeer where possible).
    TwoTier(TwoTier),
    /// A SNAP edge list.
    File(PathBuf),
}

/// A topology description: how to make it, and whether to keep only the giant component.
#[derive(Debug, Clone, PartialEq)]
pub struct TopologySpec {
    /// The generator and its parameters, or the edge-list file.
    pub kind: TopologyKind,
    /// `lcc`: keep only the largest connected component (nodes renumbered).
    pub largest_component: bool,
}

const TOPOLOGIES: &str = "random, gnm, plrg, grid, ba, two-tier, file";

impl FromStr for TopologySpec {
    type Err = TopologySpecError;

    fn from_str(s: &str) -> Result<Self, TopologySpecError> {
        let s = s.trim();
        // An edge-list file: `file:PATH`, `snap:PATH` or a bare path, with `,lcc` after it.
        let file = s
            .strip_prefix("file:")
            .or_else(|| s.strip_prefix("snap:"))
            .or_else(|| {
                let bare = !s.contains(':') && (s.contains('/') || s.contains(".txt"));
                bare.then_some(s)
            });
        if let Some(rest) = file {
            let (path, lcc) = match rest.strip_suffix(",lcc") {
                Some(p) => (p, true),
                None => (rest, false),
            };
            return Ok(TopologySpec {
                kind: TopologyKind::File(PathBuf::from(path)),
                largest_component: lcc,
            });
        }
        let p = Parts::parse(s);
        let kind = match p.name {
            "random" => {
                p.check_keys("n, degree, lcc")?;
                TopologyKind::Random {
                    n: p.get("n", 10_000)?,
                    degree: p.get("degree", 4.0)?,
                }
            }
            "gnm" => {
                p.check_keys("n, m, lcc")?;
                let n = p.get("n", 10_000)?;
                TopologyKind::Gnm {
                    n,
                    m: p.get("m", 2 * n)?,
                }
            }
            "plrg" => {
                p.check_keys("n, exponent, min, max, lcc")?;
                TopologyKind::Plrg {
                    n: p.get("n", 10_000)?,
                    exponent: p.get("exponent", 2.1)?,
                    min_degree: p.get("min", 1)?,
                    max_degree: p.get("max", usize::MAX)?,
                }
            }
            "grid" => {
                p.check_keys("w, h, n, lcc")?;
                let side = (p.get("n", 10_000usize)? as f64).sqrt().round() as usize;
                TopologyKind::Grid {
                    width: p.get("w", side)?,
                    height: p.get("h", side)?,
                }
            }
            "ba" => {
                p.check_keys("n, m, lcc")?;
                TopologyKind::BarabasiAlbert {
                    n: p.get("n", 10_000)?,
                    m: p.get("m", 2)?,
                }
            }
            "two-tier" => {
                p.check_keys("ultrapeers, leaves, degree, leaf_ups, max_leaves, lcc")?;
                let shape = TwoTier {
                    ultrapeers: p.get("ultrapeers", 1_000)?,
                    leaves: p.get("leaves", 9_000)?,
                    degree: p.get("degree", 8)?,
                    leaf_ultrapeers: p.get("leaf_ups", DEFAULT_LEAF_ULTRAPEERS)?,
                    max_leaves: p.get("max_leaves", DEFAULT_MAX_LEAVES)?,
                };
                if shape.leaf_ultrapeers == 0 && shape.leaves > 0 {
                    return Err(p.bad("leaf_ups", "0", "a leaf needs an ultrapeer".into()));
                }
                TopologyKind::TwoTier(shape)
            }
            name => {
                return Err(TopologySpecError::UnknownName {
                    what: "topology",
                    name: name.to_owned(),
                    expected: TOPOLOGIES,
                })
            }
        };
        Ok(TopologySpec {
            kind,
            largest_component: p.flag("lcc"),
        })
    }
}

impl fmt::Display for TopologySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TopologyKind::Random { n, degree } => write!(f, "random:n={n},degree={degree}")?,
            TopologyKind::Gnm { n, m } => write!(f, "gnm:n={n},m={m}")?,
            TopologyKind::Plrg {
                n,
                exponent,
                min_degree,
                max_degree,
            } => {
                write!(f, "plrg:n={n},exponent={exponent},min={min_degree}")?;
                if *max_degree != usize::MAX {
                    write!(f, ",max={max_degree}")?;
                }
            }
            TopologyKind::Grid { width, height } => write!(f, "grid:w={width},h={height}")?,
            TopologyKind::BarabasiAlbert { n, m } => write!(f, "ba:n={n},m={m}")?,
            TopologyKind::TwoTier(t) => write!(
                f,
                "two-tier:ultrapeers={},leaves={},degree={},leaf_ups={},max_leaves={}",
                t.ultrapeers, t.leaves, t.degree, t.leaf_ultrapeers, t.max_leaves
            )?,
            TopologyKind::File(p) => write!(f, "file:{}", p.display())?,
        }
        if self.largest_component {
            f.write_str(",lcc")?;
        }
        Ok(())
    }
}

impl TopologySpec {
    /// Makes the graph (generators draw from `rng`), keeping only the largest component
    /// when asked.
    pub fn build<R: Rng>(&self, rng: &mut R) -> Result<Graph, TopologyError> {
        let g = match &self.kind {
            TopologyKind::Random { n, degree } => Graph::random_mean_degree(*n, *degree, rng),
            TopologyKind::Gnm { n, m } => Graph::gnm(*n, *m, rng),
            TopologyKind::Plrg {
                n,
                exponent,
                min_degree,
                max_degree,
            } => Graph::plrg(*n, *exponent, *min_degree, *max_degree, rng),
            TopologyKind::Grid { width, height } => Graph::grid(*width, *height),
            TopologyKind::BarabasiAlbert { n, m } => Graph::barabasi_albert(*n, *m, rng),
            TopologyKind::TwoTier(shape) => Graph::two_tier(shape, rng),
            TopologyKind::File(path) => Graph::load_edge_list(path)?,
        };
        Ok(if self.largest_component {
            g.largest_component()
        } else {
            g
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topologies_parse_and_print_back() {
        for s in [
            "plrg:n=1000,exponent=2.1,min=1",
            "plrg:n=1000,exponent=2.5,min=2,max=100,lcc",
            "random:n=500,degree=4",
            "gnm:n=10,m=20",
            "grid:w=10,h=20",
            "ba:n=100,m=3",
            "file:/tmp/x.txt,lcc",
            "two-tier:ultrapeers=10,leaves=90,degree=4,leaf_ups=3,max_leaves=30",
        ] {
            let t: TopologySpec = s.parse().unwrap();
            assert_eq!(t.to_string(), s);
        }
        let t: TopologySpec = "data/p2p-Gnutella09.txt".parse().unwrap();
        assert!(matches!(t.kind, TopologyKind::File(_)));
        let t: TopologySpec = "data/p2p-Gnutella09.txt,lcc".parse().unwrap();
        assert_eq!(
            t.kind,
            TopologyKind::File(PathBuf::from("data/p2p-Gnutella09.txt"))
        );
        assert!(t.largest_component);
        let t: TopologySpec = "grid:n=100".parse().unwrap();
        assert_eq!(
            t.kind,
            TopologyKind::Grid {
                width: 10,
                height: 10
            }
        );
        assert!("plrg:n=ten".parse::<TopologySpec>().is_err());
        assert!("torus:n=10".parse::<TopologySpec>().is_err());
        let t: TopologySpec = "two-tier:ultrapeers=5,leaves=20,degree=3".parse().unwrap();
        let TopologyKind::TwoTier(shape) = t.kind else {
            panic!("{t}")
        };
        assert_eq!((shape.leaf_ultrapeers, shape.max_leaves), (3, 30));
        assert!("two-tier:leaf_ups=0".parse::<TopologySpec>().is_err());
        assert!("two-tier:hubs=3".parse::<TopologySpec>().is_err());
    }
}
