//! Searches with a strategy, as the originator runs them: starting a flood, a ring, the
//! walkers or a dynamic query (`Servent::search`; dynamic querying itself is in `dq.rs`), taking our hits into the search's record, the ring and
//! search timers, answering checks, and ending a search with `Event::SearchDone`. The pure
//! rules (parameters, timeouts) are in `core::strategy`; the wire forms in `proto::walker`.

use std::time::Duration;

use crate::core::event::Event;
use crate::core::peer::PeerId;
use crate::core::strategy::cost::HitSet;
use crate::core::strategy::flood::flood_timeout;
use crate::core::strategy::walk::PROBE_WALKER;
use crate::core::strategy::{
    CheckVia, QueryCost, QueryTraffic, RandomWalk, SearchEnd, SearchId, Strategy, Traffic,
};
use crate::proto::payload::{Query, QueryHit};
use crate::proto::walker::WalkerTag;
use crate::proto::walker_ext::{FindSteps, ReplyAddr};
use crate::proto::Guid;

use super::state::{
    CheckAnswer, Deadline, Origin, QueryRoute, SearchState, SentRing, Timer, WalkNode, WalkerView,
};
use super::walker::udp_check_wait;
use super::Servent;

impl Servent {
    /// Starts a search for `query` with `strategy`. Hits come as [`Event::QueryHit`] with
    /// this search's ID; [`Event::SearchDone`] when it ends; [`Servent::search_cost`]
    /// meanwhile. A flood and every ring use a fresh descriptor ID each; all walkers of a
    /// walk share one.
    pub fn search(&mut self, now: Duration, query: Query, strategy: Strategy) -> SearchId {
        let query = self.mark_firewalled(query);
        let guid = self.new_guid();
        let id = SearchId(guid);
        let mut state = SearchState {
            strategy,
            query,
            started: now,
            sent: Vec::new(),
            ring_ttl: 0,
            deadline: None,
            hits: HitSet::default(),
            walkers: Vec::new(),
            satisfied: false,
            cost: QueryCost::new(id, strategy.to_string()),
        };
        match strategy {
            Strategy::Flood(f) => {
                state.ring_ttl = self.clamp_own_ttl(f.ttl);
                self.searching.searches.insert(id, state);
                self.send_ring(now, id, guid);
            }
            Strategy::ExpandingRing(r) => {
                state.ring_ttl = self.clamp_own_ttl(r.start_ttl.min(r.max_ttl));
                self.searching.searches.insert(id, state);
                self.send_ring(now, id, guid);
            }
            Strategy::RandomWalk(w) => {
                self.searching.searches.insert(id, state);
                self.searching.search_of.insert(guid, id);
                self.register_walk(now, id, guid);
                if !(w.look_ahead && self.probe_neighbours(now, id, guid, &w)) {
                    self.launch_walkers(now, id, guid, w.walkers);
                }
            }
            Strategy::Dynamic(_) => {
                self.searching.searches.insert(id, state);
                self.start_dynamic(now, id, guid);
            }
        }
        id
    }

    /// The search's cost as we know it now (our own sends; hits, hops, times). Kept for
    /// the most recent `max_searches_kept` searches.
    pub fn search_cost(&self, id: SearchId, now: Duration) -> Option<QueryCost> {
        let s = self.searching.searches.get(&id)?;
        let mut cost = s.cost.clone();
        if cost.end.is_none() {
            cost.duration = now.saturating_sub(s.started);
        }
        if !cost.network_wide {
            cost.traffic = self.own_traffic(&cost.guids, now);
        }
        Some(cost)
    }

    /// Searches still running.
    pub fn running_searches(&self) -> impl Iterator<Item = SearchId> + '_ {
        self.searching
            .searches
            .iter()
            .filter(|(_, s)| s.cost.end.is_none())
            .map(|(id, _)| *id)
    }

    fn own_traffic(&self, guids: &[Guid], now: Duration) -> Traffic {
        let mut t = Traffic::default();
        for g in guids {
            if let Some(q) = self.query_traffic(g, now) {
                t.add(&q);
            }
        }
        t
    }

    /// Floods the search's current ring (a flood is one ring) with descriptor ID `guid`.
    fn send_ring(&mut self, now: Duration, id: SearchId, guid: Guid) {
        let per_hop = self.hop_latency.per_hop_bound();
        let floor = self.config.min_search_timeout;
        let Some(s) = self.searching.searches.get_mut(&id) else {
            return;
        };
        let ttl = s.ring_ttl;
        let wait = match s.strategy {
            Strategy::ExpandingRing(r) => {
                r.ring_timeout.unwrap_or(flood_timeout(ttl, per_hop, floor))
            }
            _ => flood_timeout(ttl, per_hop, floor),
        };
        s.sent.push(SentRing { guid, at: now });
        s.cost.guids.push(guid);
        s.cost.rings += 1;
        s.deadline = Some(now + wait);
        let query = s.query.clone();
        self.timers.insert(Deadline {
            at: now + wait,
            timer: Timer::Search(id),
        });
        self.searching.search_of.insert(guid, id);
        self.flood_own_query(now, guid, ttl, query);
    }

    /// A walk's requester state: its route (we are its origin) and walk entry.
    fn register_walk(&mut self, now: Duration, id: SearchId, guid: Guid) {
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
        self.walks.put(guid, WalkNode::new(0), now);
        if let Some(s) = self.searching.searches.get_mut(&id) {
            s.cost.guids.push(guid);
        }
    }

    /// A look-ahead walk's first move, before any walker: the Query one hop on to the
    /// neighbours whose query routing tables may match (as walker [`PROBE_WALKER`]). When
    /// they are at least as many as the results wanted, no walker leaves yet: the search
    /// waits one round trip for their hits, and launches the walkers only if too few came
    /// (a table's false positive). Returns whether it waits.
    fn probe_neighbours(
        &mut self,
        now: Duration,
        id: SearchId,
        guid: Guid,
        w: &RandomWalk,
    ) -> bool {
        let query = self.walker_query(id, w);
        let tag = WalkerTag {
            walker: PROBE_WALKER,
            ..self.first_tag(w, 0)
        };
        let keys = self.query_keys(&query);
        let matched = self.look_ahead(now, None, guid, &query, &tag, &keys);
        if (matched as u64) < u64::from(w.want_hits) {
            return false;
        }
        let wait = (self.hop_latency.per_hop_bound() * 2).max(self.config.min_search_timeout);
        if let Some(s) = self.searching.searches.get_mut(&id) {
            s.deadline = Some(now + wait);
        }
        self.timers.insert(Deadline {
            at: now + wait,
            timer: Timer::Search(id),
        });
        true
    }

    /// The tag walker `walker` of walk `w` leaves the requester with.
    fn first_tag(&self, w: &RandomWalk, walker: u8) -> WalkerTag {
        WalkerTag {
            walker,
            check_every: w.check_every,
            remember_neighbours: w.remember_neighbours,
            look_ahead: w.look_ahead,
            degree_bias: w.degree_bias,
            steps: 0,
            steps_left: w.max_steps,
            sender_path: 0,
        }
    }

    /// The search's Query as its walkers carry it: with our UDP address for direct checks
    /// (`RA`, in `RW`'s block) unless we have no UDP port or are firewalled (then holders
    /// use the path).
    fn walker_query(&self, id: SearchId, w: &RandomWalk) -> Query {
        let mut query = self.searching.searches[&id].query.clone();
        if w.check_via == CheckVia::Udp && !self.config.firewalled {
            if let Some(addr) = self.udp_addr {
                query = ReplyAddr(addr).apply(&self.first_tag(w, 0).apply(&query));
            }
        }
        query
    }

    fn launch_walkers(&mut self, now: Duration, id: SearchId, guid: Guid, k: u8) {
        let Some(Strategy::RandomWalk(w)) = self.searching.searches.get(&id).map(|s| s.strategy)
        else {
            return;
        };
        let query = self.walker_query(id, &w);
        let expect = self.walker_expect_by(now, &w, 0);
        let mut views = Vec::with_capacity(k as usize);
        for walker in 0..k {
            let tag = self.first_tag(&w, walker);
            let sent = self.step_walker(now, guid, &query, tag, None);
            views.push(WalkerView {
                steps: 0,
                path: 0,
                ended: !sent,
                expect_by: expect,
            });
        }
        if let Some(s) = self.searching.searches.get_mut(&id) {
            s.cost.walkers = u32::from(k);
            s.walkers = views;
        }
        self.schedule_walk_deadline(now, id);
    }

    /// When the requester stops expecting a walker's next check: it has `check_every`
    /// steps to walk and, at worst, `2 x (path + check_every)` hops for the check to
    /// come back (the next holder is at most `check_every` hops farther), plus one hop of
    /// slack; at the measured hop bound. Without checks, the whole walk and its hits'
    /// way back.
    fn walker_expect_by(&self, now: Duration, w: &RandomWalk, path: u16) -> Duration {
        let per_hop = self.hop_latency.per_hop_bound();
        let hops = if w.check_every == 0 {
            2 * u32::from(w.max_steps)
        } else {
            2 * u32::from(path) + 3 * u32::from(w.check_every) + 1
        };
        now + (per_hop * hops).max(self.config.min_search_timeout) + self.udp_slack(w)
    }

    /// With direct checks, a holder whose datagram got no verdict waits this long before
    /// asking along the path: the requester allows for it once per check.
    fn udp_slack(&self, w: &RandomWalk) -> Duration {
        if w.check_via == CheckVia::Udp {
            udp_check_wait(
                self.hop_latency.per_hop_bound(),
                self.config.min_search_timeout,
            )
        } else {
            Duration::ZERO
        }
    }

    /// Sets the search timer to the first live walker's deadline, or ends the walk when
    /// none is live.
    fn schedule_walk_deadline(&mut self, now: Duration, id: SearchId) {
        let Some(s) = self.searching.searches.get_mut(&id) else {
            return;
        };
        if s.cost.end.is_some() {
            return;
        }
        match s
            .walkers
            .iter()
            .filter(|v| !v.ended)
            .map(|v| v.expect_by)
            .min()
        {
            Some(at) => {
                s.deadline = Some(at);
                self.timers.insert(Deadline {
                    at,
                    timer: Timer::Search(id),
                });
            }
            None => {
                let end = if s.satisfied {
                    SearchEnd::Satisfied
                } else {
                    SearchEnd::Exhausted
                };
                self.finish(now, id, end);
            }
        }
    }

    /// A QueryHit for a query of ours: the event, and the search's record.
    pub(super) fn deliver_hit(
        &mut self,
        now: Duration,
        from: PeerId,
        guid: Guid,
        hit: QueryHit,
        hops: u8,
    ) {
        let id = self.searching.search_of.get(&guid).copied();
        let search = id.unwrap_or(SearchId(guid));
        let found = FindSteps::find(&hit);
        let (servent_id, indices): (Guid, Vec<u32>) = (
            hit.servent_id,
            hit.results.iter().map(|r| r.index).collect(),
        );
        // The hit goes out before a `SearchDone` it may cause, so a driver that stops
        // listening at `SearchDone` still sees every hit of the search.
        self.events.push_back(Event::QueryHit {
            query: guid,
            search,
            from,
            hit,
            hops,
        });
        if let Some(s) = id.and_then(|id| self.searching.searches.get_mut(&id)) {
            let count = s.hits.add(servent_id, indices.into_iter());
            let c = &mut s.cost;
            c.hits = count.results;
            c.responders = count.responders;
            c.hit_descriptors += 1;
            if c.first_hit_hops.is_none() {
                c.first_hit_hops = Some(hops);
                c.first_hit_after = Some(now.saturating_sub(s.started));
                if matches!(s.strategy, Strategy::RandomWalk(_)) {
                    c.first_hit_steps = found.map(|f| f.steps);
                }
            }
            // A flood's or ring's hit measured the path both ways; a walker's hit waited
            // at checks and a dynamic query's at its later steps, so they say nothing
            // about hop latency.
            if !matches!(s.strategy, Strategy::RandomWalk(_) | Strategy::Dynamic(_)) {
                if let Some(ring) = s.sent.iter().find(|r| r.guid == guid) {
                    self.hop_latency
                        .sample_path(now.saturating_sub(ring.at), 2 * u32::from(hops));
                }
            }
            // A look-ahead walker ends where it finds: its hit says which one it was.
            let look_ahead = matches!(s.strategy, Strategy::RandomWalk(w) if w.look_ahead);
            let mut walker_ended = false;
            if let (true, Some(f)) = (look_ahead, found) {
                if let Some(v) = s.walkers.get_mut(usize::from(f.walker)) {
                    walker_ended = !v.ended;
                    v.ended = true;
                    v.steps = v.steps.max(f.steps);
                }
            }
            let want = s.strategy.want_hits();
            if want.is_some_and(|w| count.results >= w) && !s.satisfied {
                s.satisfied = true;
                let running = s.cost.end.is_none();
                match s.strategy {
                    Strategy::ExpandingRing(_) if running => {
                        self.finish(now, id.unwrap_or(search), SearchEnd::Satisfied)
                    }
                    // Walkers that never check cannot be stopped: the search is over
                    // for us as soon as it is satisfied.
                    Strategy::RandomWalk(w) if running && w.check_every == 0 => {
                        self.finish(now, id.unwrap_or(search), SearchEnd::Satisfied)
                    }
                    // A look-ahead walk that sent no walker: its probe found enough.
                    Strategy::RandomWalk(_) if running && s.walkers.is_empty() => {
                        self.finish(now, id.unwrap_or(search), SearchEnd::Satisfied)
                    }
                    // Enough: the dynamic query (ours, or our ultrapeers') sends nothing
                    // more.
                    Strategy::Dynamic(_) if running => {
                        self.finish(now, id.unwrap_or(search), SearchEnd::Satisfied)
                    }
                    _ => {}
                }
            }
            // The last live walker ended at its find: the walk is over.
            if let (true, Some(id)) = (walker_ended, id) {
                self.schedule_walk_deadline(now, id);
            }
        }
    }

    /// The requester's answer to a check of walker `walker` of query `guid`, which has
    /// taken `steps` steps and whose holder is `path` hops away: go on unless the search
    /// is satisfied or over (or unknown to us).
    pub(super) fn answer_check(
        &mut self,
        now: Duration,
        guid: Guid,
        walker: u8,
        steps: u16,
        path: u16,
    ) -> CheckAnswer {
        const STOP: CheckAnswer = CheckAnswer {
            go_on: false,
            hits: 0,
        };
        let Some(&id) = self.searching.search_of.get(&guid) else {
            return STOP;
        };
        let Some(Strategy::RandomWalk(w)) = self.searching.searches.get(&id).map(|s| s.strategy)
        else {
            return STOP;
        };
        let slack = self.udp_slack(&w);
        let Some(s) = self.searching.searches.get_mut(&id) else {
            return STOP;
        };
        let go_on = !s.satisfied && s.cost.end.is_none();
        let hits = u16::try_from(s.cost.hits).unwrap_or(u16::MAX);
        s.cost.checks_answered += 1;
        let expect = {
            let per_hop = self.hop_latency.per_hop_bound();
            let hops = 2 * u32::from(path) + 3 * u32::from(w.check_every) + 1;
            now + (per_hop * hops).max(self.config.min_search_timeout) + slack
        };
        if let Some(v) = s.walkers.get_mut(walker as usize) {
            v.steps = v.steps.max(steps);
            v.path = path;
            if go_on {
                // A walker we had given up on may still be walking: count it again.
                v.ended = false;
                v.expect_by = expect;
            } else {
                v.ended = true;
            }
        }
        s.cost.walker_steps = s.walkers.iter().map(|v| u64::from(v.steps)).sum();
        if s.cost.end.is_none() {
            self.schedule_walk_deadline(now, id);
        }
        CheckAnswer { go_on, hits }
    }

    /// Runs every timer due at `now`.
    pub(super) fn fire_timers(&mut self, now: Duration) {
        while let Some(&Deadline { at, timer }) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::Search(id) => {
                    if self.searching.searches.get(&id).and_then(|s| s.deadline) == Some(at) {
                        self.on_search_deadline(now, id);
                    }
                }
                Timer::Dynamic(guid) => self.on_dq_deadline(now, guid, at),
                Timer::Walker(key) => {
                    if self.searching.held.get(&key).map(|h| h.deadline) == Some(at) {
                        self.on_check_timeout(now, key);
                    }
                }
            }
        }
    }

    fn on_search_deadline(&mut self, now: Duration, id: SearchId) {
        let limit = self.config.max_ttl;
        let Some(s) = self.searching.searches.get_mut(&id) else {
            return;
        };
        s.deadline = None;
        match s.strategy {
            Strategy::Flood(_) => {
                let end = if s.cost.hits > 0 {
                    SearchEnd::Satisfied
                } else {
                    SearchEnd::Exhausted
                };
                self.finish(now, id, end);
            }
            Strategy::ExpandingRing(r) => match r.next_ttl(s.ring_ttl, limit) {
                Some(ttl) if !s.satisfied => {
                    s.ring_ttl = ttl;
                    let guid = self.new_guid();
                    self.send_ring(now, id, guid);
                }
                _ => self.finish(now, id, SearchEnd::Exhausted),
            },
            // A leaf's wait for its ultrapeers is over.
            Strategy::Dynamic(_) => {
                let end = if s.satisfied {
                    SearchEnd::Satisfied
                } else {
                    SearchEnd::Exhausted
                };
                self.finish(now, id, end);
            }
            // A look-ahead probe's hits did not all come: the walkers go after all.
            Strategy::RandomWalk(w) if s.walkers.is_empty() && !s.satisfied => {
                let guid = s.cost.guids[0];
                self.launch_walkers(now, id, guid, w.walkers)
            }
            Strategy::RandomWalk(_) => {
                for v in s
                    .walkers
                    .iter_mut()
                    .filter(|v| !v.ended && v.expect_by <= now)
                {
                    v.ended = true;
                }
                self.schedule_walk_deadline(now, id);
            }
        }
    }

    /// Ends a search: its final record and [`Event::SearchDone`].
    pub(super) fn finish(&mut self, now: Duration, id: SearchId, end: SearchEnd) {
        let Some(s) = self.searching.searches.get(&id) else {
            return;
        };
        if s.cost.end.is_some() {
            return;
        }
        let traffic = self.own_traffic(&s.cost.guids, now);
        let Some(s) = self.searching.searches.get_mut(&id) else {
            return;
        };
        s.deadline = None;
        s.cost.end = Some(end);
        s.cost.duration = now.saturating_sub(s.started);
        s.cost.traffic = traffic;
        let cost = s.cost.clone();
        if let (Strategy::Dynamic(_), Some(&guid)) = (s.strategy, cost.guids.first()) {
            self.dq_search_finished(now, guid);
        }
        self.events.push_back(Event::SearchDone { id, cost });
        self.searching.finished.push_back(id);
        while self.searching.finished.len() > self.config.max_searches_kept {
            if let Some(old) = self.searching.finished.pop_front() {
                if let Some(s) = self.searching.searches.remove(&old) {
                    for g in &s.cost.guids {
                        self.searching.search_of.remove(g);
                    }
                }
            }
        }
    }
}
