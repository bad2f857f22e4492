//! Search strategies: how one search of ours spends descriptors. One file per strategy
//! (`flood`, `ring`, `walk`, `dq`) holding its parameters and its pure rules; the shared cost
//! record in `cost`; what names a search and how it ended in `search`; the text form's
//! parameters in `param`; the hop-latency estimate the timeouts follow in `latency`. The
//! servent drives them (`Servent::search`, in `servent/search.rs` and `servent/walker.rs`)
//! with time and randomness passed in, so the TCP driver and the simulator run the same
//! code and every strategy is measured by the same counters.
//!
//! Text form (CLI, experiment lists): `NAME[:KEY=VALUE,...]`, e.g. `flood:ttl=7`, `ring`,
//! `ring:start=1,step=2,max=7,want=1`, `walk:k=16,steps=1024,check=4,want=1,remember=true`,
//! `dq:want=1,probe=auto,max=5,timeout=auto`; `look` is the look-ahead walk
//! (`walk:k=8,check=4,via=udp,look=1,bias=degree`, [`walk::look_ahead_walk`]), its
//! parameters a walk's (`look:k=16`), written back in the `walk:` form.
//! In a list, a comma-separated item containing `=` and no `:` is one more parameter of the
//! strategy before it; any other item starts a new strategy, so
//! `flood:ttl=7,ring,walk:k=16,walk:k=32` is four strategies ([`Strategy::parse_list`]).

pub(crate) mod cost;
pub mod dq;
pub(crate) mod flood;
mod latency;
mod param;
mod ring;
mod search;
pub(crate) mod walk;

use std::fmt;
use std::str::FromStr;

pub use cost::{NetworkTraffic, QueryCost, QueryTraffic, Traffic};
pub use dq::DynamicQuery;
pub use flood::Flood;
pub use latency::HopLatency;
pub use param::StrategyError;
pub use ring::ExpandingRing;
pub use search::{SearchEnd, SearchId};
pub use walk::{
    look_ahead_walk, CheckVia, RandomWalk, PROBE_WALKER, WALKER_HEADER, WALKER_VERSION,
};

use param::Param;

/// A search strategy with its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One Query flooded with a TTL (`flood`).
    Flood(Flood),
    /// Floods of growing TTL, each with a fresh descriptor ID, until enough results
    /// (`ring`).
    ExpandingRing(ExpandingRing),
    /// k walkers, each handed to one random neighbour per step, checking back with the
    /// requester (`walk`).
    RandomWalk(RandomWalk),
    /// A probe, then one ultrapeer neighbour at a time with a TTL chosen from the results
    /// so far, all with one descriptor ID (`dq`); a leaf lets its ultrapeers run it.
    Dynamic(DynamicQuery),
}

impl Strategy {
    /// The strategy's name in the text form: `flood`, `ring`, `walk` or `dq`.
    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Flood(_) => "flood",
            Strategy::ExpandingRing(_) => "ring",
            Strategy::RandomWalk(_) => "walk",
            Strategy::Dynamic(_) => "dq",
        }
    }

    /// Hits wanted before the search stops early (a flood never stops early: `None`).
    pub fn want_hits(&self) -> Option<u32> {
        match self {
            Strategy::Flood(_) => None,
            Strategy::ExpandingRing(r) => Some(r.want_hits),
            Strategy::RandomWalk(w) => Some(w.want_hits),
            Strategy::Dynamic(d) => Some(d.want_hits),
        }
    }

    /// Whether the strategy reads the ultrapeers' query routing tables beyond the last
    /// hop (a look-ahead walk, `look=1`): a simulated flat overlay must exchange them.
    pub fn reads_tables(&self) -> bool {
        matches!(self, Strategy::RandomWalk(w) if w.look_ahead)
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
            "look" => "look",
            "dq" => "dq",
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
            "dq" => DynamicQuery::from_params(&pairs).map(Strategy::Dynamic),
            "look" => RandomWalk::from_params_over(walk::look_ahead_walk(), &pairs)
                .map(Strategy::RandomWalk),
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
            Strategy::Dynamic(s) => s.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
            "dq".parse().unwrap(),
            "dq:want=20,probe=1,max=4,timeout=3s".parse().unwrap(),
            "look".parse().unwrap(),
            "walk:look=1,bias=degree,via=udp".parse().unwrap(),
        ] {
            assert_eq!(s.to_string().parse::<Strategy>().unwrap(), s, "{s}");
        }
    }

    #[test]
    fn look_is_the_look_ahead_walk_with_a_walks_parameters() {
        let Ok(Strategy::RandomWalk(w)) = "look".parse::<Strategy>() else {
            panic!()
        };
        assert!(w.look_ahead && w.degree_bias && w.check_via == CheckVia::Udp);
        assert_eq!((w.walkers, w.check_every), (8, 4));
        let Ok(Strategy::RandomWalk(w)) = "look:k=16,bias=uniform".parse::<Strategy>() else {
            panic!()
        };
        assert!(w.look_ahead && !w.degree_bias && w.walkers == 16);
        let list = Strategy::parse_list("look,k=4,flood").unwrap();
        assert!(matches!(list[0], Strategy::RandomWalk(w) if w.walkers == 4 && w.look_ahead));
        assert!("look:depth=2".parse::<Strategy>().is_err());
    }

    #[test]
    fn parses_lists_unambiguously() {
        let list = Strategy::parse_list("flood:ttl=7,ring,walk:k=16,walk:k=32").unwrap();
        assert_eq!(list.len(), 4);
        assert_eq!(list[0], Strategy::Flood(Flood { ttl: 7 }));
        assert_eq!(list[1], Strategy::ExpandingRing(ExpandingRing::default()));
        assert!(matches!(list[2], Strategy::RandomWalk(w) if w.walkers == 16));
        assert!(matches!(list[3], Strategy::RandomWalk(w) if w.walkers == 32));
        let list = Strategy::parse_list("flood:ttl=7,dq:want=5,probe=1,ring").unwrap();
        assert!(
            matches!(list[1], Strategy::Dynamic(d) if d.want_hits == 5 && d.probe_ttl == Some(1))
        );
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
            "dq:want=0",
            "dq:probe=0",
            "dq:max=16",
            "dq:k=3",
        ] {
            assert!(bad.parse::<Strategy>().is_err(), "{bad:?} accepted");
        }
        assert!(Strategy::parse_list("flood,,ring").is_err());
        assert!(Strategy::parse_list("ttl=3").is_err());
    }
}
