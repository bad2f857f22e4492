//! The simulated network: one [`Servent`] per graph node, a global event queue over
//! virtual time, and message delivery with link latency. Node `i` knows neighbour `j` as
//! `PeerId(j)`. Everything is deterministic for a given graph, configs and seed: each
//! servent receives the descriptors due at one instant in the order they were scheduled.
//!
//! The queue is split for speed. With a fixed latency, deliveries due at one instant form
//! a batch, and batches leave in time order (a FIFO, no heap); a batch is processed
//! sorted by receiving servent, which keeps each servent's state in cache while it
//! handles all its copies (the core's per-descriptor cost is mostly cache misses).
//! Random latencies use a binary heap. Timers (route expiry) sit in their own heap; the
//! next event is the earlier of the two heads by (time, sequence number).
//!
//! Per-query accounting for the experiments lives here too, because only the driver sees
//! every delivery: descriptors sent by type, deliveries per servent (load), and the number
//! of distinct servents a Query reached since [`Network::begin_query_epoch`].

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::core::{Config, Event, PeerId, PeerInfo, Role, Servent, SharedFiles, Transmit};
use crate::proto::{Descriptor, PayloadType};

use crate::topology::Graph;

/// A servent's index in the network, `0..n`: its graph node (neighbours know it as
/// `PeerId(node)`).
pub type NodeId = usize;

/// splitmix64: derives well-spread seeds from one experiment seed and an index.
pub(super) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// One hop's delay in the default model: results in hop units are exact.
pub(super) const UNIT_LATENCY: Duration = Duration::from_millis(1);

/// How long a descriptor takes over one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    /// Every descriptor takes this long on every link (default 1 ms, one hop unit).
    Fixed(Duration),
    /// Uniform in `[min, max]`, drawn per message from the network's seeded RNG.
    Uniform(Duration, Duration),
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Fixed(UNIT_LATENCY)
    }
}

/// One descriptor on a link, due at `at`.
struct Delivery {
    at: Duration,
    seq: u64,
    from: u32,
    to: u32,
    descriptor: Descriptor,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Delivery {}
impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delivery {
    /// Reversed: the heap pops the earliest (then first scheduled) delivery.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Deliveries due at one instant, processed as a batch.
#[derive(Default)]
struct Batch {
    at: Duration,
    /// Sequence number of the first delivery scheduled into the batch: orders the batch
    /// against timers due at the same instant.
    first_seq: u64,
    /// In scheduling order; taken out (`None`) as they are processed.
    items: Vec<Option<Delivery>>,
    /// Processing order once the batch is current: (receiver << 32 | position), sorted
    /// descending so `pop` yields the next.
    order: Vec<u64>,
}

impl Batch {
    /// Sorts the batch by receiving servent, keeping scheduling order per servent.
    fn sort_by_receiver(&mut self) {
        self.order.clear();
        self.order
            .extend(self.items.iter().enumerate().map(|(i, d)| {
                let to = d.as_ref().map_or(0, |d| d.to);
                (u64::from(to) << 32) | i as u64
            }));
        self.order.sort_unstable_by(|a, b| b.cmp(a));
    }

    fn pop(&mut self) -> Option<Delivery> {
        let key = self.order.pop()?;
        self.items[(key & 0xFFFF_FFFF) as usize].take()
    }

    fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Deliveries in flight. With a fixed latency every delivery is due at `now + latency`
/// and `now` never goes back, so due times are nondecreasing in scheduling order: a FIFO
/// of per-instant batches is an exact priority queue. A batch is sorted by receiving
/// servent (stable: each servent gets its copies in scheduling order) when its instant
/// comes, so each servent's copies are handled back to back while its state is in cache
/// and servents are visited in memory order. No servent can observe the order across
/// servents within an instant, as nothing sent at `t` arrives before `t + latency`.
/// Random latencies use a binary heap ordered by (due time, sequence number).
enum Deliveries {
    Batched {
        /// The batch being processed.
        current: Batch,
        pending: VecDeque<Batch>,
        /// Emptied batches kept for reuse (no allocation per instant).
        spare: Vec<Batch>,
    },
    Heap(BinaryHeap<Delivery>),
}

impl Deliveries {
    fn for_latency(latency: Latency) -> Deliveries {
        match latency {
            Latency::Fixed(_) => Deliveries::Batched {
                current: Batch::default(),
                pending: VecDeque::new(),
                spare: Vec::new(),
            },
            Latency::Uniform(..) => Deliveries::Heap(BinaryHeap::new()),
        }
    }

    fn push(&mut self, d: Delivery) {
        match self {
            Deliveries::Batched { pending, spare, .. } => match pending.back_mut() {
                Some(b) if b.at == d.at => b.items.push(Some(d)),
                _ => {
                    let mut b = spare.pop().unwrap_or_default();
                    b.at = d.at;
                    b.first_seq = d.seq;
                    b.items.push(Some(d));
                    pending.push_back(b);
                }
            },
            Deliveries::Heap(h) => h.push(d),
        }
    }

    /// The (due time, order key) of the next delivery.
    fn peek_key(&self) -> Option<(Duration, u64)> {
        match self {
            Deliveries::Batched {
                current, pending, ..
            } => {
                if !current.is_empty() {
                    Some((current.at, current.first_seq))
                } else {
                    pending.front().map(|b| (b.at, b.first_seq))
                }
            }
            Deliveries::Heap(h) => h.peek().map(|d| (d.at, d.seq)),
        }
    }

    fn pop(&mut self) -> Option<Delivery> {
        match self {
            Deliveries::Batched {
                current,
                pending,
                spare,
            } => {
                if current.is_empty() {
                    let mut next = pending.pop_front()?;
                    next.sort_by_receiver();
                    let mut done = std::mem::replace(current, next);
                    done.items.clear();
                    spare.push(done);
                }
                current.pop()
            }
            Deliveries::Heap(h) => h.pop(),
        }
    }

    fn drain_all(&mut self) -> Vec<Delivery> {
        match self {
            Deliveries::Batched {
                current, pending, ..
            } => {
                let mut all = Vec::new();
                while let Some(d) = current.pop() {
                    all.push(d);
                }
                for b in pending.drain(..) {
                    all.extend(b.items.into_iter().flatten());
                }
                all
            }
            Deliveries::Heap(h) => h.drain().collect(),
        }
    }
}

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

/// A whole simulated Gnutella network: its servents, the links of its graph and the
/// events in flight over virtual time.
pub struct Network {
    nodes: Vec<Servent>,
    graph: Graph,
    deliveries: Deliveries,
    /// Route-expiry timers: (time, sequence, node), earliest first.
    timers: BinaryHeap<Reverse<(Duration, u64, u32)>>,
    seq: u64,
    now: Duration,
    latency: Latency,
    rng: ChaCha8Rng,
    next_timer: Vec<Option<Duration>>,
    /// Deliveries scheduled and not yet processed.
    in_flight: usize,
    events: Vec<Vec<(Duration, Event)>>,
    /// Descriptors put on links, by payload type.
    pub sent: [u64; PayloadType::ALL.len()],
    /// Events processed (deliveries and timers).
    pub processed: u64,
    /// Descriptors delivered to each servent since [`Network::reset_load`].
    load: Vec<u32>,
    /// Query epoch each servent last received a Query in (see `begin_query_epoch`).
    visit_epoch: Vec<u32>,
    epoch: u32,
    visited: u64,
    /// Per-query reseeding: the current query's key, and the epoch each servent's RNG
    /// was last reseeded in.
    rng_key: Option<u64>,
    rng_epoch: Vec<u32>,
    trace: Option<Vec<TraceEntry>>,
    keep: EventFilter,
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
        let tiers = graph.is_two_tier();
        let mut nodes: Vec<Servent> = (0..n)
            .map(|i| {
                let mut c = config(i);
                if tiers {
                    c.role = if graph.is_leaf(i) {
                        Role::Leaf
                    } else {
                        Role::Ultrapeer
                    };
                }
                let mut s = Servent::new(c);
                if let Some(files) = shared(i) {
                    s.set_matcher(files);
                }
                s
            })
            .collect();
        // What each node would announce in its handshake: walker support per its config
        // (on by default; a test turns it off in a node's Config).
        let walkers: Vec<bool> = nodes.iter().map(|s| s.config().walker_support).collect();
        let ids: Vec<_> = nodes.iter().map(|s| s.servent_id()).collect();
        let max_ttls: Vec<u8> = nodes.iter().map(|s| s.config().max_ttl).collect();
        for (a, node) in nodes.iter_mut().enumerate() {
            for &b in graph.neighbours(a) {
                let b = b as usize;
                let (a_leaf, b_leaf) = (graph.is_leaf(a), graph.is_leaf(b));
                let info = PeerInfo {
                    walker_support: walkers[b],
                    servent_id: Some(ids[b]),
                    ultrapeer: !b_leaf,
                    query_routing: tiers && a_leaf != b_leaf,
                    ultrapeer_query_routing: tiers && !a_leaf && !b_leaf,
                    dynamic_querying: true,
                    degree: (!b_leaf).then(|| graph.ultrapeer_degree(b) as u32),
                    max_ttl: Some(max_ttls[b]),
                    ..PeerInfo::default()
                };
                node.handle_connected(Duration::ZERO, PeerId(b as u32), info);
            }
        }
        let latency = Latency::default();
        Network {
            nodes,
            graph,
            deliveries: Deliveries::for_latency(latency),
            timers: BinaryHeap::new(),
            seq: 0,
            now: Duration::ZERO,
            latency,
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_timer: vec![None; n],
            in_flight: 0,
            events: (0..n).map(|_| Vec::new()).collect(),
            sent: [0; PayloadType::ALL.len()],
            processed: 0,
            load: vec![0; n],
            visit_epoch: vec![0; n],
            epoch: 0,
            visited: 0,
            rng_key: None,
            rng_epoch: vec![0; n],
            trace: None,
            keep: EventFilter::All,
        }
    }

    /// Delivers what the servents queued on their own (what links send on opening:
    /// leaves' query routing tables) and everything that causes, until nothing is in
    /// flight. Returns the events processed. Call it once the latency is set and before
    /// measuring anything.
    pub fn settle(&mut self) -> u64 {
        for i in 0..self.nodes.len() {
            self.flush(i);
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
            Deliveries::for_latency(latency)
        } else {
            // Mixed due times: only a heap keeps them in order.
            Deliveries::Heap(BinaryHeap::new())
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

    /// Servent `i`'s core. Panics if `i` is not below [`Network::len`].
    pub fn node(&self, i: NodeId) -> &Servent {
        &self.nodes[i]
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
            self.visit_epoch.iter_mut().for_each(|e| *e = 0);
            self.rng_epoch.iter_mut().for_each(|e| *e = 0);
            self.epoch = 1;
        }
        self.visited = 0;
        self.rng_key = rng_key;
        if let Some(key) = rng_key {
            self.rng = ChaCha8Rng::seed_from_u64(mix(key));
        }
        if let Some(o) = origin {
            self.visit_epoch[o] = self.epoch;
        }
    }

    /// Reseeds servent `i`'s RNG for the current query key, once per epoch.
    fn activate(&mut self, i: NodeId) {
        if let Some(key) = self.rng_key {
            if self.rng_epoch[i] != self.epoch {
                self.rng_epoch[i] = self.epoch;
                *self.nodes[i].rng() = ChaCha8Rng::seed_from_u64(mix(key ^ mix(i as u64)));
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
        let out = f(&mut self.nodes[i], self.now);
        self.flush(i);
        out
    }

    /// Hands `descriptor` to node `to` as if it came from neighbour `from`, now.
    pub fn inject(&mut self, from: NodeId, to: NodeId, descriptor: Descriptor) {
        self.activate(to);
        self.nodes[to].handle_descriptor(self.now, PeerId(from as u32), descriptor);
        self.flush(to);
    }

    /// Moves virtual time forward without processing anything scheduled later.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Events node `i` produced since the last call.
    pub fn take_events(&mut self, i: NodeId) -> Vec<Event> {
        std::mem::take(&mut self.events[i])
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    /// Events node `i` produced since the last call, with the virtual time of each.
    pub fn take_timed_events(&mut self, i: NodeId) -> Vec<(Duration, Event)> {
        std::mem::take(&mut self.events[i])
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
        while self.next_event().is_some_and(|(at, _)| at <= deadline) {
            self.step();
            count += 1;
        }
        count
    }

    /// Processes events until no descriptor is in flight, leaving later timers (route
    /// expiry) queued. Returns the number of events processed.
    pub fn run_until_quiet(&mut self) -> u64 {
        let mut count = 0;
        while self.in_flight > 0 {
            self.step();
            count += 1;
        }
        count
    }

    /// Processes the earliest scheduled event.
    fn step(&mut self) {
        let Some((_, is_timer)) = self.next_event() else {
            return;
        };
        self.processed += 1;
        if is_timer {
            let Some(Reverse((at, _, node))) = self.timers.pop() else {
                return;
            };
            self.now = self.now.max(at);
            let node = node as usize;
            if self.next_timer[node] == Some(at) {
                self.next_timer[node] = None;
                self.activate(node);
                self.nodes[node].handle_timeout(self.now);
                self.flush(node);
            }
            return;
        }
        let Some(d) = self.deliveries.pop() else {
            return;
        };
        self.now = self.now.max(d.at);
        self.in_flight -= 1;
        let to = d.to as usize;
        self.load[to] = self.load[to].saturating_add(1);
        if d.descriptor.payload_type() == PayloadType::Query && self.visit_epoch[to] != self.epoch {
            self.visit_epoch[to] = self.epoch;
            self.visited += 1;
        }
        self.activate(to);
        self.nodes[to].handle_descriptor(self.now, PeerId(d.from), d.descriptor);
        self.flush(to);
    }

    fn delay(&mut self) -> Duration {
        match self.latency {
            Latency::Fixed(d) => d,
            Latency::Uniform(lo, hi) if hi > lo => {
                lo + Duration::from_nanos(self.rng.gen_range(0..=(hi - lo).as_nanos() as u64))
            }
            Latency::Uniform(lo, _) => lo,
        }
    }

    /// Drains node `i`'s outputs into the queue (transmits), the event log and a timer.
    fn flush(&mut self, i: NodeId) {
        while let Some(Transmit {
            peer, descriptor, ..
        }) = self.nodes[i].poll_transmit()
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
            let at = self.now + self.delay();
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
        while let Some(e) = self.nodes[i].poll_event() {
            let keep = match self.keep {
                EventFilter::All => true,
                EventFilter::Only(n) => n == i,
                EventFilter::None => false,
            };
            if keep {
                self.events[i].push((self.now, e));
            }
        }
        if let Some(t) = self.nodes[i].poll_timeout() {
            if self.next_timer[i].is_none_or(|cur| t < cur) {
                self.next_timer[i] = Some(t);
                self.seq += 1;
                self.timers.push(Reverse((t, self.seq, i as u32)));
            }
        }
    }
}
