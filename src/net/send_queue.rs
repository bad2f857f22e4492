//! A link's bounded send queue with priority dropping: when a slow peer's queue is full,
//! relayed broadcasts go first, replies and our own traffic last. A stuck peer therefore
//! never blocks routing to the others and never grows memory without bound.
//!
//! The queue holds encoded bytes (one buffer per priority class, with each descriptor's
//! length), not descriptor objects: the router encodes on its own thread and the writer
//! only writes bytes, so nothing is encoded twice. The router stages a whole batch of a
//! link's descriptors in an [`Outbox`] and hands it over under one lock acquisition; a
//! class handed to an empty queue, and a class the writer takes whole, move by swapping
//! buffers, not by copying.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll};

use futures::channel::mpsc;
use futures::task::AtomicWaker;

use crate::core::Priority;

/// Bytes a link may have waiting: several round trips of a fast link (~2,900 typical
/// descriptors), and a hard cap on what a stuck peer costs us.
pub(super) const SEND_QUEUE_BYTES: usize = 256 * 1024;

const CLASSES: usize = 3;

fn class(p: Priority) -> usize {
    match p {
        Priority::RelayedBroadcast => 0,
        Priority::Reply => 1,
        Priority::Own => 2,
    }
}

/// The queued descriptors of one priority class, oldest first.
#[derive(Default)]
pub(super) struct Class {
    buf: Vec<u8>,
    /// Start of the oldest queued descriptor in `buf`.
    start: usize,
    lens: VecDeque<u32>,
}

impl Class {
    fn drop_oldest(&mut self) -> usize {
        let n = self.lens.pop_front().unwrap_or(0) as usize;
        self.start += n;
        if self.lens.is_empty() {
            self.buf.clear();
            self.start = 0;
        }
        n
    }

    fn push(&mut self, bytes: &[u8]) {
        // Reclaim the space of sent or dropped descriptors once it is most of the buffer.
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        self.lens.push_back(bytes.len() as u32);
    }

    /// Moves whole descriptors, oldest first, into `out` while it stays under `max`; an
    /// empty `out` takes the whole class by swapping buffers when it fits.
    fn take(&mut self, out: &mut Vec<u8>, max: usize) -> usize {
        if out.is_empty() && self.start == 0 && !self.lens.is_empty() && self.buf.len() <= max {
            std::mem::swap(out, &mut self.buf);
            self.buf.clear();
            let n = self.lens.len();
            self.lens.clear();
            return n;
        }
        let mut n = 0;
        let mut end = self.start;
        while let Some(&len) = self.lens.front() {
            if n > 0 && out.len() + (end - self.start) + len as usize > max {
                break;
            }
            end += len as usize;
            n += 1;
            self.lens.pop_front();
        }
        out.extend_from_slice(&self.buf[self.start..end]);
        self.start = end;
        if self.lens.is_empty() {
            self.buf.clear();
            self.start = 0;
        }
        n
    }
}

/// Descriptors the router staged for one link during one batch of input, by class, not
/// yet handed to its queue (see [`SendQueue::push_outbox`]). Owned by the router, so
/// filling it takes no lock.
#[derive(Default)]
pub struct Outbox {
    classes: [Class; CLASSES],
}

/// Bytes an idle [`Outbox`] or writer buffer keeps for reuse; more is freed, so a link
/// that saw one burst does not hold its buffers for ever.
pub(super) const KEEP_IDLE_BYTES: usize = 16 * 1024;

impl Outbox {
    /// Stages one encoded descriptor.
    pub fn add(&mut self, bytes: &[u8], priority: Priority) {
        let c = &mut self.classes[class(priority)];
        c.buf.extend_from_slice(bytes);
        c.lens.push_back(bytes.len() as u32);
    }

    /// Whether nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.classes.iter().all(|c| c.lens.is_empty())
    }
}

#[derive(Default)]
struct Inner {
    classes: [Class; CLASSES],
    bytes: usize,
    entries: usize,
    dropped: [u64; CLASSES],
    closed: bool,
}

impl Inner {
    /// Queues one descriptor of class `c`, first dropping the oldest of lower classes
    /// while it does not fit; false (and counted) when it is dropped itself.
    fn push_one(&mut self, bytes: &[u8], c: usize, capacity: usize) -> bool {
        while self.bytes + bytes.len() > capacity {
            let Some(lower) = (0..c).find(|&l| !self.classes[l].lens.is_empty()) else {
                self.dropped[c] += 1;
                return false;
            };
            let freed = self.classes[lower].drop_oldest();
            self.bytes -= freed;
            self.entries -= 1;
            self.dropped[lower] += 1;
        }
        self.classes[c].push(bytes);
        self.bytes += bytes.len();
        self.entries += 1;
        true
    }
}

/// Shared between the router (pushes) and the link's writer task (takes).
pub struct SendQueue {
    inner: Mutex<Inner>,
    capacity: usize,
    doorbell: mpsc::Sender<()>,
    /// Wakes a router waiting for the writer to make room ([`SendQueue::drained`]).
    room: AtomicWaker,
    /// Someone waits on `room`: only then does the writer wake it.
    room_wanted: AtomicBool,
}

/// What the writer gets from [`SendQueue::take`].
#[derive(Debug, PartialEq, Eq)]
pub enum Batch {
    /// This many descriptors were appended to the buffer.
    Descriptors(usize),
    /// Closed and drained: the writer flushes and ends.
    Closed,
    /// Nothing queued: wait for the doorbell.
    Empty,
}

impl SendQueue {
    /// A queue of at most `capacity` bytes and the doorbell receiver its writer waits on.
    pub fn new(capacity: usize) -> (SendQueue, mpsc::Receiver<()>) {
        let (tx, rx) = mpsc::channel(1);
        (
            SendQueue {
                inner: Mutex::new(Inner::default()),
                capacity: capacity.max(1),
                doorbell: tx,
                room: AtomicWaker::new(),
                room_wanted: AtomicBool::new(false),
            },
            rx,
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues one encoded descriptor; when full, makes room by dropping the oldest
    /// descriptors of lower classes, or drops this one. Returns false when it was dropped.
    pub fn push(&self, bytes: &[u8], priority: Priority) -> bool {
        let c = class(priority);
        let was_empty = {
            let mut q = self.lock();
            if q.closed || !q.push_one(bytes, c, self.capacity) {
                return false;
            }
            q.entries == 1
        };
        // The writer only sleeps after finding the queue empty, so only the push that
        // makes it non-empty needs to wake it.
        if was_empty {
            let _ = self.doorbell.clone().try_send(());
        }
        true
    }

    /// Queues everything staged in `outbox` under one lock acquisition, lowest class first
    /// (so a higher class may still evict a lower one, as [`SendQueue::push`] does), and
    /// leaves the outbox empty. Returns the bytes queued now.
    pub fn push_outbox(&self, outbox: &mut Outbox) -> usize {
        let mut dropped = 0;
        let was_empty = {
            let mut q = self.lock();
            let was_empty = q.entries == 0;
            for c in 0..CLASSES {
                let staged = &mut outbox.classes[c];
                if staged.lens.is_empty() {
                    continue;
                }
                if q.closed {
                    dropped += staged.lens.len() as u64;
                } else if q.classes[c].lens.is_empty()
                    && q.bytes + staged.buf.len() <= self.capacity
                {
                    // The common case: it all fits in an empty class. Swap, do not copy.
                    let n = staged.lens.len();
                    let len = staged.buf.len();
                    let qc = &mut q.classes[c];
                    qc.buf.clear();
                    qc.start = 0;
                    std::mem::swap(&mut qc.buf, &mut staged.buf);
                    std::mem::swap(&mut qc.lens, &mut staged.lens);
                    q.bytes += len;
                    q.entries += n;
                } else {
                    let mut pos = 0;
                    for &len in &staged.lens {
                        let bytes = &staged.buf[pos..pos + len as usize];
                        pos += len as usize;
                        if !q.push_one(bytes, c, self.capacity) {
                            dropped += 1;
                        }
                    }
                }
                staged.buf.clear();
                staged.lens.clear();
                if staged.buf.capacity() > KEEP_IDLE_BYTES {
                    staged.buf = Vec::new();
                }
            }
            if q.closed {
                q.dropped[CLASSES - 1] += dropped;
            }
            (was_empty && q.entries > 0, q.bytes)
        };
        let (was_empty, bytes) = was_empty;
        if was_empty {
            let _ = self.doorbell.clone().try_send(());
        }
        bytes
    }

    /// The queue's capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Resolves once at most `level` bytes are queued (or the queue closed): the writer
    /// made room.
    pub fn drained(&self, level: usize) -> Drained<'_> {
        Drained { queue: self, level }
    }

    /// Appends queued descriptors to `out`, highest class first, up to about `max` bytes
    /// (always at least one).
    pub fn take(&self, out: &mut Vec<u8>, max: usize) -> Batch {
        let mut q = self.lock();
        if q.entries == 0 {
            return if q.closed {
                Batch::Closed
            } else {
                Batch::Empty
            };
        }
        let before = out.len();
        let mut n = 0;
        for c in (0..CLASSES).rev() {
            n += q.classes[c].take(out, before + max);
        }
        q.bytes -= out.len() - before;
        q.entries -= n;
        drop(q);
        if self.room_wanted.swap(false, Ordering::AcqRel) {
            self.room.wake();
        }
        Batch::Descriptors(n)
    }

    /// No more pushes; the writer sends what is queued, then ends.
    pub fn close(&self) {
        self.lock().closed = true;
        let _ = self.doorbell.clone().try_send(());
        self.room.wake();
    }

    /// Descriptors queued.
    pub fn len(&self) -> usize {
        self.lock().entries
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes queued.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Descriptors dropped because the queue was full, by class (relayed, reply, own).
    pub fn dropped(&self) -> [u64; CLASSES] {
        self.lock().dropped
    }
}

/// The future of [`SendQueue::drained`].
pub struct Drained<'a> {
    queue: &'a SendQueue,
    level: usize,
}

impl Future for Drained<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let q = self.queue;
        // Register first, then look: a take between the two still wakes us.
        q.room.register(cx.waker());
        q.room_wanted.store(true, Ordering::Release);
        let inner = q.lock();
        if inner.closed || inner.bytes <= self.level {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_queue_drops_relayed_before_replies_and_own() {
        let (q, _rx) = SendQueue::new(30);
        assert!(q.push(&[1; 10], Priority::RelayedBroadcast));
        assert!(q.push(&[2; 10], Priority::RelayedBroadcast));
        assert!(q.push(&[3; 10], Priority::Reply));
        // Full: an own descriptor evicts the oldest relayed one.
        assert!(q.push(&[4; 10], Priority::Own));
        // Full: another relayed one has nothing lower to evict and is dropped.
        assert!(!q.push(&[5; 10], Priority::RelayedBroadcast));
        assert_eq!(q.dropped(), [2, 0, 0]);
        assert_eq!((q.len(), q.bytes()), (3, 30));
        let mut out = Vec::new();
        assert_eq!(q.take(&mut out, 1000), Batch::Descriptors(3));
        let firsts: Vec<u8> = out.chunks(10).map(|c| c[0]).collect();
        assert_eq!(
            firsts,
            vec![4, 3, 2],
            "own, then replies, then relayed; each oldest first"
        );
        assert_eq!(q.take(&mut out, 1000), Batch::Empty);
        q.close();
        assert_eq!(q.take(&mut out, 1000), Batch::Closed);
        assert!(!q.push(&[6; 10], Priority::Own), "closed");
    }

    #[test]
    fn take_respects_the_byte_budget_but_always_moves_one() {
        let (q, _rx) = SendQueue::new(1000);
        for i in 0..5 {
            q.push(&[i; 100], Priority::Reply);
        }
        let mut out = Vec::new();
        assert_eq!(q.take(&mut out, 250), Batch::Descriptors(2));
        assert_eq!(q.take(&mut out, 10), Batch::Descriptors(1));
        assert_eq!(out.len(), 300);
        assert_eq!(q.len(), 2);
        // A descriptor larger than the whole queue is dropped, not queued.
        assert!(!q.push(&[9; 2000], Priority::Own));
    }

    #[test]
    fn an_outbox_is_queued_at_once_with_the_same_drop_rule() {
        let (q, mut rx) = SendQueue::new(40);
        let mut out = Outbox::default();
        out.add(&[1; 10], Priority::RelayedBroadcast);
        out.add(&[2; 10], Priority::RelayedBroadcast);
        out.add(&[3; 10], Priority::Reply);
        assert_eq!(q.push_outbox(&mut out), 30, "bytes queued");
        assert!(out.is_empty());
        assert!(rx.try_recv().is_ok(), "the writer is woken once");
        // Now 30 of 40 bytes: two more relayed do not both fit; an own one evicts.
        out.add(&[4; 10], Priority::RelayedBroadcast);
        out.add(&[5; 10], Priority::RelayedBroadcast);
        out.add(&[6; 10], Priority::Own);
        assert_eq!(q.push_outbox(&mut out), 40);
        assert_eq!(
            q.dropped(),
            [2, 0, 0],
            "one relayed dropped for lack of room, the oldest evicted by the own one"
        );
        assert_eq!(
            q.dropped(),
            [2, 0, 0],
            "and the own one evicted the oldest relayed"
        );
        assert!(rx.try_recv().is_err(), "no second wake while non-empty");
        let mut bytes = Vec::new();
        assert_eq!(q.take(&mut bytes, 1000), Batch::Descriptors(4));
        let firsts: Vec<u8> = bytes.chunks(10).map(|c| c[0]).collect();
        assert_eq!(firsts, vec![6, 3, 2, 4]);
        // A whole class swaps into an empty buffer: nothing is left behind.
        out.add(&[7; 10], Priority::Reply);
        q.push_outbox(&mut out);
        let mut whole = Vec::new();
        assert_eq!(q.take(&mut whole, 1000), Batch::Descriptors(1));
        assert_eq!((whole, q.len(), q.bytes()), (vec![7; 10], 0, 0));
        q.close();
        out.add(&[8; 10], Priority::Own);
        assert_eq!(q.push_outbox(&mut out), 0);
        assert_eq!(q.dropped(), [2, 0, 1], "closed: dropped");
    }

    #[test]
    fn drained_resolves_when_the_writer_takes_below_the_level() {
        use futures::task::noop_waker_ref;
        let (q, _rx) = SendQueue::new(100);
        q.push(&[1; 60], Priority::Reply);
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut wait = Box::pin(q.drained(50));
        assert!(wait.as_mut().poll(&mut cx).is_pending(), "60 bytes > 50");
        q.take(&mut Vec::new(), 1000);
        assert!(wait.as_mut().poll(&mut cx).is_ready(), "empty now");
        assert!(Box::pin(q.drained(0)).as_mut().poll(&mut cx).is_ready());
    }
}
