//! The strategy lists experiments are described in (`servent compare --strategies`): the
//! core's search strategies (`flood:ttl=7`, `ring`, `walk:k=16,check=4`; grammar in
//! `core::strategy`), including sweeps over one parameter (`walk:k=1..64*2`,
//! `flood:ttl=1..8`, `walk:k=4/16/32`). Topologies are described in
//! `crate::topology::spec`.

use crate::core::strategy::StrategyError;
use crate::core::Strategy;

/// Errors in a strategy list or sweep.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    /// A sweep that is not one strategy with exactly one `key=a..b`, `key=a..b*f` (f >= 2,
    /// a >= 1) or `key=a/b/c` parameter of integers; holds the sweep as given.
    #[error(
        "{0}: a sweep needs exactly one parameter given as a range (a..b, a..b*f) or list (a/b/c)"
    )]
    BadSweep(String),
    /// No strategy in the list.
    #[error("empty strategy list")]
    Empty,
    /// One item did not parse as a strategy.
    #[error("strategy {text:?}: {reason}")]
    Strategy {
        /// The item as given.
        text: String,
        /// The strategy parser's message.
        reason: String,
    },
}

/// One strategy of an experiment: the core's [`Strategy`] and the text it was given as,
/// which labels it in tables and charts (`walk:k=16` rather than every parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyItem {
    /// The text as given (one item of the list, or one value of a sweep).
    pub label: String,
    /// The parsed strategy, defaults filled in.
    pub strategy: Strategy,
    /// Which sweep of the experiment it belongs to (its index among the sweeps), `None`
    /// for a strategy listed on its own. Set by the caller that numbers the sweeps.
    pub sweep: Option<usize>,
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
            sweep: None,
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
            Strategy::Dynamic(d) => d.want_hits = want,
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
}
