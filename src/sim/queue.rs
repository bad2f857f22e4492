//! The simulator's queue of descriptors in flight, ordered exactly by (due time, sequence
//! number), built for integer latencies rather than as a comparison heap.
//!
//! With a fixed latency every delivery is due at `now + latency` and `now` never goes
//! back, so due times are nondecreasing in scheduling order: a FIFO of per-instant
//! batches is an exact priority queue. When its instant comes a batch is ordered by
//! receiving servent (a stable radix sort on the receiver: each servent gets its copies in
//! scheduling order), so each servent's copies are handled back to back while its state
//! is in cache and servents are visited in memory order. No servent can observe the
//! order across servents within an instant, as nothing sent at `t` arrives before
//! `t + latency`.
//!
//! With random latencies (or after the latency changed with descriptors in flight) a
//! calendar queue: time is cut into buckets of `2^shift` ns, a ring of buckets covers the
//! latency range, and the earliest bucket is sorted by (due time, sequence) when it comes
//! up; a delivery beyond the ring's reach waits in an overflow heap. Pushing is O(1),
//! and each delivery is sorted once, within its bucket.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use crate::proto::Descriptor;

/// One descriptor on a link, due at `at`.
pub(super) struct Delivery {
    pub(super) at: Duration,
    pub(super) seq: u64,
    pub(super) from: u32,
    pub(super) to: u32,
    pub(super) descriptor: Descriptor,
}

impl Delivery {
    /// The exact order key: due time in ns, then scheduling order.
    fn key(&self) -> (u64, u64) {
        (nanos(self.at), self.seq)
    }
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Delivery {}
impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delivery {
    /// Reversed: the overflow heap pops the earliest (then first scheduled) delivery.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// A virtual time in whole nanoseconds (saturating: 584 years of virtual time).
pub(super) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Below this many deliveries a batch is ordered by a comparison sort; at or above it by
/// the radix sort (whose counter passes cost more than they save on a few items).
const RADIX_MIN_BATCH: usize = 1024;
/// How many deliveries ahead of the one handled the queue prefetches: a servent handles
/// a descriptor in well under a microsecond, about as long as a few memory reads take.
pub(super) const PREFETCH_AHEAD: usize = 4;

/// Bytes per cache line on the machines this runs on (x86-64, most ARM cores).
const CACHE_LINE: usize = 64;

/// Hints the CPU to fetch every cache line of `*r`: a servent's state spans sixteen
/// lines, and handling one descriptor reads several of them; a 56-byte batch item often
/// straddles two.
#[inline]
pub(super) fn prefetch_all<T>(r: &T) {
    let start = (r as *const T).cast::<u8>();
    let size = std::mem::size_of::<T>();
    for offset in (0..size).step_by(CACHE_LINE) {
        prefetch_addr(start.wrapping_add(offset));
    }
    // The last byte: an object not aligned to a line ends on one more.
    prefetch_addr(start.wrapping_add(size.saturating_sub(1)));
}

/// Hints the CPU to fetch the cache line holding `p` (nothing else happens; a no-op off
/// x86-64).
#[inline]
fn prefetch_addr(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults (whatever the address), reads
    // nothing into the program and changes no state; callers pass addresses inside a
    // live object anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Bits of the receiver sorted per radix pass: two passes cover 4 million servents, and
/// the 2048 counters stay in L1.
const RADIX_BITS: u32 = 11;
/// Counters per radix pass.
const RADIX_BUCKETS: usize = 1 << RADIX_BITS;

/// A delivery as a batch keeps it (56 bytes, not 80): its due time is the batch's, its
/// receiver is in its ordering key, its sequence number an offset from the batch's first.
struct Item {
    descriptor: Descriptor,
    from: u32,
    /// `seq - first_seq`: a batch spans fewer than 2^32 sequence numbers (each is an event
    /// scheduled within one instant, and 2^32 of them would not fit in memory).
    seq_offset: u32,
}

/// Deliveries due at one instant, processed as a batch.
#[derive(Default)]
pub(super) struct Batch {
    at: Duration,
    /// Sequence number of the first delivery scheduled into the batch: orders the batch
    /// against timers due at the same instant.
    first_seq: u64,
    /// In scheduling order; taken out (`None`) as they are processed.
    items: Vec<Option<Item>>,
    /// One key per item, (receiver << 32 | position), written as items are pushed (so
    /// ordering never reads the items); sorted ascending once the batch is current.
    order: Vec<u64>,
    /// The first key of `order` not yet processed.
    next: usize,
    /// The largest receiver in the batch (how many radix digits to sort on).
    max_to: u32,
}

impl Batch {
    /// Orders the batch by receiving servent, keeping scheduling order per servent: the
    /// keys are unique and carry the position, so sorting them by receiver alone (stably)
    /// or whole gives the same order.
    fn sort_by_receiver(&mut self, scratch: &mut Vec<u64>) {
        self.next = 0;
        if self.order.len() < RADIX_MIN_BATCH {
            self.order.sort_unstable();
            return;
        }
        // LSD radix sort on the receiver's digits, as many as the largest one has.
        let passes = (32 - self.max_to.leading_zeros()).div_ceil(RADIX_BITS);
        scratch.clear();
        scratch.resize(self.order.len(), 0);
        let mut count = [0usize; RADIX_BUCKETS + 1];
        for pass in 0..passes {
            let shift = 32 + RADIX_BITS * pass;
            let digit = |k: u64| ((k >> shift) as usize) & (RADIX_BUCKETS - 1);
            count.iter_mut().for_each(|c| *c = 0);
            for &k in &self.order {
                count[digit(k) + 1] += 1;
            }
            for i in 1..=RADIX_BUCKETS {
                count[i] += count[i - 1];
            }
            for &k in &self.order {
                let b = digit(k);
                scratch[count[b]] = k;
                count[b] += 1;
            }
            std::mem::swap(&mut self.order, scratch);
        }
    }

    /// Appends a delivery and its ordering key.
    fn push(&mut self, d: Delivery) {
        self.max_to = self.max_to.max(d.to);
        self.order
            .push((u64::from(d.to) << 32) | self.items.len() as u64);
        let seq_offset = u32::try_from(d.seq - self.first_seq).unwrap_or(u32::MAX);
        self.items.push(Some(Item {
            descriptor: d.descriptor,
            from: d.from,
            seq_offset,
        }));
    }

    /// Empties the batch for reuse, keeping its buffers.
    fn clear(&mut self) {
        self.items.clear();
        self.order.clear();
        self.next = 0;
        self.max_to = 0;
    }

    fn pop(&mut self) -> Option<Delivery> {
        let key = *self.order.get(self.next)?;
        self.next += 1;
        // Items are read in receiver order, not the order they sit in: ask for one a few
        // places ahead now, so it is in cache when its turn comes (in a batch of tens of
        // thousands each read was a cache miss, most of the queue's cost).
        if let Some(&ahead) = self.order.get(self.next + PREFETCH_AHEAD) {
            prefetch_all(&self.items[(ahead & 0xFFFF_FFFF) as usize]);
        }
        let item = self.items[(key & 0xFFFF_FFFF) as usize].take()?;
        Some(Delivery {
            at: self.at,
            seq: self.first_seq + u64::from(item.seq_offset),
            from: item.from,
            to: (key >> 32) as u32,
            descriptor: item.descriptor,
        })
    }

    /// The receiver of the delivery `k` places after the next one, if any.
    fn receiver_ahead(&self, k: usize) -> Option<u32> {
        self.order.get(self.next + k).map(|&key| (key >> 32) as u32)
    }

    fn is_empty(&self) -> bool {
        self.next >= self.order.len()
    }
}

/// Buckets in the calendar ring at most: bounds its memory whatever the latency range.
const MAX_RING_BUCKETS: u64 = 4096;
/// Buckets the ring aims to spread the latency range over: sparse traffic (a few walkers)
/// scans few empty buckets, dense traffic sorts small buckets.
const TARGET_RING_BUCKETS: u64 = 256;

/// The calendar queue for random latencies (see the module comment).
pub(super) struct Calendar {
    /// Bucket width is `1 << shift` ns.
    shift: u32,
    /// Ring of `mask + 1` buckets (a power of two); absolute bucket `b` lives in slot
    /// `b & mask`, and the ring holds buckets `base + 1 ..= base + mask` only.
    ring: Vec<Vec<Delivery>>,
    mask: u64,
    ring_len: usize,
    /// Absolute bucket of `current`.
    base: u64,
    /// The earliest deliveries (bucket `base` and anything due no later), sorted
    /// descending by key so that `pop` takes the last. Empty only when the whole queue is.
    current: Vec<Delivery>,
    /// Deliveries beyond the ring's reach when scheduled.
    overflow: BinaryHeap<Delivery>,
}

impl Calendar {
    /// A calendar whose ring covers delays up to `span`.
    fn new(span: Duration) -> Calendar {
        let span = nanos(span).max(1);
        let shift = (span / TARGET_RING_BUCKETS).max(1).ilog2();
        let buckets = ((span >> shift) + 2)
            .next_power_of_two()
            .min(MAX_RING_BUCKETS);
        Calendar {
            shift,
            ring: (0..buckets).map(|_| Vec::new()).collect(),
            mask: buckets - 1,
            ring_len: 0,
            base: 0,
            current: Vec::new(),
            overflow: BinaryHeap::new(),
        }
    }

    fn bucket(&self, d: &Delivery) -> u64 {
        nanos(d.at) >> self.shift
    }

    fn push(&mut self, d: Delivery) {
        let b = self.bucket(&d);
        if self.current.is_empty() {
            // The queue is empty: this delivery starts it.
            self.base = b;
            self.current.push(d);
        } else if b <= self.base {
            // Due in (or before) the bucket being taken: into its sorted place.
            let key = d.key();
            let at = self.current.partition_point(|x| x.key() > key);
            self.current.insert(at, d);
        } else if b - self.base <= self.mask {
            self.ring[(b & self.mask) as usize].push(d);
            self.ring_len += 1;
        } else {
            self.overflow.push(d);
        }
    }

    fn peek_key(&self) -> Option<(Duration, u64)> {
        self.current.last().map(|d| (d.at, d.seq))
    }

    fn pop(&mut self) -> Option<Delivery> {
        let d = self.current.pop()?;
        if self.current.is_empty() {
            self.load_next();
        }
        Some(d)
    }

    /// Makes the earliest remaining bucket (ring or overflow) current, sorted.
    fn load_next(&mut self) {
        let mut next = None;
        if self.ring_len > 0 {
            next = (self.base + 1..=self.base + self.mask)
                .find(|&b| !self.ring[(b & self.mask) as usize].is_empty());
        }
        let overflow_next = self.overflow.peek().map(|d| self.bucket(d));
        let Some(b) = [next, overflow_next].into_iter().flatten().min() else {
            return;
        };
        self.base = b;
        if next == Some(b) {
            let slot = &mut self.ring[(b & self.mask) as usize];
            self.ring_len -= slot.len();
            std::mem::swap(&mut self.current, slot);
        }
        while self
            .overflow
            .peek()
            .is_some_and(|d| (nanos(d.at) >> self.shift) == b)
        {
            if let Some(d) = self.overflow.pop() {
                self.current.push(d);
            }
        }
        self.current
            .sort_unstable_by_key(|d| std::cmp::Reverse(d.key()));
    }

    fn drain_all(&mut self) -> Vec<Delivery> {
        let mut all: Vec<Delivery> = self.current.drain(..).collect();
        for slot in &mut self.ring {
            all.append(slot);
        }
        self.ring_len = 0;
        all.extend(self.overflow.drain());
        all
    }
}

/// Deliveries in flight, in exact (due time, sequence) order.
pub(super) enum Deliveries {
    /// Fixed latency, nothing in flight at another delay: per-instant batches.
    Batched {
        /// The batch being processed.
        current: Batch,
        pending: VecDeque<Batch>,
        /// Emptied batches kept for reuse (no allocation per instant).
        spare: Vec<Batch>,
        /// The radix sort's second buffer, reused.
        scratch: Vec<u64>,
    },
    /// Random latencies, or due times of mixed delays.
    Calendar(Calendar),
}

impl Deliveries {
    /// The queue for a fixed latency (`None`) or for delays up to `span`.
    pub(super) fn new(span: Option<Duration>) -> Deliveries {
        match span {
            None => Deliveries::Batched {
                current: Batch::default(),
                pending: VecDeque::new(),
                spare: Vec::new(),
                scratch: Vec::new(),
            },
            Some(span) => Deliveries::Calendar(Calendar::new(span)),
        }
    }

    pub(super) fn push(&mut self, d: Delivery) {
        match self {
            Deliveries::Batched { pending, spare, .. } => match pending.back_mut() {
                Some(b) if b.at == d.at => b.push(d),
                _ => {
                    let mut b = spare.pop().unwrap_or_default();
                    b.at = d.at;
                    b.first_seq = d.seq;
                    b.push(d);
                    pending.push_back(b);
                }
            },
            Deliveries::Calendar(c) => c.push(d),
        }
    }

    /// The (due time, order key) of the next delivery.
    pub(super) fn peek_key(&self) -> Option<(Duration, u64)> {
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
            Deliveries::Calendar(c) => c.peek_key(),
        }
    }

    pub(super) fn pop(&mut self) -> Option<Delivery> {
        match self {
            Deliveries::Batched {
                current,
                pending,
                spare,
                scratch,
            } => {
                if current.is_empty() {
                    let mut next = pending.pop_front()?;
                    next.sort_by_receiver(scratch);
                    let mut done = std::mem::replace(current, next);
                    done.clear();
                    spare.push(done);
                }
                current.pop()
            }
            Deliveries::Calendar(c) => c.pop(),
        }
    }

    /// The receiver of the delivery `k` places after the next one, when known cheaply
    /// (within the current batch at a fixed latency), so the network can prefetch it.
    pub(super) fn receiver_ahead(&self, k: usize) -> Option<u32> {
        match self {
            Deliveries::Batched { current, .. } => current.receiver_ahead(k),
            Deliveries::Calendar(_) => None,
        }
    }

    pub(super) fn drain_all(&mut self) -> Vec<Delivery> {
        match self {
            Deliveries::Batched {
                current, pending, ..
            } => {
                let mut all = Vec::new();
                while let Some(d) = current.pop() {
                    all.push(d);
                }
                for mut b in pending.drain(..) {
                    // Unsorted: its keys are in scheduling order.
                    b.next = 0;
                    while let Some(d) = b.pop() {
                        all.push(d);
                    }
                }
                all
            }
            Deliveries::Calendar(c) => c.drain_all(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::payload::Ping;
    use crate::proto::{Guid, Payload};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn delivery(at_ns: u64, seq: u64, to: u32) -> Delivery {
        Delivery {
            at: Duration::from_nanos(at_ns),
            seq,
            from: 0,
            to,
            descriptor: Descriptor::new(Guid::default(), 1, 0, Payload::Ping(Ping::default())),
        }
    }

    /// Pushes and pops as a simulation does (every push due no earlier than the last
    /// pop), checking the calendar against a sort of everything by (due time, sequence).
    #[test]
    fn calendar_pops_in_exact_time_and_sequence_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut q = Deliveries::new(Some(Duration::from_micros(900)));
        let (mut now, mut seq) = (0u64, 0u64);
        let mut popped = Vec::new();
        for round in 0..20_000 {
            for _ in 0..rng.gen_range(0..3) {
                seq += 1;
                // Mostly within the latency range, sometimes beyond (overflow), sometimes
                // due at once (the current bucket).
                let delay = match round % 7 {
                    0 => rng.gen_range(0..5_000_000),
                    1 => 0,
                    _ => rng.gen_range(100_000..=900_000),
                };
                q.push(delivery(now + delay, seq, 0));
            }
            if let Some(d) = q.pop() {
                now = nanos(d.at);
                popped.push(d.key());
            }
        }
        while let Some(d) = q.pop() {
            popped.push(d.key());
        }
        assert_eq!(popped.len() as u64, seq);
        assert!(popped.windows(2).all(|w| w[0] < w[1]), "out of order");
    }

    #[test]
    fn batch_order_is_by_receiver_then_scheduling_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for len in [3usize, 300, 5000, 40_000] {
            let mut q = Deliveries::new(None);
            let mut want = Vec::new();
            for seq in 0..len as u64 {
                let to = rng.gen_range(0..70_000u32);
                q.push(delivery(1000, seq, to));
                want.push((to, seq));
            }
            want.sort();
            let got: Vec<_> = std::iter::from_fn(|| q.pop().map(|d| (d.to, d.seq))).collect();
            assert_eq!(got, want, "batch of {len}");
        }
    }
}
