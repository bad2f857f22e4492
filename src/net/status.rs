//! The `/status` document: who we are, our neighbours and their counters, the host cache,
//! and what the servent routed and dropped, by reason.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::core::peer::TypeCounters;
use crate::core::DropReason;
use crate::proto::PayloadType;

use super::shared::Shared;

/// Per-query counters listed in `/status` (the newest).
const STATUS_QUERIES: usize = 64;

fn by_type(c: &TypeCounters) -> Value {
    let m: BTreeMap<&str, u64> = PayloadType::ALL
        .iter()
        .map(|t| (t.name(), c[t.index()]))
        .filter(|(_, v)| *v > 0)
        .collect();
    json!(m)
}

pub(super) fn render(shared: &Shared) -> Value {
    let now = shared.now();
    let st = shared.lock();
    let stats = st.servent.stats();
    let neighbours: Vec<Value> = st
        .links
        .iter()
        .map(|(id, l)| {
            let peer = st.servent.peer(*id);
            let drops = l.queue.dropped();
            json!({
                "peer": id.0,
                "address": l.remote.to_string(),
                "listen": l.listen.map(|a| a.to_string()),
                "servent_id": l.servent_id.map(|g| g.to_string()),
                "user_agent": l.user_agent,
                "role": if l.ultrapeer { "ultrapeer" } else { "leaf" },
                "direction": l.direction,
                "compressed": { "in": l.deflate_in, "out": l.deflate_out },
                "received": peer.map(|p| by_type(&p.received.map(u64::from))),
                "sent": peer.map(|p| by_type(&p.sent.map(u64::from))),
                "duplicates": peer.map(|p| p.duplicates),
                "dropped": peer.map(|p| p.dropped),
                "queue": {
                    "length": l.queue.len(),
                    "bytes": l.queue.bytes(),
                    "drops": { "relayed": drops[0], "reply": drops[1], "own": drops[2] },
                },
                "idle_ms": now.saturating_sub(l.last_rx).as_millis() as u64,
                "qrp_table": st.servent.qrp_table_of(*id).map(|t| json!({
                    "slots": t.slots(),
                    "set": t.set_count(),
                    "fill": t.fill_ratio(),
                })),
            })
        })
        .collect();
    let dropped: BTreeMap<&str, u64> = DropReason::ALL
        .iter()
        .map(|r| (r.name(), stats.dropped(*r)))
        .collect();
    let c = &st.counters;
    // What we sent per query ID (newest first; the core keeps them as long as the query's
    // route lives). `servent mesh` sums these across servents for exact totals.
    let per_query: Vec<Value> = st
        .servent
        .query_counters(now)
        .take(STATUS_QUERIES)
        .map(|(g, t)| json!({ "guid": g.to_string(), "sent": t }))
        .collect();
    json!({
        "servent_id": shared.servent_id.to_string(),
        "listen": shared.listen.to_string(),
        "user_agent": super::handshake::user_agent(),
        "uptime_s": now.as_secs_f64(),
        "role": st.servent.role(),
        "role_policy": shared.config.role.to_string(),
        "role_switches": c.role_switches,
        "neighbours": neighbours,
        "host_cache": st.hosts.len(),
        "pong_cache": st.servent.cached_pongs(),
        "descriptors": {
            "received": by_type(&stats.received),
            "sent": by_type(&stats.sent),
            "routed": stats.routed,
            "relayed_better_ttl": stats.relayed_better_ttl,
            "pongs_from_cache": stats.pongs_from_cache,
            "queries_answered": stats.queries_answered,
            "dropped": dropped,
        },
        "links": {
            "opened": c.links_opened,
            "closed": c.closes,
            "handshake_failures": c.handshake_failures,
            "refused_full": c.refused_full,
            "refused_duplicate": c.refused_duplicate,
        },
        "connections": {
            "accepted": c.accepted,
            "accept_failed": c.accept_failed,
            "unclassified": c.unclassified,
            "gnutella": c.gnutella_connections,
            "http": c.http_connections,
            "http_ended": shared.http.stats.ended.snapshot(),
            "http_open": st.http_open,
            "http_refused": c.http_refused,
            "giv": c.giv_connections,
            "unknown": c.unknown_connections,
        },
        "firewalled": {
            "now": st.push.firewalled(now),
            "configured": st.push.configured(),
            "last_incoming_s_ago": st.push.last_incoming().map(|t| now.saturating_sub(t).as_secs_f64()),
        },
        "push": st.push.counters,
        "udp": {
            "addr": st.servent.udp_addr().map(|a| a.to_string()),
            "driver": st.udp_counters,
            "core": st.servent.udp_stats(),
        },
        "encode_errors": c.encode_errors,
        "queries": per_query,
        "hop_latency_ms": st.servent.hop_latency().mean().as_secs_f64() * 1e3,
    })
}
