//! The small language experiments are described in, shared by `servent compare` and the
//! mesh driver: topologies (`plrg:n=10000,exponent=2.1`, `random:n=1000,degree=4`,
//! `grid:w=100,h=100`, `ba:n=1000,m=2`, `gnm:n=1000,m=2000`, `file:PATH`, each with an
//! optional `lcc` flag) and lists of the core's search strategies (`flood:ttl=7`, `ring`,
//! `walk:k=16,check=4`; grammar in `core::strategy`), including sweeps over one parameter
//! (`walk:k=1..64*2`, `flood:ttl=1..8`, `walk:k=4/16/32`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use rand::Rng;

use super::topology::{Graph, TopologyError};
use crate::core::strategy::StrategyError;
use crate::core::Strategy;

/// Errors in a topology or strategy description.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("unknown {what} {name:?} (expected one of: {expected})")]
    UnknownName {
        what: &'static str,
        name: String,
        expected: &'static str,
    },
    #[error("{spec}: unknown parameter {key:?} (expected one of: {expected})")]
    UnknownParam {
        spec: String,
        key: String,
        expected: &'static str,
    },
    #[error("{spec}: bad value {value:?} for {key}: {reason}")]
    BadValue {
        spec: String,
        key: String,
        value: String,
        reason: String,
    },
    #[error(
        "{0}: a sweep needs exactly one parameter given as a range (a..b, a..b*f) or list (a/b/c)"
    )]
    BadSweep(String),
    #[error("empty strategy list")]
    Empty,
    #[error("strategy {text:?}: {reason}")]
    Strategy { text: String, reason: String },
}

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

    fn check_keys(&self, allowed: &'static str) -> Result<(), SpecError> {
        for (k, _) in &self.params {
            if !allowed.split(", ").any(|a| a == *k) {
                return Err(SpecError::UnknownParam {
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

    fn get<T: FromStr>(&self, key: &str, default: T) -> Result<T, SpecError>
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

    fn bad(&self, key: &str, value: &str, reason: String) -> SpecError {
        SpecError::BadValue {
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
        n: usize,
        degree: f64,
    },
    Gnm {
        n: usize,
        m: usize,
    },
    /// Power-law random graph by the configuration model.
    Plrg {
        n: usize,
        exponent: f64,
        min_degree: usize,
        max_degree: usize,
    },
    Grid {
        width: usize,
        height: usize,
    },
    BarabasiAlbert {
        n: usize,
        m: usize,
    },
    /// A SNAP edge list.
    File(PathBuf),
}

/// A topology description: how to make it, and whether to keep only the giant component.
#[derive(Debug, Clone, PartialEq)]
pub struct TopologySpec {
    pub kind: TopologyKind,
    pub largest_component: bool,
}

const TOPOLOGIES: &str = "random, gnm, plrg, grid, ba, file";

impl FromStr for TopologySpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
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
            name => {
                return Err(SpecError::UnknownName {
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
            TopologyKind::File(path) => Graph::load_edge_list(path)?,
        };
        Ok(if self.largest_component {
            g.largest_component()
        } else {
            g
        })
    }
}

/// One strategy of an experiment: the core's [`Strategy`] and the text it was given as,
/// which labels it in tables and charts (`walk:k=16` rather than every parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyItem {
    pub label: String,
    pub strategy: Strategy,
}

impl StrategyItem {
    fn parse(text: &str) -> Result<StrategyItem, SpecError> {
        let strategy = text
            .parse()
            .map_err(|e: StrategyError| SpecError::Strategy {
                text: text.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(StrategyItem {
            label: text.to_owned(),
            strategy,
        })
    }

    /// Sets the hits ring and walkers wait for, unless the text gave `want=`.
    pub fn default_want_hits(&mut self, want: u32) {
        if self.label.contains("want=") {
            return;
        }
        match &mut self.strategy {
            Strategy::ExpandingRing(r) => r.want_hits = want,
            Strategy::RandomWalk(w) => w.want_hits = want,
            Strategy::Flood(_) => {}
        }
    }
}

/// Splits a comma-separated list of strategy items: an item starts at a token with a `:`
/// or without an `=` (`flood:ttl=7,ring,walk:k=16,check=4` is three strategies), the
/// grammar of [`Strategy::parse_list`].
fn split_items(list: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for token in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let starts_new = token.contains(':') || !token.contains('=');
        match items.last_mut() {
            Some(last) if !starts_new => {
                last.push(if last.contains(':') { ',' } else { ':' });
                last.push_str(token);
            }
            _ => items.push(token.to_owned()),
        }
    }
    items
}

/// Parses `--strategies`: `flood:ttl=7,ring,walk:k=16,walk:k=32`.
pub fn parse_strategies(list: &str) -> Result<Vec<StrategyItem>, SpecError> {
    let items = split_items(list);
    if items.is_empty() {
        return Err(SpecError::Empty);
    }
    items.iter().map(|i| StrategyItem::parse(i)).collect()
}

/// Expands a sweep over one parameter: `walk:k=1..64*2` (1, 2, 4, ..., 64),
/// `flood:ttl=1..8` (1 to 8), `walk:k=4/16/32,check=4` (the listed values).
pub fn parse_sweep(sweep: &str) -> Result<Vec<StrategyItem>, SpecError> {
    let items = split_items(sweep);
    let [item] = &items[..] else {
        return Err(SpecError::BadSweep(sweep.to_owned()));
    };
    let (name, rest) = item.split_once(':').unwrap_or((item, ""));
    let params: Vec<&str> = rest.split(',').filter(|p| !p.is_empty()).collect();
    let swept: Vec<usize> = params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.contains("..") || p.contains('/'))
        .map(|(i, _)| i)
        .collect();
    let [at] = swept[..] else {
        return Err(SpecError::BadSweep(sweep.to_owned()));
    };
    let Some((key, value)) = params[at].split_once('=') else {
        return Err(SpecError::BadSweep(sweep.to_owned()));
    };
    let bad = || SpecError::BadSweep(sweep.to_owned());
    let values: Vec<u64> = if let Some((lo, hi)) = value.split_once("..") {
        let (hi, factor) = match hi.split_once('*') {
            Some((hi, f)) => (hi, Some(f.parse::<u64>().map_err(|_| bad())?)),
            None => (hi, None),
        };
        let lo: u64 = lo.parse().map_err(|_| bad())?;
        let hi: u64 = hi.parse().map_err(|_| bad())?;
        let mut out = Vec::new();
        let mut v = lo;
        while v <= hi && out.len() < 64 {
            out.push(v);
            v = match factor {
                Some(f) if f >= 2 && v > 0 => v * f,
                Some(_) => return Err(bad()),
                None => v + 1,
            };
        }
        out
    } else {
        value
            .split('/')
            .map(|v| v.parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?
    };
    if values.is_empty() {
        return Err(bad());
    }
    values
        .iter()
        .map(|v| {
            let mut ps: Vec<String> = params.iter().map(|p| (*p).to_owned()).collect();
            ps[at] = format!("{key}={v}");
            StrategyItem::parse(&format!("{name}:{}", ps.join(",")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_lists_split_on_items_not_parameters() {
        let s = parse_strategies("flood:ttl=7,ring,walk:k=16,check=2,walk:k=32").unwrap();
        let labels: Vec<&str> = s.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(
            labels,
            ["flood:ttl=7", "ring", "walk:k=16,check=2", "walk:k=32"]
        );
        assert!(matches!(s[0].strategy, Strategy::Flood(f) if f.ttl == 7));
        assert!(
            matches!(s[2].strategy, Strategy::RandomWalk(w) if w.walkers == 16 && w.check_every == 2)
        );
        assert!(matches!(s[3].strategy, Strategy::RandomWalk(w) if w.walkers == 32));
        for bad in ["flood:ttl=0", "flood:depth=3", "bfs", ""] {
            assert!(parse_strategies(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn want_hits_default_applies_unless_given() {
        let mut s = parse_strategies("ring,walk:want=5,flood").unwrap();
        for i in &mut s {
            i.default_want_hits(3);
        }
        assert!(matches!(s[0].strategy, Strategy::ExpandingRing(r) if r.want_hits == 3));
        assert!(matches!(s[1].strategy, Strategy::RandomWalk(w) if w.want_hits == 5));
    }

    #[test]
    fn sweeps_expand_ranges_and_lists() {
        let labels =
            |v: Vec<StrategyItem>| -> Vec<String> { v.into_iter().map(|i| i.label).collect() };
        assert_eq!(
            labels(parse_sweep("flood:ttl=2..5").unwrap()),
            ["flood:ttl=2", "flood:ttl=3", "flood:ttl=4", "flood:ttl=5"]
        );
        assert_eq!(
            labels(parse_sweep("walk:k=1..64*4,check=2").unwrap()),
            [
                "walk:k=1,check=2",
                "walk:k=4,check=2",
                "walk:k=16,check=2",
                "walk:k=64,check=2"
            ]
        );
        assert_eq!(parse_sweep("walk:k=4/32").unwrap().len(), 2);
        assert!(parse_sweep("walk:k=16").is_err());
        assert!(parse_sweep("walk:k=1..4,check=1..2").is_err());
        assert!(
            parse_sweep("flood:ttl=1..20").is_err(),
            "TTL above 15 refused"
        );
    }

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
    }
}
