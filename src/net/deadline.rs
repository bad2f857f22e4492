//! The core's next deadline as the timer task sleeps for it, and the bell that wakes the
//! task early when an input sets a sooner one (a new ring, a walker's check).

use std::time::Duration;

use futures::channel::mpsc;

/// Kept in the shared state, so the deadline armed and the deadline noted after an input
/// are compared under the one lock: a sooner deadline never goes unnoticed.
pub struct DeadlineBell {
    /// What the timer task sleeps until (core time); None: it waits for the bell alone.
    armed: Option<Duration>,
    bell: mpsc::Sender<()>,
}

impl DeadlineBell {
    /// The bell and the receiver the timer task waits on.
    pub fn new() -> (DeadlineBell, mpsc::Receiver<()>) {
        // One pending ring is enough: the task re-reads the deadline when it wakes.
        let (bell, rx) = mpsc::channel(0);
        (DeadlineBell { armed: None, bell }, rx)
    }

    /// The timer task is about to sleep until `at`.
    pub fn arm(&mut self, at: Option<Duration>) {
        self.armed = at;
    }

    /// After an input: the core's next deadline is `next`. Rings when it is sooner than the
    /// one the task sleeps for.
    pub fn note(&mut self, next: Option<Duration>) {
        let Some(next) = next else {
            return;
        };
        if self.armed.is_none_or(|armed| next < armed) {
            // The task re-arms when it wakes; until then this is what it will sleep for,
            // so inputs setting the same deadline do not ring again.
            self.armed = Some(next);
            self.ring();
        }
    }

    /// Wakes the task whatever its deadline (shutdown).
    pub fn ring(&mut self) {
        // Full: a ring is already pending, which is all the task needs.
        let _ = self.bell.try_send(());
    }
}
