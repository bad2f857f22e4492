//! The small language experiments are described in, shared by `servent compare` and the
//! mesh driver: topologies (`plrg:n=10000,exponent=2.1`, `random:n=1000,degree=4`,
//! `grid:w=100,h=100`, `ba:n=1000,m=2`, `gnm:n=1000,m=2000`, `file:PATH`, each with an
//! optional `lcc` flag) and search strategies (`flood:ttl=7`, `ring`,
//! `walk:k=16,check=4`), including sweeps over one parameter (`walk:k=1..64*2`,
//! `flood:ttl=1..8`, `walk:k=4/16/32`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use rand::Rng;

use super::topology::{Graph, TopologyError};

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
        // A bare path is an edge-list file.
        if !s.contains(':') && (s.contains('/') || s.ends_with(".txt")) {
            return Ok(TopologySpec {
                kind: TopologyKind::File(PathBuf::from(s)),
                largest_component: false,
            });
        }
        if let Some(rest) = s.strip_prefix("file:").or_else(|| s.strip_prefix("snap:")) {
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

/// Default TTL of a flood: the 0.6 soft limit.
pub const DEFAULT_FLOOD_TTL: u8 = 7;
/// Lv et al.'s expanding ring: start at TTL 1, grow by 2, up to the flood limit.
pub const DEFAULT_RING: (u8, u8, u8) = (1, 2, 7);
/// Lv et al.'s walkers: 16 of them, checking back with the origin every 4 steps.
pub const DEFAULT_WALKERS: u16 = 16;
pub const DEFAULT_CHECK_EVERY: u16 = 4;
/// Steps a walker may take at most (its TTL in steps): Lv et al. let walkers run until
/// the origin says stop; a bound keeps a failing search finite.
pub const DEFAULT_WALK_MAX_STEPS: u32 = 1024;

/// A search strategy and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrategySpec {
    /// One flood of the given TTL.
    Flood { ttl: u8 },
    /// Floods of growing TTL until enough hits arrive.
    Ring { start: u8, step: u8, max: u8 },
    /// `walkers` random walkers, checking with the origin every `check_every` steps.
    Walk {
        walkers: u16,
        check_every: u16,
        max_steps: u32,
    },
}

const STRATEGIES: &str = "flood, ring, walk";

impl FromStr for StrategySpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let p = Parts::parse(s.trim());
        match p.name {
            "flood" => {
                p.check_keys("ttl")?;
                let ttl: u8 = p.get("ttl", DEFAULT_FLOOD_TTL)?;
                if !(1..=15).contains(&ttl) {
                    return Err(p.bad("ttl", &ttl.to_string(), "TTL is 1..=15".into()));
                }
                Ok(StrategySpec::Flood { ttl })
            }
            "ring" => {
                p.check_keys("start, step, max")?;
                let (start, step, max) = DEFAULT_RING;
                let ring = StrategySpec::Ring {
                    start: p.get("start", start)?,
                    step: p.get("step", step)?,
                    max: p.get("max", max)?,
                };
                match ring {
                    StrategySpec::Ring { start, step, max }
                        if start >= 1 && step >= 1 && max >= start && max <= 15 =>
                    {
                        Ok(ring)
                    }
                    _ => Err(p.bad(
                        "start/step/max",
                        s,
                        "need 1 <= start <= max <= 15 and step >= 1".into(),
                    )),
                }
            }
            "walk" => {
                p.check_keys("k, check, steps")?;
                let walkers: u16 = p.get("k", DEFAULT_WALKERS)?;
                let check_every: u16 = p.get("check", DEFAULT_CHECK_EVERY)?;
                let max_steps: u32 = p.get("steps", DEFAULT_WALK_MAX_STEPS)?;
                if walkers == 0 || check_every == 0 || max_steps == 0 {
                    return Err(p.bad("k/check/steps", s, "must be at least 1".into()));
                }
                Ok(StrategySpec::Walk {
                    walkers,
                    check_every,
                    max_steps,
                })
            }
            name => Err(SpecError::UnknownName {
                what: "strategy",
                name: name.to_owned(),
                expected: STRATEGIES,
            }),
        }
    }
}

impl fmt::Display for StrategySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StrategySpec::Flood { ttl } => write!(f, "flood:ttl={ttl}"),
            StrategySpec::Ring { start, step, max } => {
                write!(f, "ring:start={start},step={step},max={max}")
            }
            StrategySpec::Walk {
                walkers,
                check_every,
                max_steps,
            } => {
                write!(f, "walk:k={walkers},check={check_every}")?;
                if max_steps != DEFAULT_WALK_MAX_STEPS {
                    write!(f, ",steps={max_steps}")?;
                }
                Ok(())
            }
        }
    }
}

impl StrategySpec {
    /// The family name: `flood`, `ring` or `walk`.
    pub fn family(&self) -> &'static str {
        match self {
            StrategySpec::Flood { .. } => "flood",
            StrategySpec::Ring { .. } => "ring",
            StrategySpec::Walk { .. } => "walk",
        }
    }
}

/// Splits a comma-separated list of strategy items: an item starts at a token with a `:`
/// or without an `=` (`flood:ttl=7,ring,walk:k=16,check=4` is three strategies).
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
pub fn parse_strategies(list: &str) -> Result<Vec<StrategySpec>, SpecError> {
    let items = split_items(list);
    if items.is_empty() {
        return Err(SpecError::Empty);
    }
    items.iter().map(|i| i.parse()).collect()
}

/// Expands a sweep over one parameter: `walk:k=1..64*2` (1, 2, 4, ..., 64),
/// `flood:ttl=1..8` (1 to 8), `walk:k=4/16/32,check=4` (the listed values).
pub fn parse_sweep(sweep: &str) -> Result<Vec<StrategySpec>, SpecError> {
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
            format!("{name}:{}", ps.join(",")).parse()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_lists_split_on_items_not_parameters() {
        let s = parse_strategies("flood:ttl=7,ring,walk:k=16,check=2,walk:k=32").unwrap();
        assert_eq!(
            s,
            vec![
                StrategySpec::Flood { ttl: 7 },
                StrategySpec::Ring {
                    start: 1,
                    step: 2,
                    max: 7
                },
                StrategySpec::Walk {
                    walkers: 16,
                    check_every: 2,
                    max_steps: DEFAULT_WALK_MAX_STEPS
                },
                StrategySpec::Walk {
                    walkers: 32,
                    check_every: 4,
                    max_steps: DEFAULT_WALK_MAX_STEPS
                },
            ]
        );
        assert_eq!(s[2].to_string(), "walk:k=16,check=2");
        for s in &s {
            assert_eq!(&s.to_string().parse::<StrategySpec>().unwrap(), s);
        }
        assert!(parse_strategies("flood:ttl=0").is_err());
        assert!(parse_strategies("flood:depth=3").is_err());
        assert!(parse_strategies("bfs").is_err());
        assert!(parse_strategies("").is_err());
    }

    #[test]
    fn sweeps_expand_ranges_and_lists() {
        let ttl: Vec<String> = parse_sweep("flood:ttl=2..5")
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            ttl,
            ["flood:ttl=2", "flood:ttl=3", "flood:ttl=4", "flood:ttl=5"]
        );
        let k: Vec<String> = parse_sweep("walk:k=1..64*4,check=2")
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            k,
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
        let t: TopologySpec = "../shared/data/p2p-Gnutella09.txt".parse().unwrap();
        assert!(matches!(t.kind, TopologyKind::File(_)));
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
