//! Which descriptors in flight survive churn (`sim::churn`): each servent's current
//! session began at a sequence number of the network's event queue, and a delivery
//! scheduled before either end's session began (its link closed since) is lost, as is
//! anything for a servent that is down. Without churn nothing is kept and nothing lost.

use super::datagrams::DATAGRAM;
use super::queue::Delivery;

/// `first_seq` of a servent that is down: every delivery to or over its links is lost.
const DOWN: u64 = u64::MAX;

/// Per servent, the first sequence number its current session's links carry.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    /// Empty until the first servent leaves (then one entry per servent; 0: up since
    /// the start).
    first_seq: Vec<u64>,
    /// Deliveries lost to churn since the network was built.
    pub(super) lost: u64,
}

impl Sessions {
    /// Servent `i` is down (left and not back).
    pub(super) fn is_down(&self, i: usize) -> bool {
        self.first_seq.get(i) == Some(&DOWN)
    }

    /// Servent `i` of `n` goes down: what is in flight to it or from it is lost.
    pub(super) fn stop(&mut self, i: usize, n: usize) {
        if self.first_seq.len() < n {
            self.first_seq.resize(n, 0);
        }
        self.first_seq[i] = DOWN;
    }

    /// Servent `i` is up again from sequence number `seq` on: what its old links had in
    /// flight stays lost.
    pub(super) fn start(&mut self, i: usize, seq: u64) {
        if let Some(s) = self.first_seq.get_mut(i) {
            *s = seq;
        }
    }

    /// Whether `d` is lost to churn (counted): its receiver is down or restarted since it
    /// was sent, or, on a link (not a datagram), its sender is.
    pub(super) fn loses(&mut self, d: &Delivery) -> bool {
        if self.first_seq.is_empty() {
            return false;
        }
        let began = |i: u32| self.first_seq.get(i as usize).copied().unwrap_or(0);
        let on_link = d.from & DATAGRAM == 0;
        let lost = began(d.to) > d.seq || (on_link && began(d.from) > d.seq);
        self.lost += u64::from(lost);
        lost
    }
}
