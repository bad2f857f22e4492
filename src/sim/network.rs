//! The simulated network: one [`Servent`] per graph node, a global event queue over
//! virtual time, and message delivery with link latency. Node `i` knows neighbour `j` as
//! `PeerId(j)`. Everything is deterministic for a given graph, configs and seed: each
//! servent receives the descriptors due at one instant in the order they were scheduled.
//!
//! Servents are built up front ([`Network::new`]) or, for big networks, lazily
//! ([`Network::lazy`]): a servent is created, with a link open to each of its graph
//! neighbours, the first time it receives traffic, so memory follows the servents the
//! queries reach. The graph is shared (an `Arc`): threads that each run a network do not
//! copy it. Deliveries wait in `sim::queue`, timers (search deadlines, route expiry) in a
//! heap; the next event is the earlier of the two heads by (time, sequence number).
//!
//! Per-query accounting for the experiments lives here too, because only the driver sees
//! every delivery: descriptors sent by type, deliveries per servent (load), and the number
//! of distinct servents a Query reached since [`Network::begin_query_epoch`].

use std::cell::OnceCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::core::{Config, Event, PeerId, PeerInfo, Servent, SharedFiles, Transmit};
use crate::proto::{Descriptor, PayloadType};

use super::datagrams::{datagram_source, encoded, sim_udp_addr, SimDatagrams, DATAGRAM};
pub(super) use super::latency::mix;
pub use super::latency::Latency;
use super::latency::{draw_delay, queue_for};
use super::links::{link_info, with_role};
use super::queue::{nanos, prefetch_all, Deliveries, Delivery, PREFETCH_AHEAD};
use super::sessions::Sessions;
use crate::topology::Graph;

/// A servent's index in the network, `0..n`: its graph node (neighbours know it as
/// `PeerId(node)`).
pub type NodeId = usize;

/// A record of one transmitted descriptor (kept only when tracing is on).
#[derive(Debug, Clone)]
pub struct TraceEntry {
    /// Virtual time it was put on the link.
    pub at: Duration,
    /// The sending servent.
    pub from: NodeId,
    /// The receiving servent.
    pub to: NodeId,
    /// The descriptor as sent (TTL and hops for this hop).
    pub descriptor: Descriptor,
}

/// Which servents' events are kept for [`Network::take_events`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventFilter {
    All,
    Only(NodeId),
    None,
}

/// What a lazily built network ([`Network::lazy`]) asks about each servent it creates.
/// Both must be pure: a servent's configuration is asked again for each neighbour that
/// links to it (for what its handshake would announce), and a servent dropped between
/// queries ([`Network::drop_servents`]) is built again from the same answers.
pub trait ServentFactory: Send + Sync {
    /// The core configuration of servent `node` (its role is set from the graph).
    fn config(&self, node: NodeId) -> Config;
    /// What servent `node` shares, if anything.
    fn shared(&self, node: NodeId) -> Option<SharedFiles>;
    /// Whether a flat overlay's ultrapeers exchange query routing tables (two tiers do).
    fn ultrapeer_tables(&self) -> bool {
        false
    }
}

/// No timer pending for a servent (in [`Slot::next_timer`]).
pub(super) const NO_TIMER: u64 = u64::MAX;

/// What the network keeps per servent, in one place a delivery reads (24 bytes).
pub(super) struct Slot {
    /// Empty until the servent is first needed (lazy networks).
    pub(super) servent: OnceCell<Box<Servent>>,
    /// The servent's earliest timer in the heap, in ns ([`NO_TIMER`]: none).
    pub(super) next_timer: u64,
    /// Query epoch the servent last received a Query in (see `begin_query_epoch`).
    visit_epoch: u32,
    /// Query epoch the servent's RNG was last reseeded in.
    pub(super) rng_epoch: u32,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            servent: OnceCell::new(),
            next_timer: NO_TIMER,
            visit_epoch: 0,
            rng_epoch: 0,
        }
    }
}

/// A whole simulated Gnutella network: its servents, the links of its graph and the
/// events in flight over virtual time.
pub struct Network {
    /// One slot per node.
    pub(super) nodes: Vec<Slot>,
    /// Builds servents on first use; `None` when all were built up front.
    factory: Option<Arc<dyn ServentFactory>>,
    graph: Arc<Graph>,
    deliveries: Deliveries,
    /// Route-expiry timers: (time, sequence, node), earliest first.
    timers: BinaryHeap<Reverse<(Duration, u64, u32)>>,
    pub(super) seq: u64,
    now: Duration,
    latency: Latency,
    rng: ChaCha8Rng,
    /// Deliveries scheduled and not yet processed.
    in_flight: usize,
    /// Events kept per servent (only servents that produced one have an entry).
    pub(super) events: HashMap<NodeId, Vec<(Duration, Event)>>,
    /// Descriptors put on links, by payload type; datagrams too (one message each).
    pub sent: [u64; PayloadType::ALL.len()],
    /// Datagrams sent and lost.
    pub datagrams: SimDatagrams,
    /// Events processed (deliveries and timers).
    pub processed: u64,
    /// Descriptors delivered to each servent since [`Network::reset_load`].
    load: Vec<u32>,
    /// The current query epoch (see `begin_query_epoch`).
    epoch: u32,
    visited: u64,
    /// Per-query reseeding: the current query's key.
    rng_key: Option<u64>,
    trace: Option<Vec<TraceEntry>>,
    keep: EventFilter,
    /// Which servents are down and what their links lost (churn: `sim::churn`).
    pub(super) sessions: Sessions,
}

impl Network {
    /// Builds one servent per node (configured by `config(node)`) and links every edge.
    pub fn new(graph: Graph, seed: u64, config: impl FnMut(NodeId) -> Config) -> Network {
        Network::with_shared(graph, seed, config, |_| None)
    }

    /// As [`Network::new`], each servent also sharing what `shared(node)` gives before
    /// its links open (so a leaf's first query routing table already holds its files).
    /// On a two-tier graph ([`Graph::is_leaf`]) each servent runs with the role of its
    /// node and each link says what the neighbour announces in a real handshake: its
    /// role, `X-Query-Routing` on leaf-ultrapeer links, `X-Ultrapeer-Query-Routing`
    /// between ultrapeers, `X-Dynamic-Querying`, its ultrapeer degree and TTL limit. On a
    /// flat graph every servent is an ultrapeer, as before, linked without query routing.
    /// What the links send on opening (query routing tables) is queued, not delivered:
    /// [`Network::settle`] delivers it.
    pub fn with_shared(
        graph: Graph,
        seed: u64,
        mut config: impl FnMut(NodeId) -> Config,
        mut shared: impl FnMut(NodeId) -> Option<SharedFiles>,
    ) -> Network {
        let n = graph.node_count();
        let mut nodes: Vec<Servent> = (0..n)
            .map(|i| {
                let mut s = Servent::new(with_role(&graph, i, config(i)));
                s.set_udp_addr(Some(sim_udp_addr(i)));
                if let Some(files) = shared(i) {
                    s.set_matcher(files);
                }
                s
            })
            .collect();
        // What each node would announce in its handshake: walker support per its config
        // (on by default; a test turns it off in a node's Config).
        let configs: Vec<Config> = nodes.iter().map(|s| s.config().clone()).collect();
        for (a, node) in nodes.iter_mut().enumerate() {
            for &b in graph.neighbours(a) {
                let info = link_info(&graph, a, b as usize, &configs[b as usize], false);
                node.handle_connected(Duration::ZERO, PeerId(b), info);
            }
        }
        let mut net = Network::empty(Arc::new(graph), seed, None);
        for (slot, s) in net.nodes.iter_mut().zip(nodes) {
            let _ = slot.servent.set(Box::new(s));
        }
        net
    }

    /// A network of `graph` whose servents `factory` describes, each built (and linked
    /// to all its neighbours, as [`Network::with_shared`] links them) only when it is
    /// first needed: when it receives a descriptor, acts locally or is looked at. The
    /// graph is shared, not copied. [`Network::settle`] builds every servent of a
    /// two-tier graph (leaves send their tables on opening their links); on a flat graph
    /// opening a link sends nothing, so untouched servents are never built.
    pub fn lazy(graph: Arc<Graph>, seed: u64, factory: Arc<dyn ServentFactory>) -> Network {
        Network::empty(graph, seed, Some(factory))
    }

    fn empty(graph: Arc<Graph>, seed: u64, factory: Option<Arc<dyn ServentFactory>>) -> Network {
        let n = graph.node_count();
        let latency = Latency::default();
        Network {
            nodes: (0..n).map(|_| Slot::new()).collect(),
            factory,
            graph,
            deliveries: queue_for(latency),
            timers: BinaryHeap::new(),
            seq: 0,
            now: Duration::ZERO,
            latency,
            rng: ChaCha8Rng::seed_from_u64(seed),
            in_flight: 0,
            events: HashMap::new(),
            sent: [0; PayloadType::ALL.len()],
            datagrams: SimDatagrams::default(),
            processed: 0,
            load: vec![0; n],
            epoch: 0,
            visited: 0,
            rng_key: None,
            trace: None,
            keep: EventFilter::All,
            sessions: Sessions::default(),
        }
    }

    /// Builds servent `i` from the factory with its links open (at time 0, as
    /// [`Network::with_shared`] opens them). Only called for empty slots, which only
    /// lazy networks have.
    fn build(&self, i: NodeId) -> Box<Servent> {
        let factory = self
            .factory
            .as_ref()
            .expect("only lazy networks have servents left to build");
        let graph = &self.graph;
        let mut s = Servent::new(with_role(graph, i, factory.config(i)));
        s.set_udp_addr(Some(sim_udp_addr(i)));
        if let Some(files) = factory.shared(i) {
            s.set_matcher(files);
        }
        let up = |b: &&u32| !self.sessions.is_down(**b as usize);
        for &b in graph.neighbours(i).iter().filter(up) {
            let b_config = factory.config(b as usize);
            let info = link_info(graph, i, b as usize, &b_config, factory.ultrapeer_tables());
            s.handle_connected(Duration::ZERO, PeerId(b), info);
        }
        Box::new(s)
    }

    /// What servent `b` announces to `a` on linking (lazy networks only: churn).
    pub(super) fn announced(&self, a: NodeId, b: NodeId) -> Option<PeerInfo> {
        let f = self.factory.as_ref()?;
        let (config, tables) = (f.config(b), f.ultrapeer_tables());
        Some(link_info(&self.graph, a, b, &config, tables))
    }

    /// Servent `i`, built now (and what its links sent on opening scheduled) if it was
    /// not yet.
    fn servent_mut(&mut self, i: NodeId) -> &mut Servent {
        if self.nodes[i].servent.get().is_none() {
            let s = self.build(i);
            let _ = self.nodes[i].servent.set(s);
            self.flush(i);
        }
        self.nodes[i]
            .servent
            .get_mut()
            .expect("the servent was built just above")
    }

    /// Drops every servent of a lazy network, to be built afresh when next needed:
    /// between independent queries, this bounds memory by the servents one query
    /// reaches. Servents keep nothing across queries that a query's outcome depends on
    /// (each query reseeds the RNGs it uses, its descriptor IDs are its own), so results
    /// do not change. Timers stay queued: one due for a servent not built again is
    /// counted as processed and skipped (a finished query's leftover deadline, which
    /// would find nothing to do). Only the count of such housekeeping timer events can
    /// change: a kept servent re-arms them, a rebuilt one has none. Does nothing on a
    /// network built up front or while descriptors are in flight.
    pub fn drop_servents(&mut self) {
        if self.factory.is_none() || self.in_flight > 0 {
            return;
        }
        for slot in &mut self.nodes {
            slot.servent.take();
        }
        self.events.clear();
    }

    /// Servents built so far (all of them, for a network built up front).
    pub fn built(&self) -> usize {
        self.nodes
            .iter()
            .filter(|s| s.servent.get().is_some())
            .count()
    }

    /// Every servent built so far, by node (a servent never built saw no traffic).
    pub fn built_servents(&self) -> impl Iterator<Item = (NodeId, &Servent)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.servent.get().map(|s| (i, &**s)))
    }

    /// Delivers what the servents queued on their own (what links send on opening:
    /// leaves' query routing tables) and everything that causes, until nothing is in
    /// flight. Returns the events processed. Call it once the latency is set and before
    /// measuring anything.
    pub fn settle(&mut self) -> u64 {
        let tables = self.factory.as_ref().is_some_and(|f| f.ultrapeer_tables());
        let build_all = self.factory.is_none() || self.graph.is_two_tier() || tables;
        if build_all {
            for i in 0..self.nodes.len() {
                self.servent_mut(i);
                self.flush(i);
            }
        }
        let mut events = self.run_until_quiet();
        // Ultrapeers send their neighbours their tables merged with their leaves' on a
        // timer (at most every MERGED_TABLE_INTERVAL): let it fire once, so last-hop
        // routing sees every leaf's table from the first query on.
        let until = self.now() + crate::core::MERGED_TABLE_INTERVAL;
        events += self.run_until(until);
        events + self.run_until_quiet()
    }

    /// Sets the link latency model; descriptors already in flight keep their due times.
    pub fn set_latency(&mut self, latency: Latency) {
        let pending = self.deliveries.drain_all();
        self.latency = latency;
        self.deliveries = if pending.is_empty() {
            queue_for(latency)
        } else {
            // Mixed due times: only the calendar (and its overflow heap) keeps them in
            // order.
            let span = match latency {
                Latency::Fixed(d) => d,
                Latency::Uniform(_, hi) => hi,
            };
            Deliveries::new(Some(span))
        };
        for d in pending {
            self.deliveries.push(d);
        }
    }

    /// The link latency model in use.
    pub fn latency(&self) -> Latency {
        self.latency
    }

    /// Records every transmitted descriptor (for tests; costs memory).
    pub fn enable_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    /// Every descriptor transmitted since [`Network::enable_trace`], in send order (empty
    /// when tracing is off).
    pub fn trace(&self) -> &[TraceEntry] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// Whether node events are kept for [`Network::take_events`] (off for big runs).
    pub fn keep_events(&mut self, keep: bool) {
        self.keep = if keep {
            EventFilter::All
        } else {
            EventFilter::None
        };
    }

    /// Keeps events of one servent only (a query's origin), or of none.
    pub fn keep_events_for(&mut self, node: Option<NodeId>) {
        self.keep = node.map_or(EventFilter::None, EventFilter::Only);
    }

    /// The overlay the servents are linked by.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Current virtual time, from 0 at creation.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Servent `i`'s core (built now if a lazy network had not needed it yet). Panics if
    /// `i` is not below [`Network::len`].
    pub fn node(&self, i: NodeId) -> &Servent {
        self.nodes[i].servent.get_or_init(|| self.build(i))
    }

    /// Servents in the network.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The network has no servent.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Descriptors put on links since creation, all types.
    pub fn total_sent(&self) -> u64 {
        self.sent.iter().sum()
    }

    /// Descriptors in flight (scheduled, not yet delivered).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Descriptors delivered to each servent since the last [`Network::reset_load`].
    pub fn load(&self) -> &[u32] {
        &self.load
    }

    /// Sets every servent's delivery count ([`Network::load`]) back to 0.
    pub fn reset_load(&mut self) {
        self.load.iter_mut().for_each(|l| *l = 0);
    }

    /// Starts a query epoch: distinct Query receivers are counted afresh (the origin, if
    /// given, counts as having the query already). With `rng_key`, every servent's RNG
    /// is reseeded from (key, servent) before it next acts in this epoch, and the link
    /// latency RNG from the key: what a query does then depends on its key alone, not on
    /// the queries run before it (so a query set split across networks gives the same
    /// numbers). Reseeding is lazy: only the servents the query reaches pay for it.
    pub fn begin_query_epoch(&mut self, origin: Option<NodeId>, rng_key: Option<u64>) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Wrapped after 4 billion queries: old marks could alias, so clear them.
            for slot in &mut self.nodes {
                slot.visit_epoch = 0;
                slot.rng_epoch = 0;
            }
            self.epoch = 1;
        }
        self.visited = 0;
        self.rng_key = rng_key;
        if let Some(key) = rng_key {
            self.rng = ChaCha8Rng::seed_from_u64(mix(key));
        }
        if let Some(o) = origin {
            self.nodes[o].visit_epoch = self.epoch;
        }
    }

    /// Reseeds servent `i`'s RNG for the current query key, once per epoch.
    fn activate(&mut self, i: NodeId) {
        if let Some(key) = self.rng_key {
            if self.nodes[i].rng_epoch != self.epoch {
                self.nodes[i].rng_epoch = self.epoch;
                let seed = mix(key ^ mix(i as u64));
                self.servent_mut(i).reseed(seed);
            }
        }
    }

    /// Distinct servents that received a Query since [`Network::begin_query_epoch`].
    pub fn visited(&self) -> u64 {
        self.visited
    }

    /// Runs `f` on node `i` at the current time (a local request), then schedules what
    /// it sent.
    pub fn with_node<T>(&mut self, i: NodeId, f: impl FnOnce(&mut Servent, Duration) -> T) -> T {
        self.activate(i);
        let now = self.now;
        let out = f(self.servent_mut(i), now);
        self.flush(i);
        out
    }

    /// Hands `descriptor` to node `to` as if it came from neighbour `from`, now.
    pub fn inject(&mut self, from: NodeId, to: NodeId, descriptor: Descriptor) {
        self.activate(to);
        let now = self.now;
        self.servent_mut(to)
            .handle_descriptor(now, PeerId(from as u32), descriptor);
        self.flush(to);
    }

    /// Moves virtual time forward without processing anything scheduled later.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Events node `i` produced since the last call.
    pub fn take_events(&mut self, i: NodeId) -> Vec<Event> {
        self.take_timed_events(i)
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    /// Events node `i` produced since the last call, with the virtual time of each.
    pub fn take_timed_events(&mut self, i: NodeId) -> Vec<(Duration, Event)> {
        self.events.remove(&i).unwrap_or_default()
    }

    /// The (time, sequence) of the earliest scheduled event, and whether it is a timer.
    fn next_event(&self) -> Option<(Duration, bool)> {
        let d = self.deliveries.peek_key();
        let t = self.timers.peek().map(|Reverse((at, seq, _))| (*at, *seq));
        match (d, t) {
            (Some(d), Some(t)) if t < d => Some((t.0, true)),
            (Some(d), _) => Some((d.0, false)),
            (None, Some(t)) => Some((t.0, true)),
            (None, None) => None,
        }
    }

    /// When the next scheduled event is due.
    pub fn next_event_at(&self) -> Option<Duration> {
        self.next_event().map(|(at, _)| at)
    }

    /// Processes events until the queue is empty or the next one is after `deadline`.
    /// Returns the number of events processed.
    pub fn run_until(&mut self, deadline: Duration) -> u64 {
        let mut count = 0;
        while let Some((at, is_timer)) = self.next_event() {
            if at > deadline {
                break;
            }
            self.step(is_timer);
            count += 1;
        }
        count
    }

    /// Processes events until no descriptor is in flight, leaving later timers (route
    /// expiry) queued. Returns the number of events processed.
    pub fn run_until_quiet(&mut self) -> u64 {
        let mut count = 0;
        while self.in_flight > 0 {
            let Some((_, is_timer)) = self.next_event() else {
                break;
            };
            self.step(is_timer);
            count += 1;
        }
        count
    }

    /// Processes the earliest scheduled event: the first timer, or the first delivery.
    fn step(&mut self, is_timer: bool) {
        self.processed += 1;
        if is_timer {
            let Some(Reverse((at, _, node))) = self.timers.pop() else {
                return;
            };
            self.now = self.now.max(at);
            let node = node as usize;
            if self.nodes[node].next_timer == nanos(at) {
                self.nodes[node].next_timer = NO_TIMER;
                if self.nodes[node].servent.get().is_none() {
                    // Dropped since it set the timer, not needed again yet: its fresh
                    // self would have nothing due.
                    return;
                }
                self.activate(node);
                let now = self.now;
                self.servent_mut(node).handle_timeout(now);
                self.flush(node);
            }
            return;
        }
        let Some(d) = self.deliveries.pop() else {
            return;
        };
        // The servent that handles a delivery a few places on is the next cache miss:
        // fetch it now, and its slot (where the servent is) further ahead.
        if let Some(r) = self.deliveries.receiver_ahead(2 * PREFETCH_AHEAD) {
            prefetch_all(&self.nodes[r as usize]);
        }
        if let Some(r) = self.deliveries.receiver_ahead(PREFETCH_AHEAD / 2) {
            if let Some(s) = self.nodes[r as usize].servent.get() {
                prefetch_all(&**s);
            }
        }
        self.now = self.now.max(d.at);
        self.in_flight -= 1;
        if self.sessions.loses(&d) {
            return;
        }
        let to = d.to as usize;
        self.load[to] = self.load[to].saturating_add(1);
        let epoch = self.epoch;
        let slot = &mut self.nodes[to];
        if d.descriptor.payload_type() == PayloadType::Query && slot.visit_epoch != epoch {
            slot.visit_epoch = epoch;
            self.visited += 1;
        }
        self.activate(to);
        let now = self.now;
        let servent = self.servent_mut(to);
        match datagram_source(d.from) {
            Some(src) => servent.handle_datagram(now, src, &encoded(&d.descriptor), false),
            None => servent.handle_descriptor(now, PeerId(d.from), d.descriptor),
        }
        self.flush(to);
    }

    /// Drains node `i`'s outputs into the queue (transmits), the event log and a timer.
    fn flush(&mut self, i: NodeId) {
        let Some(node) = self.nodes[i].servent.get_mut() else {
            return;
        };
        while let Some(g) = node.poll_datagram() {
            self.sent[g.descriptor.payload_type().index()] += 1;
            let Some(to) = self.datagrams.addressee(g.to, self.graph.node_count()) else {
                continue;
            };
            let at = self.now + draw_delay(self.latency, &mut self.rng);
            (self.in_flight, self.seq) = (self.in_flight + 1, self.seq + 1);
            let (from, descriptor) = (i as u32 | DATAGRAM, g.descriptor);
            let (seq, to) = (self.seq, to as u32);
            self.deliveries.push(Delivery {
                at,
                seq,
                from,
                to,
                descriptor,
            });
        }
        while let Some(Transmit {
            peer, descriptor, ..
        }) = node.poll_transmit()
        {
            self.sent[descriptor.payload_type().index()] += 1;
            if let Some(trace) = &mut self.trace {
                trace.push(TraceEntry {
                    at: self.now,
                    from: i,
                    to: peer.0 as usize,
                    descriptor: descriptor.clone(),
                });
            }
            let at = self.now + draw_delay(self.latency, &mut self.rng);
            self.in_flight += 1;
            self.seq += 1;
            self.deliveries.push(Delivery {
                at,
                seq: self.seq,
                from: i as u32,
                to: peer.0,
                descriptor,
            });
        }
        let keep = match self.keep {
            EventFilter::All => true,
            EventFilter::Only(n) => n == i,
            EventFilter::None => false,
        };
        while let Some(e) = node.poll_event() {
            if keep {
                self.events.entry(i).or_default().push((self.now, e));
            }
        }
        if let Some(t) = node.poll_timeout() {
            let t_ns = nanos(t);
            if t_ns < self.nodes[i].next_timer {
                self.nodes[i].next_timer = t_ns;
                self.seq += 1;
                self.timers.push(Reverse((t, self.seq, i as u32)));
            }
        }
    }
}
