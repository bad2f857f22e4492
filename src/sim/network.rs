//! The simulated network: one [`Servent`] per graph node, a global event queue over
//! virtual time, and message delivery with link latency. Node `i` knows neighbour `j` as
//! `PeerId(j)`. Everything is deterministic for a given graph, configs and seed: events at
//! the same instant are processed in the order they were scheduled.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::core::{Config, Event, PeerId, PeerInfo, Servent, Transmit};
use crate::proto::{Descriptor, PayloadType};

use super::topology::Graph;

pub type NodeId = usize;

/// One hop's delay in the default model: results in hop units are exact.
pub const UNIT_LATENCY: Duration = Duration::from_millis(1);

/// How long a descriptor takes over one link.
#[derive(Debug, Clone, Copy)]
pub enum Latency {
    Fixed(Duration),
    /// Uniform in `[min, max]`, drawn per message from the network's seeded RNG.
    Uniform(Duration, Duration),
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Fixed(UNIT_LATENCY)
    }
}

enum Action {
    Deliver {
        from: NodeId,
        to: NodeId,
        descriptor: Descriptor,
    },
    Timer {
        node: NodeId,
    },
}

struct Scheduled {
    at: Duration,
    seq: u64,
    action: Action,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest (then first scheduled) event.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// A record of one transmitted descriptor (kept only when tracing is on).
#[derive(Debug, Clone)]
pub struct TraceEntry {
    pub at: Duration,
    pub from: NodeId,
    pub to: NodeId,
    pub descriptor: Descriptor,
}

pub struct Network {
    nodes: Vec<Servent>,
    graph: Graph,
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    now: Duration,
    latency: Latency,
    rng: ChaCha8Rng,
    next_timer: Vec<Option<Duration>>,
    /// Deliveries scheduled and not yet processed.
    in_flight: usize,
    events: Vec<Vec<Event>>,
    /// Descriptors put on links, by payload type.
    pub sent: [u64; PayloadType::ALL.len()],
    /// Events processed (deliveries and timers).
    pub processed: u64,
    trace: Option<Vec<TraceEntry>>,
    keep_events: bool,
}

impl Network {
    /// Builds one servent per node (configured by `config(node)`) and links every edge.
    pub fn new(graph: Graph, seed: u64, mut config: impl FnMut(NodeId) -> Config) -> Network {
        let n = graph.node_count();
        let mut nodes: Vec<Servent> = (0..n).map(|i| Servent::new(config(i))).collect();
        // What each node would announce in its handshake: walker support per its config
        // (on by default; a test turns it off in a node's Config).
        let walkers: Vec<bool> = nodes.iter().map(|s| s.config().walker_support).collect();
        for (a, node) in nodes.iter_mut().enumerate() {
            for &b in graph.neighbours(a) {
                let info = PeerInfo {
                    walker_support: walkers[b as usize],
                    ..PeerInfo::default()
                };
                node.handle_connected(Duration::ZERO, PeerId(b), info);
            }
        }
        Network {
            nodes,
            graph,
            queue: BinaryHeap::new(),
            seq: 0,
            now: Duration::ZERO,
            latency: Latency::default(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            next_timer: vec![None; n],
            in_flight: 0,
            events: vec![Vec::new(); n],
            sent: [0; PayloadType::ALL.len()],
            processed: 0,
            trace: None,
            keep_events: true,
        }
    }

    pub fn set_latency(&mut self, latency: Latency) {
        self.latency = latency;
    }

    /// Records every transmitted descriptor (for tests; costs memory).
    pub fn enable_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    pub fn trace(&self) -> &[TraceEntry] {
        self.trace.as_deref().unwrap_or(&[])
    }

    /// Whether node events are kept for [`Network::take_events`] (off for big runs).
    pub fn keep_events(&mut self, keep: bool) {
        self.keep_events = keep;
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    pub fn now(&self) -> Duration {
        self.now
    }

    pub fn node(&self, i: NodeId) -> &Servent {
        &self.nodes[i]
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn total_sent(&self) -> u64 {
        self.sent.iter().sum()
    }

    /// Runs `f` on node `i` at the current time (a local request), then schedules what
    /// it sent.
    pub fn with_node<T>(&mut self, i: NodeId, f: impl FnOnce(&mut Servent, Duration) -> T) -> T {
        let out = f(&mut self.nodes[i], self.now);
        self.flush(i);
        out
    }

    /// Hands `descriptor` to node `to` as if it came from neighbour `from`, now.
    pub fn inject(&mut self, from: NodeId, to: NodeId, descriptor: Descriptor) {
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
    }

    /// Processes events until the queue is empty or the next one is after `deadline`.
    /// Returns the number of events processed.
    pub fn run_until(&mut self, deadline: Duration) -> u64 {
        let mut count = 0;
        while self.queue.peek().is_some_and(|s| s.at <= deadline) {
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
        let Some(s) = self.queue.pop() else { return };
        self.now = self.now.max(s.at);
        self.processed += 1;
        match s.action {
            Action::Deliver {
                from,
                to,
                descriptor,
            } => {
                self.in_flight -= 1;
                self.nodes[to].handle_descriptor(self.now, PeerId(from as u32), descriptor);
                self.flush(to);
            }
            Action::Timer { node } => {
                if self.next_timer[node] == Some(s.at) {
                    self.next_timer[node] = None;
                    self.nodes[node].handle_timeout(self.now);
                    self.flush(node);
                }
            }
        }
    }

    fn schedule(&mut self, at: Duration, action: Action) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at,
            seq: self.seq,
            action,
        });
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
            let to = peer.0 as usize;
            self.sent[descriptor.payload_type().index()] += 1;
            if let Some(trace) = &mut self.trace {
                trace.push(TraceEntry {
                    at: self.now,
                    from: i,
                    to,
                    descriptor: descriptor.clone(),
                });
            }
            let at = self.now + self.delay();
            self.in_flight += 1;
            self.schedule(
                at,
                Action::Deliver {
                    from: i,
                    to,
                    descriptor,
                },
            );
        }
        while let Some(e) = self.nodes[i].poll_event() {
            if self.keep_events {
                self.events[i].push(e);
            }
        }
        if let Some(t) = self.nodes[i].poll_timeout() {
            if self.next_timer[i].is_none_or(|cur| t < cur) {
                self.next_timer[i] = Some(t);
                self.schedule(t, Action::Timer { node: i });
            }
        }
    }
}
