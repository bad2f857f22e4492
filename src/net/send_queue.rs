//! A link's bounded send queue with priority dropping: when a slow peer's queue is full,
//! relayed broadcasts go first, replies and our own traffic last. A stuck peer therefore
//! never blocks routing to the others and never grows memory without bound.
//!
//! The queue holds encoded bytes (one buffer per priority class, with each descriptor's
//! length), not descriptor objects: the router encodes on its own thread and the writer
//! only copies bytes, so no allocation crosses threads and nothing is encoded twice.

use std::collections::VecDeque;
use std::sync::Mutex;

use futures::channel::mpsc;

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
struct Class {
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

    /// Moves whole descriptors, oldest first, into `out` while it stays under `max`.
    fn take(&mut self, out: &mut Vec<u8>, max: usize) -> usize {
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

#[derive(Default)]
struct Inner {
    classes: [Class; CLASSES],
    bytes: usize,
    entries: usize,
    dropped: [u64; CLASSES],
    closed: bool,
}

/// Shared between the router (pushes) and the link's writer task (takes).
pub struct SendQueue {
    inner: Mutex<Inner>,
    capacity: usize,
    doorbell: mpsc::Sender<()>,
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
            if q.closed {
                return false;
            }
            while q.bytes + bytes.len() > self.capacity {
                let Some(lower) = (0..c).find(|&l| !q.classes[l].lens.is_empty()) else {
                    q.dropped[c] += 1;
                    return false;
                };
                let freed = q.classes[lower].drop_oldest();
                q.bytes -= freed;
                q.entries -= 1;
                q.dropped[lower] += 1;
            }
            q.classes[c].push(bytes);
            q.bytes += bytes.len();
            q.entries += 1;
            q.entries == 1
        };
        // The writer only sleeps after finding the queue empty, so only the push that
        // makes it non-empty needs to wake it.
        if was_empty {
            let _ = self.doorbell.clone().try_send(());
        }
        true
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
        Batch::Descriptors(n)
    }

    /// No more pushes; the writer sends what is queued, then ends.
    pub fn close(&self) {
        self.lock().closed = true;
        let _ = self.doorbell.clone().try_send(());
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
}
