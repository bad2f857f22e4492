//! Upload slots: how many file bodies the HTTP side sends at once, and the guard a body
//! holds its slot with.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Upload slots: how many file bodies may be sent at once.
pub struct UploadSlots {
    max: usize,
    active: Arc<AtomicUsize>,
}

/// Holds one upload slot until dropped (when the body is sent or the client goes).
pub struct SlotGuard(Arc<AtomicUsize>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl UploadSlots {
    pub fn new(max: usize) -> UploadSlots {
        UploadSlots {
            max,
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// A slot, or `None` when all are in use.
    pub fn try_acquire(&self) -> Option<SlotGuard> {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| SlotGuard(Arc::clone(&self.active)))
    }
}
