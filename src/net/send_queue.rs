//! A link's bounded send queue with priority dropping: when a slow peer's queue is full,
//! relayed broadcasts go first, replies and our own traffic last. A stuck peer therefore
//! never blocks routing to the others and never grows memory without bound.

use std::collections::VecDeque;
use std::sync::Mutex;

use futures::channel::mpsc;

use crate::core::Priority;
use crate::proto::Descriptor;

/// Descriptors a link may have waiting. At ~100 bytes a typical descriptor that is about
/// 200 KiB of wire data: several round trips of a fast link, and a hard cap on what a
/// stuck peer costs us.
pub const SEND_QUEUE_CAPACITY: usize = 2048;

const CLASSES: usize = 3;

fn class(p: Priority) -> usize {
    match p {
        Priority::RelayedBroadcast => 0,
        Priority::Reply => 1,
        Priority::Own => 2,
    }
}

#[derive(Default)]
struct Inner {
    /// One FIFO per priority class, lowest first.
    classes: [VecDeque<Descriptor>; CLASSES],
    len: usize,
    dropped: [u64; CLASSES],
    closed: bool,
}

/// Shared between the router (pushes) and the link's writer task (pops).
pub struct SendQueue {
    inner: Mutex<Inner>,
    capacity: usize,
    doorbell: mpsc::Sender<()>,
}

/// What the writer gets from [`SendQueue::take_batch`].
pub enum Batch {
    Descriptors(Vec<Descriptor>),
    /// Closed and drained: the writer flushes and ends.
    Closed,
    /// Nothing queued: wait for the doorbell.
    Empty,
}

impl SendQueue {
    /// A queue and the doorbell receiver its writer waits on.
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

    /// Queues `d`; when full, makes room by dropping the oldest descriptor of the lowest
    /// class below `priority`, or drops `d` itself. Returns false when `d` was dropped.
    pub fn push(&self, d: Descriptor, priority: Priority) -> bool {
        let c = class(priority);
        let was_empty = {
            let mut q = self.lock();
            if q.closed {
                return false;
            }
            if q.len >= self.capacity {
                match (0..c).find(|&lower| !q.classes[lower].is_empty()) {
                    Some(lower) => {
                        q.classes[lower].pop_front();
                        q.dropped[lower] += 1;
                        q.len -= 1;
                    }
                    None => {
                        q.dropped[c] += 1;
                        return false;
                    }
                }
            }
            q.classes[c].push_back(d);
            q.len += 1;
            q.len == 1
        };
        // The writer only sleeps after finding the queue empty, so only the push that
        // makes it non-empty needs to wake it.
        if was_empty {
            self.ring();
        }
        true
    }

    fn ring(&self) {
        // A full doorbell already means "wake up"; a closed one means the writer is gone.
        let _ = self.doorbell.clone().try_send(());
    }

    /// Takes up to `max` descriptors, highest class first.
    pub fn take_batch(&self, max: usize) -> Batch {
        let mut q = self.lock();
        if q.len == 0 {
            return if q.closed {
                Batch::Closed
            } else {
                Batch::Empty
            };
        }
        let mut out = Vec::with_capacity(q.len.min(max));
        for c in (0..CLASSES).rev() {
            while out.len() < max {
                match q.classes[c].pop_front() {
                    Some(d) => out.push(d),
                    None => break,
                }
            }
        }
        q.len -= out.len();
        Batch::Descriptors(out)
    }

    /// No more pushes; the writer sends what is queued, then ends.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ring();
    }

    pub fn len(&self) -> usize {
        self.lock().len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Descriptors dropped because the queue was full, by class (relayed, reply, own).
    pub fn dropped(&self) -> [u64; CLASSES] {
        self.lock().dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::payload::Ping;
    use crate::proto::{Guid, Payload};

    fn d(n: u8) -> Descriptor {
        Descriptor::new(Guid([n; 16]), 1, 0, Payload::Ping(Ping::default()))
    }

    #[test]
    fn full_queue_drops_relayed_before_replies_and_own() {
        let (q, _rx) = SendQueue::new(3);
        assert!(q.push(d(1), Priority::RelayedBroadcast));
        assert!(q.push(d(2), Priority::RelayedBroadcast));
        assert!(q.push(d(3), Priority::Reply));
        // Full: an own descriptor evicts the oldest relayed one.
        assert!(q.push(d(4), Priority::Own));
        // Full: another relayed one has nothing lower to evict and is dropped.
        assert!(!q.push(d(5), Priority::RelayedBroadcast));
        assert_eq!(q.dropped(), [2, 0, 0]);
        let Batch::Descriptors(out) = q.take_batch(10) else {
            panic!("batch")
        };
        let ids: Vec<u8> = out.iter().map(|d| d.guid.0[0]).collect();
        assert_eq!(ids, vec![4, 3, 2]);
        q.close();
        assert!(matches!(q.take_batch(10), Batch::Closed));
    }
}
