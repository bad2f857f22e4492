//! The servent state machine: routing, duplicate suppression, TTL/hops rules, answering
//! Pings and Queries. Inputs are `handle_*` calls and local requests; outputs are drained
//! with `poll_transmit`, `poll_event` and `poll_timeout`. Flooded Queries (first copies,
//! better-TTL copies) and our QueryHits are in `servent/flood.rs`; searches with a strategy
//! (`search`, timers, costs) live in `servent/search.rs`; walkers and checks in
//! `servent/walker.rs`; the records they all keep in `servent/state.rs`, the lazily boxed
//! search state in `servent/searching.rs`.

mod dq;
mod flood;
mod pings;
mod qrp;
mod search;
mod searching;
mod state;
mod udp;
mod walker;

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;

use crate::proto::limits::HARD_MAX_TTL;
use crate::proto::payload::query::QUERY_FLAG_FIREWALLED;
use crate::proto::payload::{Bye, Ping, Push, Query};
use crate::proto::{DecodeError, Descriptor, Guid, Payload, PayloadType};

use super::config::Config;
use super::event::{Event, Priority, Transmit};
use super::expiring::ExpiringMap;
use super::lazy::Lazy;
use super::matcher::SharedFiles;
use super::peer::{bump, Peer, PeerId, PeerInfo, PeerMap};
use super::pong_cache::PongCache;
use super::seeded::SeededRng;
use super::stats::{DropReason, Stats};
use super::strategy::{HopLatency, QueryTraffic};
use crate::proto::walker::{CheckMessage, WalkerTag};

pub use flood::MAX_BETTER_TTL_RELAYS;
pub use qrp::MERGED_TABLE_INTERVAL;
use searching::Searching;
pub use state::Origin;
use state::{Deadline, QueryRoute, WalkNode, WalkerKey};
pub use udp::UdpStats;

/// Own pings remembered to measure hop latency from their Pongs.
const OWN_PINGS_CAPACITY: usize = 1024;

/// One servent's sans-IO core: its links, route tables, duplicate caches, searches and
/// counters. Deterministic for a given [`Config::seed`] and sequence of inputs.
pub struct Servent {
    config: Config,
    rng: SeededRng,
    /// A second stream of the same seed, for the IDs of upkeep Pings (keep-alives,
    /// discovery): how many of those a link's timing caused never shifts a search's
    /// random choices, so a seeded search is the same over TCP and in the simulator.
    upkeep_rng: SeededRng,
    peers: PeerMap,
    /// Ping GUID -> origin. Doubles as the Ping duplicate cache: a GUID is a duplicate
    /// exactly when it has a live entry.
    ping_routes: ExpiringMap<Guid, Origin>,
    /// Query GUID -> origin and per-query traffic; also the Query duplicate cache.
    query_routes: ExpiringMap<Guid, QueryRoute>,
    /// Push GUIDs seen (duplicate cache for Pushes).
    push_seen: ExpiringMap<Guid, Origin>,
    /// Servent ID -> the peer its QueryHits came from: where Pushes for it go.
    push_routes: ExpiringMap<Guid, PeerId>,
    transmits: VecDeque<Transmit>,
    /// Where `relay_query` gathers a Query's next hops, kept so relaying does not allocate.
    relay_targets: Vec<PeerId>,
    events: VecDeque<Event>,
    stats: Stats,
    /// What answers Queries, and the totals our Pongs advertise.
    shared: SharedFiles,
    /// Our searches, walkers held for a verdict and dynamic queries: allocated when first
    /// used (a servent that only relays never does).
    searching: Lazy<Searching>,
    /// Search deadlines and held-walker check deadlines; stale entries are skipped.
    timers: BTreeSet<Deadline>,
    /// Walker query GUID -> our reverse path length and where we sent its walkers.
    walks: ExpiringMap<Guid, WalkNode>,
    /// (query GUID, walker number) -> the neighbour a check request came from: where the
    /// verdict goes.
    check_routes: ExpiringMap<WalkerKey, PeerId>,
    hop_latency: HopLatency,
    /// Our Pings' send times (hop latency samples from their Pongs).
    own_pings: ExpiringMap<Guid, Duration>,
    /// Recent Pongs, answering Pings without flooding them (`servent/pings.rs`).
    pong_cache: PongCache,
    /// When we last pinged all neighbours for hosts, ms (`pings::NEVER_MS`: never).
    last_discovery_ms: u64,
    /// Query routing tables: received per neighbour, ours, what each neighbour has of
    /// ours (`servent/qrp.rs`).
    qrp: Lazy<qrp::QrpState>,
    /// Our UDP address (`None`: no port); datagrams to send and UDP counters (`udp.rs`).
    udp_addr: Option<std::net::SocketAddrV4>,
    udp: Lazy<udp::UdpState>,
}

impl Servent {
    /// A servent with no links, empty route tables, nothing shared and its RNG seeded from
    /// `config.seed`.
    pub fn new(config: Config) -> Servent {
        let cap = config.route_table_capacity;
        Servent {
            rng: SeededRng::new(config.seed, 0),
            upkeep_rng: SeededRng::new(config.seed, 1),
            peers: PeerMap::default(),
            ping_routes: ExpiringMap::new(config.ping_route_ttl, cap),
            query_routes: ExpiringMap::new(config.query_route_ttl, cap),
            push_seen: ExpiringMap::new(config.push_route_ttl, cap),
            push_routes: ExpiringMap::new(config.push_route_ttl, cap),
            transmits: VecDeque::new(),
            relay_targets: Vec::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            shared: SharedFiles::default(),
            searching: Lazy::default(),
            timers: BTreeSet::new(),
            walks: ExpiringMap::new(config.query_route_ttl, cap),
            check_routes: ExpiringMap::new(config.query_route_ttl, cap),
            hop_latency: HopLatency::new(config.hop_latency_hint),
            own_pings: ExpiringMap::new(config.ping_route_ttl, OWN_PINGS_CAPACITY),
            pong_cache: PongCache::new(config.pong_cache_capacity, config.pong_cache_lifespan),
            last_discovery_ms: pings::NEVER_MS,
            qrp: Lazy::default(),
            udp_addr: None,
            udp: Lazy::default(),
            config,
        }
    }

    /// The settings it runs with (the advertised address as last set).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Our role in the two-tier network (ultrapeer or leaf).
    pub fn role(&self) -> crate::core::Role {
        self.config.role
    }

    /// Changes our role (an `auto` servent promoted or told to become a leaf). The driver
    /// closes the links the new role may not keep.
    pub fn set_role(&mut self, role: crate::core::Role) {
        self.config.role = role;
    }

    /// Whether our QueryHits say we are firewalled (their push flag).
    pub fn firewalled(&self) -> bool {
        self.config.firewalled
    }

    /// Sets whether we are firewalled: the QueryHits we send from now on set the push
    /// flag accordingly (the driver decides, from its setting or what it saw).
    pub fn set_firewalled(&mut self, firewalled: bool) {
        self.config.firewalled = firewalled;
    }

    /// Our own Query says we are firewalled when we are (its flags word's firewalled bit,
    /// as gtk-gnutella sets it): a firewalled responder then does not answer, since
    /// neither of us could connect to the other.
    fn mark_firewalled(&self, mut query: Query) -> Query {
        if self.config.firewalled && query.has_flags_word() {
            query.flags |= QUERY_FLAG_FIREWALLED;
        }
        query
    }

    /// Whether we answer `query`: not when both it and we are firewalled.
    fn answers(&self, query: &Query) -> bool {
        !(self.config.firewalled
            && query.has_flags_word()
            && query.flags & QUERY_FLAG_FIREWALLED != 0)
    }

    /// Our servent ID, as sent in QueryHit trailers and the `GUID:` header.
    pub fn servent_id(&self) -> Guid {
        self.config.servent_id
    }

    /// Counters over all links since start: descriptors by type, routed, dropped by reason.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The open link `id` with its handshake info and counters; `None` once closed.
    pub fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(&id)
    }

    /// Every open link, in `PeerId` order.
    pub fn peers(&self) -> impl Iterator<Item = (PeerId, &Peer)> {
        self.peers.iter().map(|(id, p)| (*id, p))
    }

    /// How many links are open.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Sets what answers Queries, and the totals advertised in our Pongs.
    pub fn set_matcher(&mut self, shared: SharedFiles) {
        self.shared = shared;
        // Our table is rebuilt from the new matcher when next needed; `check_shared`
        // sends the patches to ultrapeers already linked.
        if let Some(q) = self.qrp.existing_mut() {
            q.invalidate_own();
        }
    }

    /// Sets the address advertised in Pongs and QueryHits (known once we listen).
    pub fn set_advertised_addr(&mut self, ip: std::net::Ipv4Addr, port: u16) {
        self.config.ip = ip;
        self.config.port = port;
    }

    /// A random GUID from the core's seeded RNG.
    pub fn new_guid(&mut self) -> Guid {
        Guid::from_rng(self.rng.get())
    }

    /// A random GUID for an upkeep Ping, from the upkeep stream.
    pub(crate) fn new_upkeep_guid(&mut self) -> Guid {
        Guid::from_rng(self.upkeep_rng.get())
    }

    /// The core's seeded RNG, for a driver's choices that must stay reproducible.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        self.rng.get()
    }

    /// Restarts the seeded RNG as `ChaCha8Rng::seed_from_u64(seed)` would, without building
    /// the generator until it is drawn from: the simulator reseeds every servent a query
    /// reaches, and most of them (flood relays) never draw.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = SeededRng::new(seed, 0);
    }

    /// Heap bytes this servent holds, estimated from its collections' sizes: route and
    /// duplicate tables, links, random generators, pong cache, transmit and event queues,
    /// and the search and query routing state by its own size once allocated (not the
    /// searches, walkers or tables it then holds). Add `size_of::<Servent>()` for the
    /// whole cost.
    pub fn heap_bytes_estimate(&self) -> usize {
        use std::mem::size_of;
        let tables = self.ping_routes.heap_bytes()
            + self.query_routes.heap_bytes()
            + self.push_seen.heap_bytes()
            + self.push_routes.heap_bytes()
            + self.walks.heap_bytes()
            + self.check_routes.heap_bytes()
            + self.own_pings.heap_bytes();
        let peers = self.peers.heap_bytes();
        let rngs = self.rng.heap_bytes() + self.upkeep_rng.heap_bytes();
        let lazy = usize::from(self.qrp.is_allocated()) * size_of::<qrp::QrpState>()
            + usize::from(self.searching.is_allocated()) * size_of::<Searching>()
            + usize::from(self.udp.is_allocated()) * size_of::<udp::UdpState>();
        let queues = self.pong_cache.heap_bytes()
            + self.transmits.capacity() * size_of::<Transmit>()
            + self.events.capacity() * size_of::<Event>()
            + self.relay_targets.capacity() * size_of::<PeerId>();
        tables + peers + rngs + lazy + queues
    }

    // ---- inputs ------------------------------------------------------------------------

    /// A link finished its handshake: descriptors may now come from and go to `peer`, with a
    /// full Ping burst. A `peer` already open is replaced (its counters start over).
    pub fn handle_connected(&mut self, now: Duration, peer: PeerId, info: PeerInfo) {
        if let Some(q) = self.qrp.existing_mut() {
            q.forget(peer);
        }
        self.peers
            .insert(peer, Peer::new(now, info, self.config.ping_burst));
        self.qrp_on_connected(peer);
    }

    /// The link is gone. Routes through it die with it (checked on lookup).
    pub fn handle_closed(&mut self, _now: Duration, peer: PeerId) {
        self.peers.remove(&peer);
        if let Some(q) = self.qrp.existing_mut() {
            q.forget(peer);
        }
    }

    /// A frame from `peer` failed to decode (framing was intact): count and drop it.
    pub fn handle_malformed(&mut self, _now: Duration, peer: PeerId, error: &DecodeError) {
        let reason = match error {
            DecodeError::TooLong { .. } => DropReason::Limit,
            _ => DropReason::Malformed,
        };
        log::debug!("peer {}: dropped malformed descriptor: {error}", peer.0);
        self.drop_from(peer, reason);
    }

    /// A descriptor from `from`: applies the TTL, duplicate and rate rules, answers, relays
    /// or routes it, or drops it (counted by reason). Ignored from a link not open.
    pub fn handle_descriptor(&mut self, now: Duration, from: PeerId, d: Descriptor) {
        let kind = d.payload_type();
        let walkers = match self.peers.get_mut(&from) {
            Some(p) => {
                self.stats.received[kind.index()] += 1;
                bump(&mut p.received[kind.index()]);
                p.info.walker_support && self.config.walker_support
            }
            None => return, // a descriptor from a link we never opened (or closed): ignore
        };
        match kind {
            PayloadType::Bye => {
                if let Payload::Bye(bye) = &*d.payload {
                    let bye = bye.clone();
                    self.events.push_back(Event::Bye { peer: from, bye });
                }
                return;
            }
            PayloadType::Vendor if self.on_query_status(now, from, &d) => return,
            // Our check exchange, only with peers that announced walker support.
            PayloadType::Vendor if walkers => {
                if let Payload::Opaque { bytes, .. } = &*d.payload {
                    // Not one of ours, or malformed: ignored like any other vendor
                    // message (hop-local, never answered).
                    if let Ok(m) = CheckMessage::decode(bytes) {
                        self.on_check(now, from, &d, m);
                    }
                }
                return;
            }
            PayloadType::Qrp => {
                if let Payload::Opaque { bytes, .. } = &*d.payload {
                    self.on_qrp(now, from, bytes);
                }
                return;
            }
            // Hop-local messages we do not act on: tolerated, never forwarded.
            PayloadType::Vendor | PayloadType::StandardVendor => return,
            // Walker replies travel the walker's reverse path, whatever their TTL.
            // (from a leaf too, walker-aware or not: an ultrapeer hands walkers to leaves)
            PayloadType::QueryHit if self.walks.contains(&d.guid, now) => {
                self.on_walker_hit(now, from, d);
                return;
            }
            PayloadType::Query if walkers => {
                if let Payload::Query(q) = &*d.payload {
                    match WalkerTag::find(q) {
                        None => {}
                        Some(Ok(tag)) => return self.on_walker(now, from, d, tag),
                        Some(Err(_)) => return self.drop_from(from, DropReason::Malformed),
                    }
                }
            }
            _ => {}
        }
        let Some(ttl) = self.arrival_ttl(from, &d) else {
            return;
        };
        match *d.payload {
            Payload::Ping(_) => self.on_ping(now, from, d, ttl),
            Payload::Pong(_) => self.on_pong(now, from, d, ttl),
            Payload::Query(_) => self.on_query(now, from, d, ttl),
            Payload::QueryHit(_) => self.on_query_hit(now, from, d, ttl),
            Payload::Push(_) => self.on_push(now, from, d, ttl),
            Payload::Bye(_) | Payload::Opaque { .. } => {}
        }
    }

    /// Expires route and duplicate entries; ends rings, searches and unanswered checks
    /// whose time has come.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.ping_routes.expire(now);
        self.query_routes.expire(now);
        self.push_seen.expire(now);
        self.push_routes.expire(now);
        self.walks.expire(now);
        self.check_routes.expire(now);
        self.own_pings.expire(now);
        self.pong_cache.expire(now);
        self.qrp_on_timeout(now);
        self.fire_timers(now);
    }

    // ---- local requests ----------------------------------------------------------------

    /// Sends a Ping from us with `ttl` (clamped to the configured maximum) to every
    /// neighbour: with pong caching they answer from their caches and do not relay it;
    /// without, it floods. Returns its GUID.
    pub fn ping(&mut self, now: Duration, ttl: u8) -> Guid {
        let guid = self.new_guid();
        self.ping_routes.put(guid, Origin::Local, now);
        self.own_pings.put(guid, now, now);
        let d = Descriptor::new(
            guid,
            self.clamp_own_ttl(ttl),
            0,
            Payload::Ping(Ping::default()),
        );
        self.send_to_all(None, d, Priority::Own);
        guid
    }

    /// Sends a keep-alive Ping with TTL 1 to one peer.
    pub fn ping_peer(&mut self, now: Duration, peer: PeerId) -> Guid {
        let guid = self.new_upkeep_guid();
        self.ping_routes.put(guid, Origin::Local, now);
        self.own_pings.put(guid, now, now);
        let d = Descriptor::new(guid, 1, 0, Payload::Ping(Ping::default()));
        self.send(peer, d, Priority::Own);
        guid
    }

    /// Floods a Query from us with `ttl` (clamped). Returns its GUID; hits come back as
    /// [`Event::QueryHit`]. No search record, timer or `SearchDone`: for those (and for
    /// the other strategies) use [`Servent::search`].
    pub fn query(&mut self, now: Duration, query: Query, ttl: u8) -> Guid {
        let query = self.mark_firewalled(query);
        let guid = self.new_guid();
        let ttl = self.clamp_own_ttl(ttl);
        self.flood_own_query(now, guid, ttl, query);
        guid
    }

    /// Records our own route for `guid` (with what we send for it) and floods the Query:
    /// to every ultrapeer neighbour, and to the leaves whose tables may match.
    pub(crate) fn flood_own_query(&mut self, now: Duration, guid: Guid, ttl: u8, query: Query) {
        let d = Descriptor::new(guid, ttl, 0, Payload::Query(query));
        let sent = self.relay_query(None, &d, ttl, true);
        let route = QueryRoute {
            origin: Origin::Local,
            traffic: QueryTraffic {
                queries: sent,
                local: true,
                ..QueryTraffic::default()
            },
            flood_ttl: None,
            better_relays: 0,
        };
        self.query_routes.put(guid, route, now);
    }

    /// What we sent for query `guid` and the duplicates we received (while its route
    /// entry lives). Summed over servents: the exact network-wide cost of a query.
    pub fn query_traffic(&self, guid: &Guid, now: Duration) -> Option<QueryTraffic> {
        self.query_routes.get(guid, now).map(|r| r.traffic)
    }

    /// Per-query counters, most recent query first (for `/status`; take as many as
    /// wanted).
    pub fn query_counters(&self, now: Duration) -> impl Iterator<Item = (Guid, QueryTraffic)> + '_ {
        self.query_routes
            .iter_newest(now)
            .map(|(g, r)| (*g, r.traffic))
    }

    /// The one-hop delay the core has measured (or assumed, before any sample).
    pub fn hop_latency(&self) -> &HopLatency {
        &self.hop_latency
    }

    /// Sends a Push towards the servent that announced `push.servent_id` in a QueryHit.
    /// Returns false when no route is known.
    pub fn push(&mut self, now: Duration, push: Push) -> bool {
        let Some(peer) = self.push_route(&push.servent_id, now) else {
            return false;
        };
        let guid = self.new_guid();
        self.push_seen.put(guid, Origin::Local, now);
        let ttl = self.config.max_ttl;
        self.send(
            peer,
            Descriptor::new(guid, ttl, 0, Payload::Push(push)),
            Priority::Own,
        );
        true
    }

    /// Sends a Bye to `peer` if it announced support; returns whether one was queued.
    pub fn bye(&mut self, peer: PeerId, code: u16, reason: &str) -> bool {
        if !self.peers.get(&peer).is_some_and(|p| p.info.bye_supported) {
            return false;
        }
        let guid = self.new_guid();
        let bye = Bye {
            code,
            reason: reason.to_owned(),
        };
        self.send(
            peer,
            Descriptor::new(guid, 1, 0, Payload::Bye(bye)),
            Priority::Own,
        );
        true
    }

    // ---- outputs -----------------------------------------------------------------------

    /// The next descriptor to send, oldest first; `None` when nothing is queued.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event for the driver, oldest first; `None` when nothing is queued.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Servent::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Duration> {
        [
            self.timers.first().map(|t| t.at),
            self.ping_routes.next_expiry(),
            self.query_routes.next_expiry(),
            self.push_seen.next_expiry(),
            self.push_routes.next_expiry(),
            self.qrp.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- routing -----------------------------------------------------------------------

    /// Applies the TTL rules on arrival and returns the TTL to work with, or drops.
    /// TTL 0 is expired; a TTL, or TTL + hops, above 15 is dropped (as gtk-gnutella
    /// does: no honest servent lets a descriptor travel that far); TTL + hops above the
    /// configured maximum is lowered so the sum equals it (0.6 §2.2.4). TTL is never
    /// raised.
    fn arrival_ttl(&mut self, from: PeerId, d: &Descriptor) -> Option<u8> {
        if d.ttl > HARD_MAX_TTL || u16::from(d.ttl) + u16::from(d.hops) > u16::from(HARD_MAX_TTL) {
            self.drop_from(from, DropReason::TtlTooHigh);
            return None;
        }
        let ttl = if d.ttl as u16 + d.hops as u16 > self.config.max_ttl as u16 {
            self.config.max_ttl.saturating_sub(d.hops)
        } else {
            d.ttl
        };
        // A leaf answers what its ultrapeer routes to it and relays nothing: the clamp
        // would expire a Query its ultrapeer sent on the flood's last hop.
        let leaf_query = self.config.role == crate::core::Role::Leaf
            && d.payload_type() == PayloadType::Query
            && d.ttl >= 1;
        if ttl == 0 && leaf_query {
            return Some(1);
        }
        if ttl == 0 {
            self.drop_from(from, DropReason::TtlExpired);
            return None;
        }
        Some(ttl)
    }

    fn on_query_hit(&mut self, now: Duration, from: PeerId, d: Descriptor, ttl: u8) {
        let origin = self.query_routes.get(&d.guid, now).map(|r| r.origin);
        let Payload::QueryHit(hit) = &*d.payload else {
            return;
        };
        if origin.is_some() {
            // Pushes for this servent go back the way its hit came.
            self.push_routes.put(hit.servent_id, from, now);
        }
        if origin == Some(Origin::Local) {
            let hit = hit.clone();
            self.deliver_hit(now, from, d.guid, hit, d.hops.saturating_add(1));
            return;
        }
        let guid = d.guid;
        self.dq_count_routed_hit(guid, hit.results.len());
        if self.route_reply(from, d, ttl, origin) {
            self.count_traffic(guid, now, |t| t.hits += 1);
        }
    }

    /// Adds to what we sent for query `guid` (nothing when its route entry is gone).
    fn count_traffic(&mut self, guid: Guid, now: Duration, f: impl FnOnce(&mut QueryTraffic)) {
        if let Some(r) = self.query_routes.get_mut(&guid, now) {
            f(&mut r.traffic);
        }
    }

    fn on_push(&mut self, now: Duration, from: PeerId, d: Descriptor, ttl: u8) {
        if !self.push_seen.insert_new(d.guid, Origin::Peer(from), now) {
            self.drop_duplicate(from);
            return;
        }
        let Payload::Push(push) = &*d.payload else {
            return;
        };
        if push.servent_id == self.config.servent_id {
            let push = push.clone();
            self.events.push_back(Event::PushRequest { from, push });
            return;
        }
        // Never back to its sender: that would bounce it between two servents.
        let target = self
            .push_route(&push.servent_id, now)
            .filter(|p| *p != from);
        self.route_reply(from, d, ttl, target.map(Origin::Peer));
    }

    /// Where a Push for `servent_id` goes: the open link its QueryHits came from, else a
    /// neighbour whose handshake gave that servent ID (a leaf of ours, say, once its
    /// hit's route expired; gtk-gnutella routes Pushes to its leaves by their GUID too).
    fn push_route(&self, servent_id: &Guid, now: Duration) -> Option<PeerId> {
        self.push_routes
            .get(servent_id, now)
            .copied()
            .filter(|p| self.peers.contains_key(p))
            .or_else(|| {
                self.peers
                    .iter()
                    .find(|(_, p)| p.info.servent_id.as_ref() == Some(servent_id))
                    .map(|(id, _)| *id)
            })
    }

    /// Forwards a reply one hop back along its route, or drops it. Returns whether it
    /// was sent.
    fn route_reply(&mut self, from: PeerId, d: Descriptor, ttl: u8, route: Option<Origin>) -> bool {
        let next = match route {
            Some(Origin::Peer(p)) if self.peers.contains_key(&p) => p,
            Some(Origin::Local) => return false, // delivered (as an event) by the caller
            _ => {
                self.drop_from(from, DropReason::NoRoute);
                return false;
            }
        };
        if ttl <= 1 {
            self.drop_from(from, DropReason::TtlExpired);
            return false;
        }
        self.stats.routed += 1;
        self.send(next, d.next_hop(ttl), Priority::Reply);
        true
    }

    /// Floods a broadcast we accepted to every peer but its sender, one hop on.
    fn relay_broadcast(&mut self, from: PeerId, d: Descriptor, ttl: u8) {
        if ttl <= 1 || self.peers.len() <= 1 {
            return;
        }
        self.stats.routed += 1;
        self.send_to_all(Some(from), d.next_hop(ttl), Priority::RelayedBroadcast);
    }

    fn send_to_all(&mut self, except: Option<PeerId>, d: Descriptor, priority: Priority) {
        let kind = d.payload_type().index();
        for (&id, peer) in self.peers.iter_mut() {
            if Some(id) == except {
                continue;
            }
            bump(&mut peer.sent[kind]);
            self.stats.sent[kind] += 1;
            self.transmits.push_back(Transmit {
                peer: id,
                descriptor: d.clone(),
                priority,
            });
        }
    }

    fn send(&mut self, peer: PeerId, d: Descriptor, priority: Priority) {
        let kind = d.payload_type().index();
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        bump(&mut p.sent[kind]);
        self.stats.sent[kind] += 1;
        self.transmits.push_back(Transmit {
            peer,
            descriptor: d,
            priority,
        });
    }

    /// A reply must travel as far as the request came: received hops + 1.
    fn reply_ttl(&self, hops: u8) -> u8 {
        hops.saturating_add(1).min(self.config.max_ttl.max(1))
    }

    fn clamp_own_ttl(&self, ttl: u8) -> u8 {
        ttl.clamp(1, self.config.max_ttl.max(1))
    }

    fn drop_duplicate(&mut self, from: PeerId) {
        if let Some(p) = self.peers.get_mut(&from) {
            bump(&mut p.duplicates);
        }
        self.drop_from(from, DropReason::Duplicate);
    }

    fn drop_from(&mut self, from: PeerId, reason: DropReason) {
        self.stats.dropped[reason.index()] += 1;
        if let Some(p) = self.peers.get_mut(&from) {
            bump(&mut p.dropped);
        }
    }
}
