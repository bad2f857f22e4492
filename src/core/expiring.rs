//! A map whose entries expire after a fixed lifetime and whose size is bounded: the
//! building block of the duplicate cache and the reverse-path route tables.
//!
//! Entries live `lifetime` after insertion. Expiry order equals insertion order, so a FIFO
//! of insertions gives O(1) amortised expiry and eviction: when full, the oldest entry
//! goes first. A lookup never returns an expired entry, even before `expire` runs.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

/// A live or expired value with the time its lifetime ends.
#[derive(Debug, Clone)]
struct Slot<V> {
    value: V,
    expires: Duration,
}

/// One insertion, in insertion (= expiry) order. Stale once its key was put again: the
/// map's slot then carries a later `expires`.
#[derive(Debug, Clone, Copy)]
struct Inserted<K> {
    key: K,
    expires: Duration,
}

#[derive(Debug, Clone)]
pub(super) struct ExpiringMap<K, V> {
    map: HashMap<K, Slot<V>, ahash::RandomState>,
    order: VecDeque<Inserted<K>>,
    lifetime: Duration,
    capacity: usize,
}

impl<K: Hash + Eq + Copy, V> ExpiringMap<K, V> {
    pub(super) fn new(lifetime: Duration, capacity: usize) -> Self {
        ExpiringMap {
            map: HashMap::with_hasher(ahash::RandomState::new()),
            order: VecDeque::new(),
            lifetime,
            capacity: capacity.max(1),
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The live value for `key`.
    pub(super) fn get(&self, key: &K, now: Duration) -> Option<&V> {
        match self.map.get(key) {
            Some(slot) if slot.expires > now => Some(&slot.value),
            _ => None,
        }
    }

    /// The live value for `key`, mutable (its lifetime is not restarted).
    pub(super) fn get_mut(&mut self, key: &K, now: Duration) -> Option<&mut V> {
        match self.map.get_mut(key) {
            Some(slot) if slot.expires > now => Some(&mut slot.value),
            _ => None,
        }
    }

    /// Inserts `key` unless a live entry exists, in one lookup when it does: `None` when
    /// inserted, the live value when it was already there (then `value` is dropped).
    pub(super) fn insert_new_or_get(&mut self, key: K, value: V, now: Duration) -> Option<&mut V> {
        let live = matches!(self.map.get(&key), Some(slot) if slot.expires > now);
        if live {
            return self.map.get_mut(&key).map(|slot| &mut slot.value);
        }
        self.put(key, value, now);
        None
    }

    /// Removes `key` (live or not) and returns its value if it was live.
    pub(super) fn remove(&mut self, key: &K, now: Duration) -> Option<V> {
        match self.map.remove(key) {
            Some(slot) if slot.expires > now => Some(slot.value),
            _ => None,
        }
    }

    /// Live entries, most recently inserted first.
    pub(super) fn iter_newest(&self, now: Duration) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.order
            .iter()
            .rev()
            .filter_map(move |ins| match self.map.get(&ins.key) {
                Some(slot) if slot.expires == ins.expires && slot.expires > now => {
                    Some((&ins.key, &slot.value))
                }
                _ => None,
            })
    }

    pub(super) fn contains(&self, key: &K, now: Duration) -> bool {
        self.get(key, now).is_some()
    }

    /// Inserts `key` unless a live entry exists. Returns false (and changes nothing) when
    /// the key is live: for the duplicate cache that means "seen before".
    pub(super) fn insert_new(&mut self, key: K, value: V, now: Duration) -> bool {
        self.make_room(now);
        let expires = now + self.lifetime;
        match self.map.entry(key) {
            Entry::Occupied(e) if e.get().expires > now => return false,
            Entry::Occupied(mut e) => *e.get_mut() = Slot { value, expires },
            Entry::Vacant(e) => {
                e.insert(Slot { value, expires });
            }
        }
        self.order.push_back(Inserted { key, expires });
        true
    }

    /// Expires what is due and evicts the oldest entries while the map is full.
    fn make_room(&mut self, now: Duration) {
        self.expire(now);
        while self.map.len() >= self.capacity {
            if !self.evict_oldest() {
                break;
            }
        }
    }

    /// Inserts or replaces `key`, restarting its lifetime.
    pub(super) fn put(&mut self, key: K, value: V, now: Duration) {
        self.make_room(now);
        let expires = now + self.lifetime;
        self.map.insert(key, Slot { value, expires });
        self.order.push_back(Inserted { key, expires });
    }

    /// Drops every entry whose lifetime ended at or before `now`.
    pub(super) fn expire(&mut self, now: Duration) {
        while let Some(oldest) = self.order.front() {
            if oldest.expires > now {
                break;
            }
            self.evict_oldest();
        }
    }

    /// When the oldest entry expires.
    pub(super) fn next_expiry(&self) -> Option<Duration> {
        self.order.front().map(|ins| ins.expires)
    }

    fn evict_oldest(&mut self) -> bool {
        let Some(Inserted { key, expires }) = self.order.pop_front() else {
            return false;
        };
        // Only remove the map entry if it is the one this insertion refers to (a later
        // `put` of the same key leaves a stale insertion behind).
        if self
            .map
            .get(&key)
            .is_some_and(|slot| slot.expires == expires)
        {
            self.map.remove(&key);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn entries_expire_and_capacity_evicts_oldest() {
        let mut m = ExpiringMap::new(10 * S, 3);
        assert!(m.insert_new(1, 'a', S));
        assert!(!m.insert_new(1, 'b', 2 * S), "live key is a duplicate");
        assert!(m.insert_new(2, 'b', 2 * S));
        assert!(m.insert_new(3, 'c', 3 * S));
        assert!(m.insert_new(4, 'd', 4 * S));
        assert_eq!(m.len(), 3);
        assert_eq!(m.get(&1, 4 * S), None, "oldest evicted at capacity");
        assert_eq!(m.get(&2, 11 * S), Some(&'b'));
        assert_eq!(m.get(&2, 12 * S), None, "expired on lookup");
        m.expire(12 * S);
        assert_eq!(m.len(), 2);
        assert_eq!(m.next_expiry(), Some(13 * S));
        m.expire(20 * S);
        assert!(m.is_empty());
    }

    #[test]
    fn insert_new_or_get_remove_and_newest_first() {
        let mut m = ExpiringMap::new(10 * S, 10);
        assert!(m.insert_new_or_get(1, 'a', S).is_none());
        *m.insert_new_or_get(1, 'x', 2 * S).unwrap() = 'b';
        m.put(2, 'c', 3 * S);
        m.put(1, 'd', 4 * S);
        let newest: Vec<_> = m.iter_newest(5 * S).map(|(k, v)| (*k, *v)).collect();
        assert_eq!(newest, vec![(1, 'd'), (2, 'c')], "stale slot of 1 skipped");
        assert_eq!(m.remove(&2, 5 * S), Some('c'));
        assert_eq!(m.remove(&2, 5 * S), None);
        *m.get_mut(&1, 5 * S).unwrap() = 'e';
        assert_eq!(m.get(&1, 5 * S), Some(&'e'));
        assert_eq!(m.get_mut(&1, 14 * S), None, "expired");
    }

    #[test]
    fn put_restarts_lifetime_without_losing_entry_to_stale_slot() {
        let mut m = ExpiringMap::new(10 * S, 10);
        m.put(1, 'a', S);
        m.put(1, 'b', 5 * S);
        m.expire(12 * S);
        assert_eq!(m.get(&1, 12 * S), Some(&'b'));
    }
}
