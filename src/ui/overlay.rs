//! The overlay as the page draws it: neighbours (role, user agent, uptime, traffic,
//! drops), the host cache, and Ping/Query/QueryHit rates. A sampler task reads the
//! node's `/status` document every [`SAMPLE_EVERY`]: a neighbour that appears or goes is
//! published as a `link` event (and its uptime counted from when it appeared), and every
//! [`RATE_INTERVAL`] the descriptors received since the last interval go into a ring of
//! [`RATE_SAMPLES`] counters (the last 10 minutes).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::rt;

use super::Ui;

/// How often the node's neighbours are looked at.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// One rate counter covers this long.
pub const RATE_INTERVAL: Duration = Duration::from_secs(10);
/// Rate counters kept: 60 of 10 s, the last 10 minutes.
pub const RATE_SAMPLES: usize = 60;
/// Hosts of the host cache listed at most (the page draws them as an outer ring).
pub const MAX_HOSTS_LISTED: usize = 100;
/// The descriptor types charted, by their `/status` names.
const RATE_TYPES: [(&str, &str); 3] = [
    ("ping", "ping"),
    ("query", "query"),
    ("query_hit", "query-hit"),
];

/// What the sampler keeps.
#[derive(Default)]
pub struct Overlay {
    /// When each neighbour (by address) was first seen up.
    since: HashMap<String, Instant>,
    /// Per type: descriptors received in each past interval, oldest first.
    rates: [VecDeque<u64>; 3],
    /// Received totals at the start of the current interval, and when it started.
    mark: Option<(Instant, [u64; 3])>,
}

/// A neighbour's address as the page shows it: where it listens when known, else the
/// connection's remote end.
fn neighbour_addr(n: &Value) -> String {
    n["listen"]
        .as_str()
        .or(n["address"].as_str())
        .unwrap_or("?")
        .to_owned()
}

fn total(v: &Value) -> u64 {
    v.as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
}

/// Starts the sampler; it ends when the interface is dropped.
pub(super) fn start_sampler(ui: &Arc<Ui>) {
    let weak: Weak<Ui> = Arc::downgrade(ui);
    rt::spawn(async move {
        loop {
            let Some(ui) = weak.upgrade() else { return };
            ui.sample(Instant::now());
            drop(ui);
            rt::sleep(SAMPLE_EVERY).await;
        }
    });
}

impl Ui {
    /// One look at the node: link events and, once an interval passed, a rate sample.
    fn sample(&self, now: Instant) {
        let status = self.node.status();
        let addrs: Vec<String> = status["neighbours"]
            .as_array()
            .map(|a| a.iter().map(neighbour_addr).collect())
            .unwrap_or_default();
        let received = &status["descriptors"]["received"];
        let counts = RATE_TYPES.map(|(_, name)| received[name].as_u64().unwrap_or(0));
        let mut events = Vec::new();
        {
            let mut o = self.overlay();
            for a in &addrs {
                if !o.since.contains_key(a) {
                    o.since.insert(a.clone(), now);
                    events.push(json!({"addr": a, "up": true}));
                }
            }
            o.since.retain(|a, _| {
                let up = addrs.contains(a);
                if !up {
                    events.push(json!({"addr": a, "up": false}));
                }
                up
            });
            match o.mark {
                None => o.mark = Some((now, counts)),
                Some((t, before)) if now.duration_since(t) >= RATE_INTERVAL => {
                    for (i, ring) in o.rates.iter_mut().enumerate() {
                        ring.push_back(counts[i].saturating_sub(before[i]));
                        while ring.len() > RATE_SAMPLES {
                            ring.pop_front();
                        }
                    }
                    o.mark = Some((now, counts));
                }
                Some(_) => {}
            }
        }
        for e in events {
            self.events.publish("link", e);
        }
    }

    /// `GET /api/v1/neighbours`.
    pub fn neighbours_json(&self) -> Value {
        let status = self.node.status();
        let now = Instant::now();
        let o = self.overlay();
        let list: Vec<Value> = status["neighbours"]
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|n| {
                let addr = neighbour_addr(n);
                let uptime = o
                    .since
                    .get(&addr)
                    .map_or(0, |t| now.duration_since(*t).as_secs());
                let drops = &n["queue"]["drops"];
                json!({
                    "addr": addr,
                    "remote": n["address"],
                    "role": n["role"],
                    "user_agent": n["user_agent"],
                    "uptime_s": uptime,
                    "sent": total(&n["sent"]),
                    "received": total(&n["received"]),
                    "dropped": n["dropped"].as_u64().unwrap_or(0) + total(drops),
                })
            })
            .collect();
        Value::Array(list)
    }

    /// `GET /api/v1/hosts`: the host cache's hosts worth a connect now.
    pub fn hosts_json(&self) -> Value {
        let hosts = self.node.hosts_to_try(MAX_HOSTS_LISTED);
        Value::Array(
            hosts
                .into_iter()
                .map(|h| json!({"addr": h.to_string(), "source": "host cache"}))
                .collect(),
        )
    }

    /// `GET /api/v1/rates`.
    pub fn rates_json(&self) -> Value {
        let o = self.overlay();
        let mut v = json!({ "interval_s": RATE_INTERVAL.as_secs() });
        for (i, (key, _)) in RATE_TYPES.iter().enumerate() {
            v[*key] = json!(o.rates[i]);
        }
        v
    }
}
