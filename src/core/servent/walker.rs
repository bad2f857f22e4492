//! Walkers and checks at every servent on a walk: accepting a walker (answering it the
//! first time, never dropping a revisit), holding it while a check travels to the
//! requester and back, handing it to one neighbour that supports walkers, routing walker
//! hits and checks along the walker's reverse path. Rules: protocol/README.md section 9.

use std::time::Duration;

use crate::core::config::DEFAULT_MAX_RESULTS;
use crate::core::event::Priority;
use crate::core::peer::PeerId;
use crate::core::qrp::QueryKeys;
use crate::core::stats::DropReason;
use crate::core::strategy::walk::{check_due, choose_next, next_tag};
use crate::core::strategy::QueryTraffic;
use crate::proto::payload::Query;
use crate::proto::walker::{CheckMessage, WalkerTag};
use crate::proto::walker_ext::{FindSteps, ReplyAddr};
use crate::proto::{Descriptor, Guid, Payload, PayloadType};
use std::net::SocketAddrV4;

use super::state::{Deadline, HeldWalker, Origin, QueryRoute, Timer, WalkNode, WalkerKey};
use super::Servent;
use crate::core::role::Role;

impl Servent {
    /// A walker-marked Query from `from`, a peer that supports walkers.
    pub(super) fn on_walker(&mut self, now: Duration, from: PeerId, d: Descriptor, tag: WalkerTag) {
        let Payload::Query(query) = &*d.payload else {
            return;
        };
        let guid = d.guid;
        let route = QueryRoute {
            origin: Origin::Peer(from),
            traffic: QueryTraffic::default(),
            flood_ttl: None,
            better_relays: 0,
        };
        // A walker is never dropped as a duplicate: a walk may cross a servent again. It
        // is answered once, and its reverse route stays the first arrival's.
        let first = match self.query_routes.insert_new_or_get(guid, route, now) {
            Some(seen) => {
                seen.traffic.duplicates += 1;
                self.stats.walker_revisits += 1;
                false
            }
            None => true,
        };
        if first || !self.walks.contains(&guid, now) {
            let path = tag.sender_path.saturating_add(1);
            self.walks.put(guid, WalkNode::new(path), now);
        }
        let mut found = false;
        if first {
            found = self.answer_walker(now, from, guid, query, &tag);
            if self.config.role == Role::Ultrapeer {
                // Hashed once for both: our leaves' tables and our neighbours'.
                let keys = self.query_keys(query);
                // An ultrapeer's leaves are part of each step: the ones whose tables may
                // match get the walker once (a leaf answers it and walks it no further).
                found |= self.walker_to_leaves(now, from, &d, &keys) > 0;
                if tag.look_ahead {
                    found |= self.look_ahead(now, Some(from), guid, query, &tag, &keys) > 0;
                }
            }
        }
        if self.config.role == Role::Leaf {
            return;
        }
        if found && tag.look_ahead {
            // A look-ahead walker ends where it finds (section 9.8): its hits tell the
            // requester so, and walking on would only cost steps and checks.
            self.stats.walkers_ended += 1;
            return;
        }
        if tag.steps_left == 0 {
            // max_steps reached: the walk ends here.
            self.stats.walkers_ended += 1;
            return;
        }
        let query = query.clone();
        if check_due(&tag) {
            let origin = self.query_routes.get(&guid, now).map(|r| r.origin);
            match origin {
                Some(Origin::Local) => {
                    // The walker passes through its requester: ask ourselves.
                    let answer = self.answer_check(now, guid, tag.walker, tag.steps, 0);
                    if !answer.go_on {
                        self.stats.walkers_ended += 1;
                        return;
                    }
                }
                Some(Origin::Peer(up)) => {
                    return self.hold_for_check(now, guid, query, tag, from, up)
                }
                None => return,
            }
        }
        self.step_walker(now, guid, &query, tag, Some(from));
    }

    /// Hands a walker's Query (keyed `keys`) to our leaves whose tables may match, one hop
    /// on; their hits come back along the walker's reverse path. Returns how many leaves
    /// got it.
    fn walker_to_leaves(
        &mut self,
        now: Duration,
        from: PeerId,
        d: &Descriptor,
        keys: &QueryKeys,
    ) -> usize {
        let leaves: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(&id, p)| id != from && !p.info.ultrapeer)
            .map(|(&id, _)| id)
            .filter(|&id| self.query_goes_to(id, keys, false))
            .collect();
        let next = d.with_header(1, d.hops.saturating_add(1));
        for &leaf in &leaves {
            self.send(leaf, next.clone(), Priority::RelayedBroadcast);
        }
        let n = leaves.len() as u32;
        self.count_traffic(d.guid, now, |t| t.queries += n);
        leaves.len()
    }

    /// Looks one hop ahead for a look-ahead walker standing here (it arrived from `from`;
    /// `None` at the requester): the Query (keyed `keys`) goes once to each ultrapeer neighbour other
    /// than `from` that supports walkers and whose query routing table may match, as a
    /// walker with no steps left and no look-ahead of its own (it answers, hands the
    /// Query to its own matching leaves, and goes no further; its hits come back along
    /// this walker's reverse path). Returns how many neighbours got it.
    pub(super) fn look_ahead(
        &mut self,
        now: Duration,
        from: Option<PeerId>,
        guid: Guid,
        query: &Query,
        tag: &WalkerTag,
        keys: &QueryKeys,
    ) -> usize {
        if self.config.role != Role::Ultrapeer || !self.config.walker_support {
            return 0;
        }
        let mut targets: Vec<(Option<Guid>, PeerId)> = self
            .peers
            .iter()
            .filter(|(&id, p)| Some(id) != from && p.info.ultrapeer && p.info.walker_support)
            .filter(|(&id, _)| self.qrp_table_of(id).is_some_and(|t| t.may_route(keys)))
            .map(|(&id, p)| (p.info.servent_id, id))
            .collect();
        if targets.is_empty() {
            return 0;
        }
        // Servent-ID order, as the walk's choices: the same sends whatever the link numbers.
        targets.sort_unstable();
        let path = self.walks.get(&guid, now).map_or(0, |n| n.path);
        let copy = WalkerTag {
            steps_left: 0,
            look_ahead: false,
            ..next_tag(tag, path)
        };
        let hops = u8::try_from(copy.steps).unwrap_or(u8::MAX);
        let d = Descriptor::new(guid, 1, hops, Payload::Query(copy.apply(query)));
        for &(_, peer) in &targets {
            self.send(peer, d.clone(), Priority::Reply);
        }
        let n = targets.len() as u32;
        self.stats.look_ahead_sends += u64::from(n);
        self.count_traffic(guid, now, |t| t.queries += n);
        targets.len()
    }

    /// Our QueryHits for a walker, the first time it reaches us: sent back to the
    /// neighbour it came from with TTL 1 (walker replies are routed by the reverse path,
    /// not by TTL).
    /// Each hit carries `RS`: the walker's number and steps here (the requester's
    /// "steps to first find"). Returns whether we had anything.
    fn answer_walker(
        &mut self,
        now: Duration,
        from: PeerId,
        guid: Guid,
        query: &Query,
        tag: &WalkerTag,
    ) -> bool {
        if !self.answers(query) {
            return false;
        }
        let limit = query.max_hits().map_or(DEFAULT_MAX_RESULTS, |n| n as usize);
        let files = self.shared.matcher.matches(query, limit);
        if files.is_empty() {
            return false;
        }
        self.stats.queries_answered += 1;
        let mut hits = self.build_query_hits(&files);
        let found = FindSteps {
            walker: tag.walker,
            steps: tag.steps,
        };
        for hit in &mut hits {
            found.apply(hit);
        }
        self.count_traffic(guid, now, |t| t.hits += hits.len() as u32);
        for hit in hits {
            let reply = Descriptor::new(guid, 1, 0, Payload::QueryHit(hit));
            self.send(from, reply, Priority::Reply);
        }
        true
    }

    /// Hands the walker that arrived with `tag` (from `sender`; `None` when we launch it)
    /// to one neighbour that supports walkers. Returns false when there is none (the
    /// walker ends).
    pub(super) fn step_walker(
        &mut self,
        now: Duration,
        guid: Guid,
        query: &Query,
        tag: WalkerTag,
        sender: Option<PeerId>,
    ) -> bool {
        // In servent-ID order (then link order): the choice then depends only on the RNG
        // and the neighbours, not on how the driver numbered the links.
        let mut candidates: Vec<(Option<Guid>, PeerId, u32)> = if self.config.walker_support {
            self.peers
                .iter()
                // Walkers walk the ultrapeers; a leaf would end them.
                .filter(|(_, p)| p.info.walker_support && p.info.ultrapeer)
                .map(|(id, p)| (p.info.servent_id, *id, p.info.degree.unwrap_or(1)))
                .collect()
        } else {
            Vec::new()
        };
        candidates.sort_unstable();
        let candidates: Vec<(PeerId, u32)> =
            candidates.into_iter().map(|(_, id, d)| (id, d)).collect();
        let (path, next) = match self.walks.get(&guid, now) {
            Some(node) => (
                node.path,
                choose_next(
                    &candidates,
                    sender,
                    &node.used,
                    tag.remember_neighbours,
                    tag.degree_bias,
                    self.rng.get(),
                ),
            ),
            None => (0, None),
        };
        let Some(next) = next else {
            self.stats.walkers_ended += 1;
            return false;
        };
        if tag.remember_neighbours {
            if let Some(node) = self.walks.get_mut(&guid, now) {
                if !node.used.contains(&next) {
                    node.used.push(next);
                }
            }
        }
        let sent_tag = next_tag(&tag, path);
        let hops = u8::try_from(sent_tag.steps).unwrap_or(u8::MAX);
        let d = Descriptor::new(guid, 1, hops, Payload::Query(sent_tag.apply(query)));
        let priority = if sender.is_none() {
            Priority::Own
        } else {
            // The only copy of this walker: as precious as a reply.
            Priority::Reply
        };
        self.send(next, d, priority);
        self.stats.walker_steps += 1;
        self.count_traffic(guid, now, |t| t.queries += 1);
        true
    }

    /// Holds the walker and sends a check request: directly by UDP when the walker
    /// carries its requester's address and we have a UDP port, else towards the
    /// requester along `up`, our reverse route.
    fn hold_for_check(
        &mut self,
        now: Duration,
        guid: Guid,
        query: Query,
        tag: WalkerTag,
        sender: PeerId,
        up: PeerId,
    ) {
        let direct = match ReplyAddr::find(&query) {
            Some(Ok(a)) if self.udp_addr.is_some() => Some(a.0),
            _ => None,
        };
        if let Some(to) = direct {
            if self.searching.held.len() >= self.config.max_held_walkers {
                self.stats.walkers_ended += 1;
                self.drop_from(sender, DropReason::Limit);
                return;
            }
            let path = self.walks.get(&guid, now).map_or(1, |n| n.path);
            let request = CheckMessage::Request {
                walker: tag.walker,
                steps: tag.steps,
                path,
            };
            if !self.send_datagram(to, check_descriptor(guid, 0, request), None) {
                return;
            }
            self.udp.stats.check_requests += 1;
            self.count_traffic(guid, now, |t| t.udp_checks += 1);
            let deadline = now
                + udp_check_wait(
                    self.hop_latency.per_hop_bound(),
                    self.config.min_search_timeout,
                );
            self.hold(guid, query, tag, sender, path, now, deadline, Some(to));
            return;
        }
        if self.searching.held.len() >= self.config.max_held_walkers
            || !self.peers.contains_key(&up)
        {
            self.stats.walkers_ended += 1;
            self.drop_from(
                sender,
                if self.peers.contains_key(&up) {
                    DropReason::Limit
                } else {
                    DropReason::NoRoute
                },
            );
            return;
        }
        let path = self.walks.get(&guid, now).map_or(1, |n| n.path);
        let request = CheckMessage::Request {
            walker: tag.walker,
            steps: tag.steps,
            path,
        };
        self.send(up, check_descriptor(guid, 0, request), Priority::Reply);
        self.count_traffic(guid, now, |t| t.checks += 1);
        // The request travels `path` hops up, the verdict `path` hops back.
        let wait = (self.hop_latency.per_hop_bound() * 2 * u32::from(path.max(1)))
            .max(self.config.min_search_timeout);
        self.hold(guid, query, tag, sender, path, now, now + wait, None);
    }

    /// Keeps the walker until its verdict, or `deadline`.
    #[allow(clippy::too_many_arguments)]
    fn hold(
        &mut self,
        guid: Guid,
        query: Query,
        tag: WalkerTag,
        sender: PeerId,
        path: u16,
        now: Duration,
        deadline: Duration,
        via_udp: Option<SocketAddrV4>,
    ) {
        let key = WalkerKey {
            query: guid,
            walker: tag.walker,
        };
        self.searching.held.insert(
            key,
            HeldWalker {
                query,
                tag,
                sender,
                path,
                sent_at: now,
                deadline,
                via_udp,
            },
        );
        self.timers.insert(Deadline {
            at: deadline,
            timer: Timer::Walker(key),
        });
    }

    /// A held walker's verdict did not come in time. After a direct check, ask along the
    /// reverse path instead, the walker's `RA` removed (it would only cost the next holder
    /// the same wait, and an address that never answers gets at most one datagram per
    /// walker); after a reverse-path check, the requester is gone: the walker ends.
    pub(super) fn on_check_timeout(&mut self, now: Duration, key: WalkerKey) {
        let Some(h) = self.searching.held.remove(&key) else {
            return;
        };
        if h.via_udp.is_some() {
            self.udp.stats.fallbacks += 1;
            let origin = self.query_routes.get(&key.query, now).map(|r| r.origin);
            let query = ReplyAddr::strip(&h.query);
            match origin {
                Some(Origin::Peer(up)) => {
                    return self.hold_for_check(now, key.query, query, h.tag, h.sender, up)
                }
                _ => {
                    self.stats.walkers_ended += 1;
                    return;
                }
            }
        }
        // The requester did not answer: it is gone, or the reverse path broke, so hits
        // could not reach it either. The walker ends.
        self.stats.walker_check_timeouts += 1;
        self.stats.walkers_ended += 1;
    }

    /// A check message by UDP from `from`, `budget` bytes long: a request to us as a
    /// walk's requester (answered by UDP to its source, never bigger than it), or a
    /// verdict for a walker we hold (only from the address we asked).
    pub(super) fn on_udp_check(
        &mut self,
        now: Duration,
        from: SocketAddrV4,
        guid: Guid,
        m: CheckMessage,
        budget: Option<usize>,
    ) {
        let key = WalkerKey {
            query: guid,
            walker: m.walker(),
        };
        match m {
            CheckMessage::Request {
                walker,
                steps,
                path,
            } => {
                let ours = self.walks.contains(&guid, now)
                    && self.query_routes.get(&guid, now).map(|r| r.origin) == Some(Origin::Local);
                if !ours {
                    self.udp.stats.ignored += 1;
                    return;
                }
                let answer = self.answer_check(now, guid, walker, steps, path);
                let verdict = CheckMessage::Verdict {
                    walker,
                    go_on: answer.go_on,
                    hits: answer.hits,
                };
                if self.send_datagram(from, check_descriptor(guid, 0, verdict), budget) {
                    self.udp.stats.verdicts_sent += 1;
                    self.count_traffic(guid, now, |t| t.udp_checks += 1);
                }
            }
            CheckMessage::Verdict { go_on, .. } => {
                let ok = self
                    .searching
                    .held
                    .get(&key)
                    .is_some_and(|h| h.via_udp == Some(from));
                if !ok {
                    self.udp.stats.ignored += 1;
                    return;
                }
                self.udp.stats.verdicts_received += 1;
                if let Some(h) = self.searching.held.remove(&key) {
                    if go_on {
                        self.step_walker(now, guid, &h.query, h.tag, Some(h.sender));
                    } else {
                        self.stats.walkers_ended += 1;
                    }
                }
            }
        }
    }

    /// A check request or verdict from a peer that supports walkers.
    pub(super) fn on_check(
        &mut self,
        now: Duration,
        from: PeerId,
        d: &Descriptor,
        m: CheckMessage,
    ) {
        let guid = d.guid;
        let hops = d.hops.saturating_add(1);
        let key = WalkerKey {
            query: guid,
            walker: m.walker(),
        };
        match m {
            CheckMessage::Request {
                walker,
                steps,
                path,
            } => {
                let origin = if self.walks.contains(&guid, now) {
                    self.query_routes.get(&guid, now).map(|r| r.origin)
                } else {
                    None
                };
                match origin {
                    Some(Origin::Local) => {
                        let answer = self.answer_check(now, guid, walker, steps, path);
                        let verdict = CheckMessage::Verdict {
                            walker,
                            go_on: answer.go_on,
                            hits: answer.hits,
                        };
                        self.send(from, check_descriptor(guid, 0, verdict), Priority::Own);
                        self.count_traffic(guid, now, |t| t.checks += 1);
                    }
                    Some(Origin::Peer(up)) if self.peers.contains_key(&up) => {
                        self.check_routes.put(key, from, now);
                        self.stats.routed += 1;
                        self.send(up, check_descriptor(guid, hops, m), Priority::Reply);
                        self.count_traffic(guid, now, |t| t.checks += 1);
                    }
                    _ => self.drop_from(from, DropReason::NoRoute),
                }
            }
            CheckMessage::Verdict { go_on, .. } => {
                // A path verdict for a walker we asked by UDP: not ours to take (the
                // walker waits for the datagram, or its fallback's own verdict).
                let by_path = self
                    .searching
                    .held
                    .get(&key)
                    .is_some_and(|h| h.via_udp.is_none());
                if let Some(h) = by_path.then(|| self.searching.held.remove(&key)).flatten() {
                    self.hop_latency
                        .sample_path(now.saturating_sub(h.sent_at), 2 * u32::from(h.path.max(1)));
                    if go_on {
                        self.step_walker(now, guid, &h.query, h.tag, Some(h.sender));
                    } else {
                        self.stats.walkers_ended += 1;
                    }
                    return;
                }
                match self.check_routes.remove(&key, now) {
                    Some(down) if self.peers.contains_key(&down) => {
                        self.stats.routed += 1;
                        self.send(down, check_descriptor(guid, hops, m), Priority::Reply);
                        self.count_traffic(guid, now, |t| t.checks += 1);
                    }
                    _ => self.drop_from(from, DropReason::NoRoute),
                }
            }
        }
    }

    /// A QueryHit for a walker query: delivered if ours, else one hop further along the
    /// reverse path (TTL stays 1, hops count up).
    pub(super) fn on_walker_hit(&mut self, now: Duration, from: PeerId, d: Descriptor) {
        let Payload::QueryHit(hit) = &*d.payload else {
            return;
        };
        let origin = self.query_routes.get(&d.guid, now).map(|r| r.origin);
        if origin.is_some() {
            self.push_routes.put(hit.servent_id, from, now);
        }
        let hops = d.hops.saturating_add(1);
        match origin {
            Some(Origin::Local) => {
                let hit = hit.clone();
                self.deliver_hit(now, from, d.guid, hit, hops);
            }
            Some(Origin::Peer(up)) if self.peers.contains_key(&up) => {
                self.stats.routed += 1;
                let next = d.with_header(1, hops);
                self.send(up, next, Priority::Reply);
                self.count_traffic(d.guid, now, |t| t.hits += 1);
            }
            _ => self.drop_from(from, DropReason::NoRoute),
        }
    }
}

/// How long a holder waits for a direct verdict: one hop there and one back at the hop
/// bound, and at least the search floor (a datagram crosses no relays, but may be lost).
pub(crate) fn udp_check_wait(per_hop: Duration, floor: Duration) -> Duration {
    (per_hop * 2).max(floor)
}

/// A check message as a descriptor: the walker query's ID, TTL 1, `hops` travelled.
fn check_descriptor(guid: Guid, hops: u8, m: CheckMessage) -> Descriptor {
    Descriptor::new(
        guid,
        1,
        hops,
        Payload::Opaque {
            kind: PayloadType::Vendor,
            bytes: m.encode(),
        },
    )
}
