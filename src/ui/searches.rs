//! Searches started from the page: each runs on the node with its strategy, its hits are
//! filtered by the full pattern (other servents do not know wildcards) and grouped by
//! SHA-1 as `servent search` groups them ([`crate::library::hits`]); every group a hit
//! adds to or changes is published as a `hit` event, and the end as a `search` event with
//! the cost record.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddrV4;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use crate::core::strategy::{QueryCost, SearchId};
use crate::core::Strategy;
use crate::download::magnet::Magnet;
use crate::library::hits::{group_hits, HitGroup, SearchHit};
use crate::library::matching::Pattern;
use crate::net::SearchEvent;
use crate::proto::payload::Query;
use crate::proto::Guid;
use crate::rt;

use super::api::ApiError;
use super::Ui;

/// Searches remembered; starting one more forgets the oldest.
pub const MAX_SEARCHES: usize = 64;
/// Results kept per search: far more than a page shows, and a bound on a flood of hits.
pub const MAX_RESULTS_PER_SEARCH: usize = 5000;
/// Longest a search listens for hits when its strategy never says it is done.
pub const SEARCH_LIFETIME: Duration = Duration::from_secs(120);
/// Longest pattern accepted (bytes): a Query's search criteria are short.
pub const MAX_PATTERN_LEN: usize = 256;
/// The strategy names the page offers.
pub const STRATEGIES: [&str; 5] = ["flood", "ring", "walk", "look", "dq"];

/// One search.
struct Search {
    pattern: String,
    filter: Pattern,
    strategy: String,
    core_id: SearchId,
    running: bool,
    cost: Option<QueryCost>,
    hits: Vec<SearchHit>,
    /// Fewest hops each source (address, file index) was heard over.
    hops: HashMap<(SocketAddrV4, u32), u8>,
    groups: Vec<HitGroup>,
    /// Responders whose QueryHits asked for a Push (firewalled).
    firewalled: HashSet<Guid>,
}

/// Every search of the interface, by ID.
#[derive(Default)]
pub struct Searches {
    next_id: u64,
    by_id: BTreeMap<u64, Search>,
}

/// The page's view of a group: SHA-1 (base32), name, size, sources, fewest hops, magnet.
pub fn group_json(group: &HitGroup, hops: &HashMap<(SocketAddrV4, u32), u8>) -> Value {
    let min_hops = group
        .sources
        .iter()
        .filter_map(|s| hops.get(&(s.addr, s.index)))
        .min();
    json!({
        "sha1": group.sha1_urn.as_deref().map(|u| u.trim_start_matches("urn:sha1:")),
        "name": group.name,
        "size": group.size,
        "sources": group.sources.len(),
        "hops": min_hops,
        "magnet": Magnet::for_group(group).to_string(),
    })
}

/// A cost record as the page shows it.
pub fn cost_json(cost: Option<&QueryCost>) -> Value {
    match cost {
        None => {
            json!({"messages": 0, "servents_reached": null, "hops": null, "first_hit_steps": null, "first_hit_ms": null})
        }
        Some(c) => json!({
            "messages": c.traffic.total(),
            "servents_reached": c.reached,
            "hops": c.first_hit_hops,
            "first_hit_steps": c.first_hit_steps,
            "udp_checks": c.traffic.udp_checks,
            "first_hit_ms": c.first_hit_after.map(|d| d.as_millis() as u64),
            "hits": c.hits,
            "responders": c.responders,
            "duration_ms": c.duration.as_millis() as u64,
        }),
    }
}

/// The strategy named on the page (`flood`, `ring`, `walk`, `look`, `dq`, or a full form
/// such as `walk:k=16`).
pub fn parse_strategy(text: &str) -> Result<Strategy, ApiError> {
    let name = text.split(':').next().unwrap_or("").trim();
    if !STRATEGIES.contains(&name) {
        return Err(ApiError::bad(format!(
            "unknown strategy {text:?} (flood, ring, walk, look or dq)"
        )));
    }
    text.parse()
        .map_err(|e| ApiError::bad(format!("strategy {text:?}: {e}")))
}

impl Search {
    fn summary(&self, id: u64) -> Value {
        json!({
            "id": id, "pattern": self.pattern, "strategy": self.strategy,
            "state": if self.running { "running" } else { "done" },
            "groups": self.groups.len(),
        })
    }

    fn detail(&self, id: u64, cost: Option<&QueryCost>) -> Value {
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|g| group_json(g, &self.hops))
            .collect();
        json!({
            "id": id, "pattern": self.pattern, "strategy": self.strategy,
            "state": if self.running { "running" } else { "done" },
            "cost": cost_json(cost.or(self.cost.as_ref())),
            "groups": groups,
        })
    }
}

impl Ui {
    /// Starts a search for `pattern` with `strategy`; returns its ID.
    pub fn start_search(self: &Arc<Self>, pattern: &str, strategy: &str) -> Result<u64, ApiError> {
        if pattern.len() > MAX_PATTERN_LEN {
            return Err(ApiError::bad(format!(
                "pattern over {MAX_PATTERN_LEN} bytes"
            )));
        }
        let filter = Pattern::parse(pattern)
            .map_err(|e| ApiError::bad(format!("cannot search for {pattern:?}: {e}")))?;
        let parsed = parse_strategy(strategy)?;
        let (core_id, events) = self.node.search(Query::new(pattern), parsed);
        let id = {
            let mut s = self.searches();
            s.next_id += 1;
            let id = s.next_id;
            s.by_id.insert(
                id,
                Search {
                    pattern: pattern.to_owned(),
                    filter,
                    strategy: strategy.to_owned(),
                    core_id,
                    running: true,
                    cost: None,
                    hits: Vec::new(),
                    hops: HashMap::new(),
                    groups: Vec::new(),
                    firewalled: HashSet::new(),
                },
            );
            while s.by_id.len() > MAX_SEARCHES {
                s.by_id.pop_first();
            }
            id
        };
        let ui = Arc::downgrade(self);
        rt::spawn(async move {
            let mut events = events;
            let end = Instant::now() + SEARCH_LIFETIME;
            let cost = loop {
                let left = end.saturating_duration_since(Instant::now());
                let next = rt::timeout(left, events.next()).await;
                let Some(ui) = ui.upgrade() else { return };
                match next {
                    Ok(Some(SearchEvent::Hit(h))) => ui.add_hits(id, &h.hit, h.hops),
                    Ok(Some(SearchEvent::Done(c))) => break Some(*c),
                    _ => break ui.node.search_cost(core_id),
                }
            };
            if let Some(ui) = ui.upgrade() {
                ui.end_search(id, cost);
            }
        });
        Ok(id)
    }

    /// Adds a QueryHit's matching results to search `id` and publishes the groups they
    /// touched.
    fn add_hits(&self, id: u64, hit: &crate::proto::payload::QueryHit, hops: u8) {
        let touched: Vec<Value> = {
            let mut all = self.searches();
            let Some(s) = all.by_id.get_mut(&id) else {
                return;
            };
            if hit.needs_push() {
                s.firewalled.insert(hit.servent_id);
            }
            let mut keys = Vec::new();
            for h in SearchHit::from_query_hit(hit) {
                if !s.filter.matches_name(&h.name) || s.hits.len() >= MAX_RESULTS_PER_SEARCH {
                    continue;
                }
                let best = s.hops.entry((h.addr, h.index)).or_insert(hops);
                *best = (*best).min(hops);
                keys.push((h.sha1_urn.clone(), h.name.clone(), h.size));
                s.hits.push(h);
            }
            if keys.is_empty() {
                return;
            }
            s.groups = group_hits(s.hits.iter().cloned());
            s.groups
                .iter()
                .filter(|g| {
                    keys.iter()
                        .any(|(sha, name, size)| match (&g.sha1_urn, sha) {
                            (Some(a), Some(b)) => a == b,
                            (None, None) => &g.name == name && g.size == *size,
                            _ => false,
                        })
                })
                .map(|g| group_json(g, &s.hops))
                .collect()
        };
        for group in touched {
            self.events
                .publish("hit", json!({ "search": id, "group": group }));
        }
    }

    fn end_search(&self, id: u64, cost: Option<QueryCost>) {
        let event = {
            let mut all = self.searches();
            let Some(s) = all.by_id.get_mut(&id) else {
                return;
            };
            s.running = false;
            s.cost = cost;
            json!({ "id": id, "state": "done", "cost": cost_json(s.cost.as_ref()) })
        };
        self.events.publish("search", event);
    }

    /// `GET /api/v1/searches`: every search, newest last.
    pub fn search_list(&self) -> Value {
        let all = self.searches();
        Value::Array(all.by_id.iter().map(|(id, s)| s.summary(*id)).collect())
    }

    /// `GET /api/v1/searches/N`: the search with its groups and cost (running totals
    /// while it runs).
    pub fn search_detail(&self, id: u64) -> Option<Value> {
        let core_id = {
            let all = self.searches();
            let s = all.by_id.get(&id)?;
            s.running.then_some(s.core_id)
        };
        let live = core_id.and_then(|c| self.node.search_cost(c));
        let all = self.searches();
        all.by_id.get(&id).map(|s| s.detail(id, live.as_ref()))
    }

    /// The group of search `id` whose SHA-1 is `sha1` (base32, any case), with the
    /// servent IDs of the responders that asked for a Push.
    pub fn search_group(&self, id: u64, sha1: &str) -> Option<(HitGroup, HashSet<Guid>)> {
        let urn = format!("urn:sha1:{}", sha1.trim().to_ascii_uppercase());
        let all = self.searches();
        let s = all.by_id.get(&id)?;
        let g = s
            .groups
            .iter()
            .find(|g| g.sha1_urn.as_deref() == Some(urn.as_str()))?;
        Some((g.clone(), s.firewalled.clone()))
    }
}
