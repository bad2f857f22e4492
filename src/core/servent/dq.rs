//! Dynamic querying as the servent runs it: an ultrapeer's own `dq` search and the Query
//! a leaf hands its ultrapeer (probe, then one ultrapeer neighbour at a time, the query
//! status exchange with the leaf, the stop rules), and a leaf's side (sending its query
//! to its ultrapeers, answering their status requests, telling them to stop). The pure
//! rules (horizon, TTL choice, waits) are in `core::strategy::dq`; the vendor messages in
//! `proto::vendor`.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::seq::SliceRandom;

use crate::core::event::Priority;
use crate::core::peer::PeerId;
use crate::core::stats::DropReason;
use crate::core::strategy::dq::{
    horizon, probe_ttl, select_ttl, step_wait, DynamicQuery, Progress, DQ_LEAF_RESULTS,
    LEGACY_DEGREE, LEGACY_MAX_TTL, MAX_HORIZON, PROBE_ULTRAPEERS,
};
use crate::core::strategy::{QueryTraffic, SearchEnd, SearchId, Strategy};
use crate::proto::payload::query::{QUERY_FLAG_LEAF_GUIDED, QUERY_MAX_HITS_MASK};
use crate::proto::vendor::{QueryStatus, VendorError, QUERY_STATUS_STOP};
use crate::proto::{Descriptor, Guid, Payload, PayloadType};

use super::searching::{DqFor, DqRun};
use super::state::{Deadline, Origin, QueryRoute, Timer};
use super::Servent;

/// Dynamic queries an ultrapeer runs at once (its own and its leaves'): bounds memory
/// against leaves sending queries in bulk. Beyond it a leaf's Query is flooded as usual.
pub(crate) const MAX_DYNAMIC_QUERIES: usize = 256;
/// Ultrapeers queried between two status requests to a leaf: gtk-gnutella's
/// `DQ_STAT_THRESHOLD`.
const STATUS_EVERY: usize = 3;
/// Unanswered status requests after which a leaf is taken not to guide the query:
/// gtk-gnutella's `DQ_MAX_STAT_TIMEOUT`.
const MAX_STATUS_TIMEOUTS: u8 = 2;
/// Longest a dynamic query runs whatever happens: gtk-gnutella's `DQ_MAX_LIFETIME`.
const MAX_LIFETIME: Duration = Duration::from_secs(600);

impl Servent {
    /// Starts our own `dq` search `id` (descriptor ID `guid`). An ultrapeer runs it; a
    /// leaf sends the Query to its ultrapeers and waits for their results.
    pub(super) fn start_dynamic(&mut self, now: Duration, id: SearchId, guid: Guid) {
        let Some((q, query)) =
            self.searching
                .searches
                .get_mut(&id)
                .and_then(|s| match s.strategy {
                    Strategy::Dynamic(q) => Some((q, s.query.clone())),
                    _ => None,
                })
        else {
            return;
        };
        self.searching.search_of.insert(guid, id);
        if self.role() == crate::core::Role::Leaf {
            let mut query = query;
            if query.has_flags_word() {
                query.flags |= QUERY_FLAG_LEAF_GUIDED;
                // Our ultrapeers collect what the max-hits field asks: what we want.
                let want = q.want_hits.clamp(1, u32::from(QUERY_MAX_HITS_MASK)) as u16;
                query.flags = (query.flags & !QUERY_MAX_HITS_MASK) | want;
            }
            // One hop to our ultrapeers, then up to `max` beyond them.
            let ttl = self.clamp_own_ttl(q.max_ttl.saturating_add(1));
            let up_degree = self
                .peers
                .values()
                .map(|p| p.info.degree.unwrap_or(LEGACY_DEGREE))
                .max()
                .unwrap_or(1);
            let per_hop = self.hop_latency.per_hop_bound();
            let floor = self.config.min_search_timeout;
            let wait = q.leaf_timeout.unwrap_or_else(|| {
                crate::core::strategy::dq::leaf_timeout(up_degree, q.max_ttl, per_hop, floor)
            });
            if let Some(s) = self.searching.searches.get_mut(&id) {
                s.cost.guids.push(guid);
                s.cost.rings = 1;
                s.deadline = Some(now + wait);
            }
            self.timers.insert(Deadline {
                at: now + wait,
                timer: Timer::Search(id),
            });
            self.flood_own_query(now, guid, ttl, query);
            return;
        }
        if let Some(s) = self.searching.searches.get_mut(&id) {
            s.cost.guids.push(guid);
        }
        // Our route entry, with nothing sent yet: each step counts its own sends.
        let route = QueryRoute {
            origin: Origin::Local,
            traffic: QueryTraffic {
                local: true,
                ..QueryTraffic::default()
            },
            flood_ttl: None,
            better_relays: 0,
        };
        self.query_routes.put(guid, route, now);
        let template = Descriptor::new(guid, 1, 0, Payload::Query(query));
        let max_ttl = q.max_ttl.min(self.config.max_ttl).max(1);
        self.run_dynamic(now, DqFor::Local(id), template, q.want_hits, max_ttl, q);
    }

    /// A Query from leaf `from` that passed the duplicate and TTL rules (its reverse
    /// route is in place and we answered it): when we are an ultrapeer, the leaf
    /// announced dynamic querying and the Query asks for it (the leaf-guided flag, which
    /// gtk-gnutella's leaves set), runs it as a dynamic query and returns true (do not
    /// flood it); false otherwise. gtk-gnutella runs every leaf Query dynamically; asking
    /// for the flag lets a leaf that searches another way (a flood, a ring, walkers) keep
    /// its search's shape, so strategies compare on a two-tier network.
    pub(crate) fn dq_leaf_query(
        &mut self,
        now: Duration,
        from: PeerId,
        d: &Descriptor,
        ttl: u8,
    ) -> bool {
        let leaf_dq = self
            .peers
            .get(&from)
            .is_some_and(|p| !p.info.ultrapeer && p.info.dynamic_querying);
        if self.role() != crate::core::Role::Ultrapeer
            || !leaf_dq
            || self.searching.dynamic.len() >= MAX_DYNAMIC_QUERIES
            || self.searching.dynamic.contains_key(&d.guid)
        {
            return false;
        }
        let Payload::Query(query) = &*d.payload else {
            return false;
        };
        if !query.has_flags_word() || query.flags & QUERY_FLAG_LEAF_GUIDED == 0 {
            return false;
        }
        let want = query.max_hits().map_or(DQ_LEAF_RESULTS, u32::from);
        let max_ttl = ttl
            .saturating_sub(1)
            .clamp(1, DynamicQuery::default().max_ttl);
        let params = DynamicQuery::default();
        // The flood path counted a relay to every neighbour up front; nothing is sent yet.
        self.count_traffic(d.guid, now, |t| t.queries = 0);
        let template = d.with_header(1, d.hops.saturating_add(1));
        self.run_dynamic(now, DqFor::Leaf(from), template, want, max_ttl, params);
        true
    }

    fn run_dynamic(
        &mut self,
        now: Duration,
        who: DqFor,
        template: Descriptor,
        want: u32,
        max_ttl: u8,
        q: DynamicQuery,
    ) {
        let guid = template.guid;
        let mut ups: Vec<(Guid, PeerId)> = self
            .peers
            .iter()
            .filter(|(_, p)| p.info.ultrapeer)
            .map(|(&id, p)| (p.info.servent_id.unwrap_or_default(), id))
            .collect();
        ups.sort();
        let mut order: Vec<PeerId> = ups.into_iter().map(|(_, id)| id).collect();
        order.shuffle(self.rng.get());
        let guided = match who {
            DqFor::Leaf(leaf) => self.peers.get(&leaf).is_some_and(|p| {
                p.info.dynamic_querying
                    || matches!(&*template.payload, Payload::Query(qq) if qq.flags & QUERY_FLAG_LEAF_GUIDED != 0)
            }),
            DqFor::Local(_) => false,
        };
        let run = DqRun {
            who,
            template,
            want,
            max_ttl,
            probe_ttl: q.probe_ttl,
            order,
            queried: BTreeMap::new(),
            reached: 0.0,
            routed: 0,
            kept: None,
            routed_since_status: 0,
            guided,
            waiting_status: false,
            status_timeouts: 0,
            queried_at_status: 0,
            deadline: None,
            started: now,
        };
        self.searching.dynamic.insert(guid, run);
        self.dq_send_to_leaves(now, guid);
        self.dq_probe(now, guid);
    }

    /// Our leaves get the Query once, as a last hop (a leaf relays nothing): every leaf
    /// but the one it came from whose table may match ([`Servent::dq_leaf_may_match`]).
    fn dq_send_to_leaves(&mut self, now: Duration, guid: Guid) {
        let Some(run) = self.searching.dynamic.get(&guid) else {
            return;
        };
        let except = match run.who {
            DqFor::Leaf(l) => Some(l),
            DqFor::Local(_) => None,
        };
        let d = run.template.with_header(1, run.template.hops);
        let leaves: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(&id, p)| !p.info.ultrapeer && Some(id) != except)
            .map(|(&id, _)| id)
            .filter(|&id| self.dq_leaf_may_match(id, &d))
            .collect();
        for leaf in &leaves {
            self.send(*leaf, d.clone(), self.dq_priority(guid));
        }
        let n = leaves.len() as u32;
        self.count_traffic(guid, now, |t| t.queries += n);
    }

    /// Whether leaf `leaf`'s query routing table may match the Query (`servent/qrp.rs`):
    /// a leaf without a table gets nothing.
    fn dq_leaf_may_match(&self, leaf: PeerId, d: &Descriptor) -> bool {
        let Payload::Query(q) = &*d.payload else {
            return false;
        };
        let keys = self.query_keys(q);
        self.query_goes_to(leaf, &keys, false)
    }

    fn dq_priority(&self, guid: Guid) -> Priority {
        match self.searching.dynamic.get(&guid).map(|r| r.who) {
            Some(DqFor::Local(_)) => Priority::Own,
            _ => Priority::RelayedBroadcast,
        }
    }

    /// The probe: a small TTL to the first few ultrapeers.
    fn dq_probe(&mut self, now: Duration, guid: Guid) {
        let Some(run) = self.searching.dynamic.get(&guid) else {
            return;
        };
        if run.order.is_empty() {
            return self.dq_next(now, guid);
        }
        let ttl = run
            .probe_ttl
            .unwrap_or_else(|| probe_ttl(run.order.len(), run.max_ttl))
            .min(run.max_ttl);
        let targets: Vec<PeerId> = run.order.iter().take(PROBE_ULTRAPEERS).copied().collect();
        for up in targets {
            self.dq_send(now, guid, up, ttl, true);
        }
        self.dq_wait(now, guid, step_wait(ttl, self.per_hop(), self.floor()));
    }

    fn per_hop(&self) -> Duration {
        self.hop_latency.per_hop_bound()
    }

    fn floor(&self) -> Duration {
        self.config.min_search_timeout
    }

    /// Sends the query to ultrapeer `up` with `ttl` (at most its `X-Max-TTL`).
    fn dq_send(&mut self, now: Duration, guid: Guid, up: PeerId, ttl: u8, probe: bool) {
        let info = self.peers.get(&up).map(|p| &p.info);
        let degree = info.and_then(|i| i.degree).unwrap_or(LEGACY_DEGREE);
        // A peer announcing X-Max-TTL 0 still gets a live descriptor.
        let ttl = ttl
            .min(info.and_then(|i| i.max_ttl).unwrap_or(LEGACY_MAX_TTL))
            .max(1);
        let priority = self.dq_priority(guid);
        // On its last hop (TTL 1) the query goes only where the ultrapeer's merged table
        // may match; where it cannot, the step counts as done without a message.
        let last_hop_blocked =
            ttl == 1
                && self.searching.dynamic.get(&guid).is_some_and(|run| {
                    match &*run.template.payload {
                        Payload::Query(q) => !self.query_goes_to(up, &self.query_keys(q), true),
                        _ => false,
                    }
                });
        let Some(run) = self.searching.dynamic.get_mut(&guid) else {
            return;
        };
        let d = run.template.with_header(ttl, run.template.hops);
        // A neighbour probed before already counted its first `ttl` hops.
        let before = run
            .queried
            .get(&up)
            .map_or(0.0, |&(t, _)| horizon(degree, t));
        run.reached += horizon(degree, ttl) - before;
        run.queried.insert(up, (ttl, probe));
        if let DqFor::Local(id) = run.who {
            if let Some(s) = self.searching.searches.get_mut(&id) {
                s.cost.rings += u32::from(!probe || s.cost.rings == 0);
            }
        }
        if last_hop_blocked {
            return;
        }
        self.send(up, d, priority);
        self.count_traffic(guid, now, |t| t.queries += 1);
    }

    fn dq_wait(&mut self, now: Duration, guid: Guid, wait: Duration) {
        if let Some(run) = self.searching.dynamic.get_mut(&guid) {
            run.deadline = Some(now + wait);
            self.timers.insert(Deadline {
                at: now + wait,
                timer: Timer::Dynamic(guid),
            });
        }
    }

    /// Results the query has so far: our own search's distinct results, or for a leaf
    /// the leaf's last report plus what we routed since (what we routed, without one).
    fn dq_results(&self, run: &DqRun) -> u32 {
        match run.who {
            DqFor::Local(id) => self.searching.searches.get(&id).map_or(0, |s| s.cost.hits),
            DqFor::Leaf(_) => match run.kept {
                Some(k) => (u32::from(k) + run.routed_since_status).max(run.routed),
                None => run.routed,
            },
        }
    }

    /// A dynamic query's timer fired at `at`: go on, or stop.
    pub(super) fn on_dq_deadline(&mut self, now: Duration, guid: Guid, at: Duration) {
        let Some(run) = self.searching.dynamic.get_mut(&guid) else {
            return;
        };
        if run.deadline != Some(at) {
            return; // moved or stale
        }
        run.deadline = None;
        if run.waiting_status {
            run.waiting_status = false;
            run.status_timeouts += 1;
            if run.kept.is_none() && run.status_timeouts >= MAX_STATUS_TIMEOUTS {
                run.guided = false;
            }
        } else if run.guided && run.queried.len() >= run.queried_at_status + STATUS_EVERY {
            if let DqFor::Leaf(leaf) = run.who {
                run.waiting_status = true;
                run.queried_at_status = run.queried.len();
                self.send_query_status(now, leaf, guid, QueryStatus::Request);
                // The leaf is one hop away: its answer is back within a round trip.
                return self.dq_wait(now, guid, step_wait(1, self.per_hop(), self.floor()));
            }
        }
        self.dq_next(now, guid);
    }

    /// The next step: one ultrapeer not queried yet (or probed with less TTL than it
    /// would get now), with the TTL the results so far call for; or the end.
    fn dq_next(&mut self, now: Duration, guid: Guid) {
        let Some(run) = self.searching.dynamic.get(&guid) else {
            return;
        };
        let results = self.dq_results(run);
        let leaf_gone = matches!(run.who, DqFor::Leaf(l) if !self.peers.contains_key(&l));
        if results >= run.want
            || self.role() != crate::core::Role::Ultrapeer
            || run.reached >= MAX_HORIZON
            || leaf_gone
            || now.saturating_sub(run.started) >= MAX_LIFETIME
        {
            return self.dq_end(now, guid);
        }
        let open: Vec<PeerId> = run
            .order
            .iter()
            .copied()
            .filter(|p| self.peers.contains_key(p))
            .filter(|p| run.queried.get(p).is_none_or(|&(_, probe)| probe))
            .collect();
        let mut choice = None;
        for &up in &open {
            let Some(info) = self.peers.get(&up).map(|p| &p.info) else {
                continue; // `open` holds only open links
            };
            let progress = Progress {
                results,
                want: run.want,
                reached: run.reached,
                remaining: open.len(),
            };
            let ttl = select_ttl(
                &progress,
                info.degree.unwrap_or(LEGACY_DEGREE),
                info.max_ttl.unwrap_or(LEGACY_MAX_TTL),
                run.max_ttl,
            );
            // A probed neighbour is queried again only for more TTL (relays take a copy
            // with more TTL than before, bounded: `servent/flood.rs`).
            if run.queried.get(&up).is_some_and(|&(t, _)| t >= ttl) {
                continue;
            }
            choice = Some((up, ttl));
            break;
        }
        let Some((up, ttl)) = choice else {
            return self.dq_end(now, guid);
        };
        self.dq_send(now, guid, up, ttl, false);
        self.dq_wait(now, guid, step_wait(ttl, self.per_hop(), self.floor()));
    }

    /// Ends a dynamic query (its search too, when it is ours).
    fn dq_end(&mut self, now: Duration, guid: Guid) {
        let Some(run) = self.searching.dynamic.remove(&guid) else {
            return;
        };
        if let DqFor::Local(id) = run.who {
            let end = match self.searching.searches.get(&id) {
                Some(s) if s.cost.hits >= run.want => SearchEnd::Satisfied,
                _ => SearchEnd::Exhausted,
            };
            self.finish(now, id, end);
        }
    }

    /// Our `dq` search `id` ended: a leaf tells its ultrapeers to stop (the 65,535
    /// report, as gtk-gnutella's leaves do when a search closes); an ultrapeer stops its
    /// own dynamic query.
    pub(super) fn dq_search_finished(&mut self, now: Duration, guid: Guid) {
        if self.role() == crate::core::Role::Leaf {
            let ups: Vec<PeerId> = self
                .peers
                .iter()
                .filter(|(_, p)| p.info.ultrapeer && p.info.dynamic_querying)
                .map(|(&id, _)| id)
                .collect();
            let stop = QueryStatus::Response {
                kept: QUERY_STATUS_STOP,
            };
            for up in ups {
                self.send_query_status(now, up, guid, stop);
            }
        } else {
            self.searching.dynamic.remove(&guid);
        }
    }

    fn send_query_status(&mut self, now: Duration, to: PeerId, guid: Guid, m: QueryStatus) {
        let d = Descriptor::new(
            guid,
            1,
            0,
            Payload::Opaque {
                kind: PayloadType::Vendor,
                bytes: m.encode(),
            },
        );
        self.send(to, d, Priority::Own);
        self.count_traffic(guid, now, |t| t.checks += 1);
    }

    /// A QueryHit we routed for query `guid`: counts its results for the leaf's dynamic
    /// query, if we run one.
    pub(crate) fn dq_count_routed_hit(&mut self, guid: Guid, results: usize) {
        if let Some(run) = self.searching.dynamic.get_mut(&guid) {
            let n = u32::try_from(results).unwrap_or(u32::MAX);
            run.routed = run.routed.saturating_add(n);
            run.routed_since_status = run.routed_since_status.saturating_add(n);
        }
    }

    /// A vendor message from `from`: handles it when it is a query status message
    /// (returns true; a malformed one is dropped and counted), leaves anything else to
    /// the other handlers (false). Never answers a response, never relays.
    pub(crate) fn on_query_status(&mut self, now: Duration, from: PeerId, d: &Descriptor) -> bool {
        let Payload::Opaque { bytes, .. } = &*d.payload else {
            return false;
        };
        match QueryStatus::decode(bytes) {
            Err(VendorError::NotQueryStatus) => false,
            Err(_) => {
                self.drop_from(from, DropReason::Malformed);
                true
            }
            Ok(QueryStatus::Request) => {
                let kept = self.kept_results(d.guid);
                self.send_query_status(now, from, d.guid, QueryStatus::Response { kept });
                true
            }
            Ok(QueryStatus::Response { kept }) => {
                self.on_status_response(now, from, d.guid, kept);
                true
            }
        }
    }

    /// What we report for our search `guid`: its distinct results (at most 65,534), or
    /// 65,535 ("stop") when it is over or not ours.
    fn kept_results(&self, guid: Guid) -> u16 {
        match self
            .searching
            .search_of
            .get(&guid)
            .and_then(|id| self.searching.searches.get(id))
        {
            Some(s) if s.cost.end.is_none() => {
                u16::try_from(s.cost.hits.min(u32::from(QUERY_STATUS_STOP - 1))).unwrap_or(0)
            }
            _ => QUERY_STATUS_STOP,
        }
    }

    fn on_status_response(&mut self, now: Duration, from: PeerId, guid: Guid, kept: u16) {
        let Some(run) = self.searching.dynamic.get_mut(&guid) else {
            return; // over already, or never ours: ignored, as gtk-gnutella does
        };
        if run.who != DqFor::Leaf(from) {
            // Only the leaf whose query it is may guide it.
            return self.drop_from(from, DropReason::NoRoute);
        }
        if kept == QUERY_STATUS_STOP {
            return self.dq_end(now, guid);
        }
        run.kept = Some(kept);
        run.routed_since_status = 0;
        run.guided = true;
        if run.waiting_status {
            run.waiting_status = false;
            run.deadline = None;
            self.dq_next(now, guid);
        }
    }
}
