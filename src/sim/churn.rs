//! Churn during a search (`servent compare --churn RATE`): servents leave and join while
//! a query runs, and walkers, rings and hits lose the paths that went through them.
//!
//! The model. RATE is departures per servent per second of virtual time: a servent's
//! session lasts an exponential time of mean 1/RATE, after which its process ends; it
//! comes back after an exponential downtime of the same mean, as a fresh servent (a
//! restarted process: empty route tables, same files and servent ID), linked to those of
//! its graph neighbours that are up. While it is down everything in flight to it or over
//! its links is lost (`sim::sessions`) and its neighbours' cores have seen the links
//! close (`Servent::handle_closed`), so routes through it die as in a real network.
//!
//! Each query starts on the whole network (every servent up) and churn runs from its
//! start until it ends; the query's origin never leaves. Departures are one Poisson
//! process over the servents that are up (rate RATE each, so the next is exponential with
//! rate RATE x up servents, drawn again after every change), each down servent has its
//! own return time. Every draw comes from an RNG keyed by the query's key, so a query's
//! churn depends on the seed and its index alone, whatever the threads. When the query
//! ends the servents still down come back (between queries, not counted), so the next
//! query starts on the whole network again.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::core::PeerId;

use super::network::{mix, Network, NodeId, NO_TIMER};

/// Salt of the churn RNG's seed: independent of the servents' draws from the same key.
const CHURN_SALT: u64 = 0xC4_0A11_5E55_1015;

/// Random picks of a departing servent before scanning for one: with at least half the
/// servents up, 64 picks all miss with probability 2^-64.
const PICKS_BEFORE_SCAN: usize = 64;

/// How servents come and go during each query (`rate` 0: they never do).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Churn {
    /// Departures per servent per second of virtual time (mean session and mean
    /// downtime 1/rate seconds each).
    pub rate: f64,
}

impl Churn {
    /// No churn.
    pub const NONE: Churn = Churn { rate: 0.0 };

    /// Whether servents come and go at all.
    pub fn is_on(&self) -> bool {
        self.rate > 0.0
    }
}

/// What churn did while queries ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChurnCounts {
    /// Servents that left while a query ran.
    pub departures: u64,
    /// Servents that came back while a query ran (not those brought back after it).
    pub joins: u64,
    /// Descriptors and datagrams lost in flight: sent to a servent that left, or over a
    /// link that closed, before they arrived.
    pub lost: u64,
}

impl std::ops::Add for ChurnCounts {
    type Output = ChurnCounts;
    fn add(self, o: ChurnCounts) -> ChurnCounts {
        ChurnCounts {
            departures: self.departures + o.departures,
            joins: self.joins + o.joins,
            lost: self.lost + o.lost,
        }
    }
}

impl Network {
    /// Whether servent `i` is up (it never left, or came back since).
    pub fn is_up(&self, i: NodeId) -> bool {
        !self.sessions.is_down(i)
    }

    /// Whether servent `i` is built yet (see [`Network::lazy`]).
    pub fn is_built(&self, i: NodeId) -> bool {
        self.nodes[i].servent.get().is_some()
    }

    /// Servent `i` leaves now: its process ends (its state, timers and events are
    /// dropped), everything in flight to it or over its links is lost, and each built
    /// neighbour's core sees its link close. Does nothing if `i` is already down.
    pub fn leave(&mut self, i: NodeId) {
        if self.sessions.is_down(i) {
            return;
        }
        self.sessions.stop(i, self.len());
        let slot = &mut self.nodes[i];
        slot.servent.take();
        (slot.next_timer, slot.rng_epoch) = (NO_TIMER, 0);
        self.events.remove(&i);
        let peer = PeerId(i as u32);
        for y in self.graph().neighbours(i).to_vec() {
            let y = y as usize;
            if y != i && self.is_up(y) && self.is_built(y) {
                self.with_node(y, |s, now| s.handle_closed(now, peer));
            }
        }
    }

    /// Servent `i`, down, comes back now as a fresh servent (built from the factory,
    /// linked to its neighbours that are up, each built one opening its link to it as a
    /// handshake would). Does nothing if `i` is up. Panics on a network built up front
    /// (only a lazy network knows how to build a servent again).
    pub fn join(&mut self, i: NodeId) {
        if !self.sessions.is_down(i) {
            return;
        }
        self.sessions.start(i, self.seq + 1);
        self.with_node(i, |_, _| ());
        let peer = PeerId(i as u32);
        for y in self.graph().neighbours(i).to_vec() {
            let y = y as usize;
            if y != i && self.is_up(y) && self.is_built(y) {
                let info = self
                    .announced(y, i)
                    .expect("a lazy network (built just above)");
                self.with_node(y, |s, now| s.handle_connected(now, peer, info));
            }
        }
    }

    /// Descriptors lost to churn since the network was built.
    pub fn lost_to_churn(&self) -> u64 {
        self.sessions.lost
    }
}

/// Churn over one query: the pending departure and returns, drawn from the query's key.
pub(super) struct ChurnRun {
    /// Departures per servent per second; 0: churn is off and the run passes through.
    rate: f64,
    rng: ChaCha8Rng,
    origin: NodeId,
    /// When the next servent leaves (`Duration::MAX`: none will).
    next_departure: Duration,
    /// Servents down, by when they come back (then index: a deterministic order).
    returns: BinaryHeap<Reverse<(Duration, u32)>>,
    counts: ChurnCounts,
    lost_before: u64,
}

impl ChurnRun {
    /// Churn for a query from `origin` starting now on `net`, keyed by `key`.
    pub(super) fn start(churn: Churn, net: &Network, origin: NodeId, key: Option<u64>) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(mix(key.unwrap_or(0) ^ CHURN_SALT));
        let mut run = ChurnRun {
            rate: if churn.is_on() { churn.rate } else { 0.0 },
            rng,
            origin,
            next_departure: Duration::MAX,
            returns: BinaryHeap::new(),
            counts: ChurnCounts::default(),
            lost_before: net.lost_to_churn(),
        };
        run.draw_departure(net);
        run
    }

    /// As [`Network::run_until_quiet`], with servents leaving and joining in time order
    /// (one instant of events at a time).
    pub(super) fn run_until_quiet(&mut self, net: &mut Network) {
        if self.rate == 0.0 {
            net.run_until_quiet();
            return;
        }
        while net.in_flight() > 0 {
            let Some(next) = net.next_event_at() else {
                break;
            };
            if !self.apply_due(net, next) {
                net.run_until(next);
            }
        }
    }

    /// As [`Network::run_until`] to `deadline`, with servents leaving and joining in time
    /// order.
    pub(super) fn run_until(&mut self, net: &mut Network, deadline: Duration) {
        if self.rate == 0.0 {
            net.run_until(deadline);
            return;
        }
        while let Some(next) = net.next_event_at().filter(|&at| at <= deadline) {
            if !self.apply_due(net, next) {
                net.run_until(next);
            }
        }
    }

    /// The query is over: brings back every servent still down (not counted as joins),
    /// lets what that sends settle, and says what churn did during the query.
    pub(super) fn finish(mut self, net: &mut Network) -> ChurnCounts {
        self.counts.lost = net.lost_to_churn() - self.lost_before;
        if self.rate == 0.0 {
            return self.counts;
        }
        while let Some(Reverse((_, i))) = self.returns.pop() {
            net.join(i as usize);
        }
        net.run_until_quiet();
        self.counts
    }

    /// Applies the next leave or join if it is due at or before `at`; whether it did.
    fn apply_due(&mut self, net: &mut Network, at: Duration) -> bool {
        let next_return = self.returns.peek().map(|Reverse((t, _))| *t);
        let (when, returning) = match next_return {
            Some(t) if t <= self.next_departure => (t, true),
            _ => (self.next_departure, false),
        };
        if when > at {
            return false;
        }
        if when > net.now() {
            net.advance(when - net.now());
        }
        if returning {
            if let Some(Reverse((_, i))) = self.returns.pop() {
                net.join(i as usize);
                self.counts.joins += 1;
            }
        } else if let Some(i) = self.pick_departing(net) {
            net.leave(i);
            self.counts.departures += 1;
            let back = after(net.now(), self.exponential(self.rate));
            self.returns.push(Reverse((back, i as u32)));
        }
        self.draw_departure(net);
        true
    }

    /// Draws when the next servent leaves, from now: exponential with rate `rate` per
    /// servent that may leave (up, not the origin).
    fn draw_departure(&mut self, net: &Network) {
        let may_leave = net.len().saturating_sub(1 + self.returns.len());
        self.next_departure = if self.rate > 0.0 && may_leave > 0 {
            let gap = self.exponential(self.rate * may_leave as f64);
            after(net.now(), gap)
        } else {
            Duration::MAX
        };
    }

    /// A servent that is up and not the origin, uniformly (rejection), else the first
    /// such after a random one.
    fn pick_departing(&mut self, net: &Network) -> Option<NodeId> {
        let n = net.len();
        let may_leave = |i: NodeId| i != self.origin && net.is_up(i);
        for _ in 0..PICKS_BEFORE_SCAN {
            let i = self.rng.gen_range(0..n);
            if may_leave(i) {
                return Some(i);
            }
        }
        let start = self.rng.gen_range(0..n);
        (0..n).map(|k| (start + k) % n).find(|&i| may_leave(i))
    }

    /// An exponential duration of rate `rate` per second.
    fn exponential(&mut self, rate: f64) -> Duration {
        let u: f64 = self.rng.gen();
        Duration::try_from_secs_f64(-(1.0 - u).ln() / rate).unwrap_or(Duration::MAX)
    }
}

/// `now + gap`, saturating.
fn after(now: Duration, gap: Duration) -> Duration {
    now.checked_add(gap).unwrap_or(Duration::MAX)
}
