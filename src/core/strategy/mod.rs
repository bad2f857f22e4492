//! Search strategies: how one search of ours spends descriptors. One file per strategy
//! ([`flood`], [`ring`], [`walk`]) holding its parameters and its pure rules; the shared cost
//! record in [`cost`]; the hop-latency estimate the timeouts follow in [`latency`]. The
//! servent drives them (`Servent::search`, in `servent/search.rs` and `servent/walker.rs`)
//! with time and randomness passed in, so the TCP driver and the simulator run the same
//! code and every strategy is measured by the same counters.
//!
//! Text form (CLI, experiment lists): `NAME[:KEY=VALUE,...]`, e.g. `flood:ttl=7`, `ring`,
//! `ring:start=1,step=2,max=7,want=1`, `walk:k=16,steps=1024,check=4,want=1,remember=true`.
//! In a list, a comma-separated item containing `=` and no `:` is one more parameter of the
//! strategy before it; any other item starts a new strategy, so
//! `flood:ttl=7,ring,walk:k=16,walk:k=32` is four strategies ([`Strategy::parse_list`]).

pub mod cost;
pub mod flood;
pub mod latency;
pub mod ring;
pub mod walk;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::proto::Guid;

pub use cost::{NetworkTraffic, QueryCost, QueryTraffic, Traffic};
pub use flood::Flood;
pub use latency::HopLatency;
pub use ring::ExpandingRing;
pub use walk::{
    CheckMessage, RandomWalk, WalkerTag, WALKER_GGEP_ID, WALKER_HEADER, WALKER_VERSION,
};

/// Identifies one search of ours: the descriptor ID of its first Query (an expanding ring
/// sends one fresh ID per ring; they all belong to the first ring's search).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct SearchId(pub Guid);

impl fmt::Display for SearchId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SearchEnd {
    /// It got the hits it wanted.
    Satisfied,
    /// It ran out of rings, walker steps or time without them (or never had any peer).
    Exhausted,
}

/// A search strategy with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Flood(Flood),
    ExpandingRing(ExpandingRing),
    RandomWalk(RandomWalk),
}

impl Strategy {
    /// The strategy's name in the text form: `flood`, `ring` or `walk`.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Flood(_) => "flood",
            Strategy::ExpandingRing(_) => "ring",
            Strategy::RandomWalk(_) => "walk",
        }
    }

    /// Hits wanted before the search stops early (a flood never stops early: `None`).
    pub fn want_hits(&self) -> Option<u32> {
        match self {
            Strategy::Flood(_) => None,
            Strategy::ExpandingRing(r) => Some(r.want_hits),
            Strategy::RandomWalk(w) => Some(w.want_hits),
        }
    }

    /// Parses a comma-separated list of strategies (grammar in the module docs).
    pub fn parse_list(text: &str) -> Result<Vec<Strategy>, StrategyError> {
        let mut items: Vec<String> = Vec::new();
        for token in text.split(',').map(str::trim) {
            if token.is_empty() {
                return Err(StrategyError::Empty);
            }
            match items.last_mut() {
                Some(last) if token.contains('=') && !token.contains(':') => {
                    last.push(if last.contains(':') { ',' } else { ':' });
                    last.push_str(token);
                }
                _ => items.push(token.to_owned()),
            }
        }
        items.iter().map(|s| s.parse()).collect()
    }
}

/// Why a strategy's text form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyError {
    #[error("empty strategy")]
    Empty,
    #[error("unknown strategy {0:?} (expected flood, ring or walk)")]
    UnknownName(String),
    #[error("{strategy}: unknown parameter {key:?}")]
    UnknownKey { strategy: &'static str, key: String },
    #[error("{strategy}: parameter {key}: bad value {value:?} ({why})")]
    BadValue {
        strategy: &'static str,
        key: String,
        value: String,
        why: &'static str,
    },
    #[error("{strategy}: parameter {0:?} has no '=value'", strategy = .1)]
    MissingValue(String, &'static str),
}

impl FromStr for Strategy {
    type Err = StrategyError;

    /// Parses one strategy: `NAME` or `NAME:KEY=VALUE,KEY=VALUE...`.
    fn from_str(text: &str) -> Result<Strategy, StrategyError> {
        let text = text.trim();
        let (name, params) = text.split_once(':').unwrap_or((text, ""));
        let mut pairs = Vec::new();
        let label = match name.trim() {
            "flood" => "flood",
            "ring" => "ring",
            "walk" => "walk",
            "" => return Err(StrategyError::Empty),
            other => return Err(StrategyError::UnknownName(other.to_owned())),
        };
        for p in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = p
                .split_once('=')
                .ok_or_else(|| StrategyError::MissingValue(p.to_owned(), label))?;
            pairs.push(Param {
                strategy: label,
                key: k.trim(),
                value: v.trim(),
            });
        }
        match label {
            "flood" => Flood::from_params(&pairs).map(Strategy::Flood),
            "ring" => ExpandingRing::from_params(&pairs).map(Strategy::ExpandingRing),
            _ => RandomWalk::from_params(&pairs).map(Strategy::RandomWalk),
        }
    }
}

impl fmt::Display for Strategy {
    /// The canonical text form, every parameter spelt out; parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Flood(s) => s.fmt(f),
            Strategy::ExpandingRing(s) => s.fmt(f),
            Strategy::RandomWalk(s) => s.fmt(f),
        }
    }
}

/// One `key=value` of a strategy's text form.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Param<'a> {
    pub strategy: &'static str,
    pub key: &'a str,
    pub value: &'a str,
}

impl Param<'_> {
    fn bad(&self, why: &'static str) -> StrategyError {
        StrategyError::BadValue {
            strategy: self.strategy,
            key: self.key.to_owned(),
            value: self.value.to_owned(),
            why,
        }
    }

    pub(crate) fn unknown(&self) -> StrategyError {
        StrategyError::UnknownKey {
            strategy: self.strategy,
            key: self.key.to_owned(),
        }
    }

    /// An integer in `lo..=hi`.
    pub(crate) fn int<T: TryFrom<u64> + Copy>(&self, lo: u64, hi: u64) -> Result<T, StrategyError> {
        let n: u64 = self.value.parse().map_err(|_| self.bad("not a number"))?;
        if !(lo..=hi).contains(&n) {
            return Err(self.bad("out of range"));
        }
        T::try_from(n).map_err(|_| self.bad("out of range"))
    }

    pub(crate) fn boolean(&self) -> Result<bool, StrategyError> {
        match self.value {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => Err(self.bad("expected true or false")),
        }
    }

    /// `auto` (None) or a duration: `250ms`, `2s`, `1.5s`.
    pub(crate) fn duration_or_auto(&self) -> Result<Option<Duration>, StrategyError> {
        if self.value == "auto" {
            return Ok(None);
        }
        let (num, unit) = if let Some(n) = self.value.strip_suffix("ms") {
            (n, 1e-3)
        } else if let Some(n) = self.value.strip_suffix('s') {
            (n, 1.0)
        } else {
            return Err(self.bad("expected auto or a duration such as 250ms or 2s"));
        };
        let secs: f64 = num
            .parse()
            .map_err(|_| self.bad("expected auto or a duration such as 250ms or 2s"))?;
        let secs = secs * unit;
        if !(0.0..=3600.0).contains(&secs) || secs == 0.0 {
            return Err(self.bad("must be above 0 and at most 3600s"));
        }
        Ok(Some(Duration::from_secs_f64(secs)))
    }
}

/// Writes a duration the way [`Param::duration_or_auto`] reads it.
pub(crate) fn fmt_duration(d: Option<Duration>) -> String {
    match d {
        None => "auto".to_owned(),
        Some(d) if d.subsec_nanos() % 1_000_000 == 0 && d.as_millis() % 1000 != 0 => {
            format!("{}ms", d.as_millis())
        }
        Some(d) if d.subsec_nanos() == 0 => format!("{}s", d.as_secs()),
        Some(d) => format!("{}s", d.as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_strategies_with_defaults_and_round_trips() {
        let s: Strategy = "flood:ttl=5".parse().unwrap();
        assert_eq!(s, Strategy::Flood(Flood { ttl: 5 }));
        let r: Strategy = "ring".parse().unwrap();
        assert_eq!(r, Strategy::ExpandingRing(ExpandingRing::default()));
        let r: Strategy = "ring:start=2,step=1,max=6,want=3,timeout=250ms"
            .parse()
            .unwrap();
        let Strategy::ExpandingRing(ring) = r else {
            panic!()
        };
        assert_eq!(
            (ring.start_ttl, ring.step, ring.max_ttl, ring.want_hits),
            (2, 1, 6, 3)
        );
        assert_eq!(ring.ring_timeout, Some(Duration::from_millis(250)));
        let w: Strategy = "walk:k=32,steps=100,check=0,want=2,remember=false"
            .parse()
            .unwrap();
        let Strategy::RandomWalk(walk) = w else {
            panic!()
        };
        assert_eq!(
            (
                walk.walkers,
                walk.max_steps,
                walk.check_every,
                walk.want_hits,
                walk.remember_neighbours
            ),
            (32, 100, 0, 2, false)
        );
        for s in [
            s,
            r,
            w,
            "walk".parse().unwrap(),
            "ring:timeout=2s".parse().unwrap(),
        ] {
            assert_eq!(s.to_string().parse::<Strategy>().unwrap(), s, "{s}");
        }
    }

    #[test]
    fn parses_lists_unambiguously() {
        let list = Strategy::parse_list("flood:ttl=7,ring,walk:k=16,walk:k=32").unwrap();
        assert_eq!(list.len(), 4);
        assert_eq!(list[0], Strategy::Flood(Flood { ttl: 7 }));
        assert_eq!(list[1], Strategy::ExpandingRing(ExpandingRing::default()));
        assert!(matches!(list[2], Strategy::RandomWalk(w) if w.walkers == 16));
        assert!(matches!(list[3], Strategy::RandomWalk(w) if w.walkers == 32));
        let list = Strategy::parse_list("ring:start=1,step=2,max=7,want=1,flood").unwrap();
        assert!(matches!(list[0], Strategy::ExpandingRing(r) if r.step == 2 && r.max_ttl == 7));
        assert_eq!(list[1], Strategy::Flood(Flood::default()));
    }

    #[test]
    fn refuses_bad_text() {
        for bad in [
            "",
            "dfs",
            "flood:ttl=0",
            "flood:ttl=16",
            "flood:depth=3",
            "ring:start=5,max=3",
            "ring:step=0",
            "walk:k=0",
            "walk:k=256",
            "walk:steps=0",
            "walk:remember=maybe",
            "ring:timeout=soon",
            "flood:ttl",
        ] {
            assert!(bad.parse::<Strategy>().is_err(), "{bad:?} accepted");
        }
        assert!(Strategy::parse_list("flood,,ring").is_err());
        assert!(Strategy::parse_list("ttl=3").is_err());
    }
}
