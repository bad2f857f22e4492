//! A map whose entries expire after a fixed lifetime and whose size is bounded: the
//! building block of the duplicate cache and the reverse-path route tables.
//!
//! Entries live `lifetime` after insertion, so expiry order equals insertion order. They
//! sit in a ring buffer by age (oldest at the head); once the ring outgrows
//! [`SMALL_RING_SLOTS`], an open-addressing index (linear probing, backward-shift deletion,
//! no tombstones) maps a key's hash to its ring slot; a smaller ring is scanned, comparing
//! stored hashes first. Expiry and eviction take the ring's head and remove its index
//! entry found from the hash stored with it, comparing slot numbers only: O(1), no second
//! key lookup. A key put again leaves a hole in the ring (skipped, reclaimed when the ring
//! is compacted). A lookup never returns an expired entry, even before `expire` runs. The
//! table's header caches the oldest expiry: `next_expiry`, and `expire` with nothing due,
//! read no ring memory.
//!
//! Nothing is allocated until the first insertion; the ring then grows by doubling from
//! one slot up to its capacity (by half again only to hold holes), and the whole table is
//! freed when its last entry expires, so an idle servent's tables cost 24 bytes each (one
//! hash key per process, not per table). Memory per entry, with the ring full: the ring slot (`size_of::<Option<Entry<K, V>>>()`:
//! key + value + 8-byte expiry + 4-byte hash, padded: 40 bytes for a GUID and an origin or
//! neighbour, 64 for a query route with its traffic counters) plus, beyond
//! [`SMALL_RING_SLOTS`], 8-byte index cells at a load between 1/3 and 2/3 (12-24 bytes):
//! 52-64 bytes for a ping or push route, 76-88 for a query route. A table holding one
//! query route (what a flood leaves at each relay) costs 56 + 64 bytes.

use std::hash::Hash;
use std::sync::OnceLock;
use std::time::Duration;

/// Ring slots allocated at the first insertion: most tables of a simulated relay hold one
/// entry (the query passing through), so the ring starts at one slot and doubles.
const FIRST_RING_SLOTS: usize = 1;
/// Rings up to this many slots have no index: scanning 8 stored hashes costs less than
/// probing an index, and a small table saves the index's allocation.
const SMALL_RING_SLOTS: usize = 8;
/// An empty index cell (no slot number reaches `u32::MAX`: capacities are capped below).
const EMPTY: u64 = u64::MAX;
/// Most entries a table may be configured for: slot numbers fit the index's 32 bits with
/// room for the ring's slack.
const MAX_CAPACITY: usize = 1 << 30;

/// The process's hash key, drawn once: peers cannot pick GUIDs that collide in an index.
fn hasher() -> &'static ahash::RandomState {
    static KEY: OnceLock<ahash::RandomState> = OnceLock::new();
    KEY.get_or_init(ahash::RandomState::new)
}

/// One entry: key, value, when its lifetime ends (nanoseconds since the driver's epoch)
/// and its key's hash (where its index cell is, without hashing the key again).
#[derive(Debug, Clone)]
struct Entry<K, V> {
    key: K,
    value: V,
    expires: u64,
    hash: u32,
}

/// The allocated part of a table: ring and (for a big ring) index.
#[derive(Debug, Clone)]
struct Table<K, V> {
    /// When the oldest entry expires, ns: what expiry and `next_expiry` read first.
    head_expires: u64,
    /// Entries by age; `None` is a hole (an entry removed or put again).
    ring: Box<[Option<Entry<K, V>>]>,
    /// Index cells: `hash << 32 | slot`, or `EMPTY`. Empty while the ring has at most
    /// [`SMALL_RING_SLOTS`]; else its length is a power of two above the ring's, so
    /// probing always meets an empty cell.
    index: Box<[u64]>,
    /// Ring position of the oldest slot in use; never a hole while `used > 0`.
    head: u32,
    /// Ring slots in use from `head` on, holes included.
    used: u32,
    /// Entries (live or expired but not yet reaped) in the ring.
    live: u32,
}

#[derive(Debug, Clone)]
pub(super) struct ExpiringMap<K, V> {
    /// Allocated exactly while it holds an entry (live or not yet reaped).
    table: Option<Box<Table<K, V>>>,
    /// Entry lifetime, nanoseconds.
    lifetime: u64,
    /// Most entries held; at capacity an insertion evicts the oldest.
    capacity: usize,
}

/// `d` in nanoseconds, saturating (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Index cells for a ring of `slots`: a load of at most 2/3; none for a small ring.
fn index_len(slots: usize) -> usize {
    if slots <= SMALL_RING_SLOTS {
        0
    } else {
        (slots + slots / 2 + 1).next_power_of_two()
    }
}

/// How an insertion treats a live entry of the same key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IfLive {
    /// Keep it (and its lifetime); drop the new value.
    Keep,
    /// Replace it, restarting the lifetime.
    Replace,
}

/// Where a key is: ring slot and index cell (the slot again when there is no index).
#[derive(Clone, Copy)]
struct Found {
    slot: usize,
    cell: usize,
}

impl<K: Hash + Eq, V> Table<K, V> {
    fn new(slots: usize) -> Self {
        Table {
            head_expires: u64::MAX,
            ring: (0..slots).map(|_| None).collect(),
            index: vec![EMPTY; index_len(slots)].into_boxed_slice(),
            head: 0,
            used: 0,
            live: 0,
        }
    }

    fn indexed(&self) -> bool {
        !self.index.is_empty()
    }

    fn mask(&self) -> usize {
        self.index.len() - 1
    }

    fn hash(key: &K) -> u32 {
        hasher().hash_one(key) as u32
    }

    fn entry(&self, slot: usize) -> &Entry<K, V> {
        self.ring[slot]
            .as_ref()
            .expect("an index cell names a filled slot")
    }

    /// Where `key` is, or `None`.
    fn find(&self, key: &K, hash: u32) -> Option<Found> {
        if !self.indexed() {
            return (0..self.used as usize)
                .map(|k| self.wrap(self.head as usize + k))
                .find(|&slot| {
                    self.ring[slot]
                        .as_ref()
                        .is_some_and(|e| e.hash == hash && e.key == *key)
                })
                .map(|slot| Found { slot, cell: slot });
        }
        let mask = self.mask();
        let mut i = hash as usize & mask;
        loop {
            let cell = self.index[i];
            if cell == EMPTY {
                return None;
            }
            let slot = cell as u32 as usize;
            if (cell >> 32) as u32 == hash && self.entry(slot).key == *key {
                return Some(Found { slot, cell: i });
            }
            i = (i + 1) & mask;
        }
    }

    /// The index cell naming `slot` (its hash gives where to start; slot numbers compared).
    fn cell_of(&self, slot: usize) -> usize {
        if !self.indexed() {
            return slot;
        }
        let mask = self.mask();
        let mut i = self.entry(slot).hash as usize & mask;
        while self.index[i] as u32 as usize != slot {
            i = (i + 1) & mask;
        }
        i
    }

    /// Empties index cell `pos` (if indexed), shifting later cells of its cluster back so
    /// every key stays reachable from its home cell.
    fn unlink(&mut self, pos: usize) {
        let Some(mask) = self.index.len().checked_sub(1) else {
            return;
        };
        let mut hole = pos;
        let mut j = pos;
        loop {
            j = (j + 1) & mask;
            let cell = self.index[j];
            if cell == EMPTY {
                break;
            }
            let home = (cell >> 32) as usize & mask;
            // The cell may move back to `hole` when `hole` lies on its probe path.
            if j.wrapping_sub(home) & mask >= j.wrapping_sub(hole) & mask {
                self.index[hole] = cell;
                hole = j;
            }
        }
        self.index[hole] = EMPTY;
    }

    /// Links `slot` (hash `hash`) into the first empty cell of its probe path (if indexed).
    fn link(&mut self, hash: u32, slot: usize) {
        let Some(mask) = self.index.len().checked_sub(1) else {
            return;
        };
        let mut i = hash as usize & mask;
        while self.index[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.index[i] = u64::from(hash) << 32 | slot as u64;
    }

    /// Removes the entry found at `at`.
    fn take(&mut self, at: Found) -> Entry<K, V> {
        self.unlink(at.cell);
        self.live -= 1;
        let entry = self.ring[at.slot].take().expect("a filled slot");
        self.skip_holes();
        entry
    }

    /// Removes the oldest entry.
    fn take_head(&mut self) -> Entry<K, V> {
        let slot = self.head as usize;
        let cell = self.cell_of(slot);
        self.take(Found { slot, cell })
    }

    /// Keeps the head on a filled slot.
    fn skip_holes(&mut self) {
        while self.used > 0 && self.ring[self.head as usize].is_none() {
            self.head = self.wrap(self.head as usize + 1) as u32;
            self.used -= 1;
        }
    }

    /// Caches when the oldest entry expires (`u64::MAX` when empty: never).
    fn note_head(&mut self) {
        self.head_expires = if self.used == 0 {
            u64::MAX
        } else {
            self.entry(self.head as usize).expires
        };
    }

    /// Ring position `pos` (below twice the ring's length) wrapped into the ring: no
    /// division on the hot path.
    fn wrap(&self, pos: usize) -> usize {
        if pos >= self.ring.len() {
            pos - self.ring.len()
        } else {
            pos
        }
    }

    /// Moves the live entries, oldest first, to the front of a ring of `slots` (holes
    /// dropped) and relinks the index from their stored hashes. In place when the size
    /// stays: compacting a ring full of holes allocates nothing.
    fn rebuild(&mut self, slots: usize) {
        self.ring.rotate_left(self.head as usize);
        let mut filled = 0;
        for k in 0..self.used as usize {
            if self.ring[k].is_some() {
                self.ring.swap(filled, k);
                filled += 1;
            }
        }
        debug_assert_eq!(filled, self.live as usize);
        if slots != self.ring.len() {
            let mut ring = std::mem::take(&mut self.ring).into_vec();
            ring.resize_with(slots, || None);
            self.ring = ring.into_boxed_slice();
        }
        self.head = 0;
        self.used = self.live;
        if self.index.len() == index_len(slots) {
            self.index.fill(EMPTY);
        } else {
            self.index = vec![EMPTY; index_len(slots)].into_boxed_slice();
        }
        for slot in 0..self.live as usize {
            let hash = self.entry(slot).hash;
            self.link(hash, slot);
        }
    }

    /// Appends an entry as the newest (the ring has room).
    fn push(&mut self, entry: Entry<K, V>) -> usize {
        let slot = self.wrap((self.head + self.used) as usize);
        let hash = entry.hash;
        self.ring[slot] = Some(entry);
        self.used += 1;
        self.live += 1;
        self.link(hash, slot);
        slot
    }
}

impl<K: Hash + Eq, V> ExpiringMap<K, V> {
    pub(super) fn new(lifetime: Duration, capacity: usize) -> Self {
        ExpiringMap {
            table: None,
            lifetime: nanos(lifetime),
            capacity: capacity.clamp(1, MAX_CAPACITY),
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table.as_ref().map_or(0, |t| t.live as usize)
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes this table holds (ring, index and the table itself).
    pub(super) fn heap_bytes(&self) -> usize {
        self.table.as_ref().map_or(0, |t| {
            std::mem::size_of::<Table<K, V>>()
                + t.ring.len() * std::mem::size_of::<Option<Entry<K, V>>>()
                + t.index.len() * std::mem::size_of::<u64>()
        })
    }

    /// Ring slots at most: room for holes beside `capacity` entries, so compacting frees at
    /// least a third of the ring (amortised O(1) per hole).
    fn max_slots(&self) -> usize {
        self.capacity + self.capacity / 2 + 1
    }

    /// Caches the head's expiry after the table changed, and frees it once it holds
    /// nothing (idle: the memory goes back).
    fn note_head(&mut self) {
        match self.table.as_deref_mut() {
            Some(t) if t.live == 0 => self.table = None,
            Some(t) => t.note_head(),
            None => {}
        }
    }

    /// The live entry for `key`: its slot.
    fn live_slot(&self, key: &K, now: u64) -> Option<(&Table<K, V>, usize)> {
        let t = self.table.as_deref()?;
        let slot = t.find(key, Table::<K, V>::hash(key))?.slot;
        (t.entry(slot).expires > now).then_some((t, slot))
    }

    /// The live value for `key`.
    pub(super) fn get(&self, key: &K, now: Duration) -> Option<&V> {
        self.live_slot(key, nanos(now))
            .map(|(t, slot)| &t.entry(slot).value)
    }

    /// The live value for `key`, mutable (its lifetime is not restarted).
    pub(super) fn get_mut(&mut self, key: &K, now: Duration) -> Option<&mut V> {
        let slot = self.live_slot(key, nanos(now))?.1;
        let t = self.table.as_deref_mut()?;
        t.ring[slot].as_mut().map(|e| &mut e.value)
    }

    /// Inserts `key` unless a live entry exists, in one lookup when it does: `None` when
    /// inserted, the live value when it was already there (then `value` is dropped).
    pub(super) fn insert_new_or_get(&mut self, key: K, value: V, now: Duration) -> Option<&mut V> {
        let (slot, inserted) = self.insert(key, value, now, IfLive::Keep);
        if inserted {
            return None;
        }
        let t = self.table.as_deref_mut()?;
        t.ring[slot].as_mut().map(|e| &mut e.value)
    }

    /// Removes `key` (live or not) and returns its value if it was live.
    pub(super) fn remove(&mut self, key: &K, now: Duration) -> Option<V> {
        let t = self.table.as_deref_mut()?;
        let at = t.find(key, Table::<K, V>::hash(key))?;
        let entry = t.take(at);
        self.note_head();
        (entry.expires > nanos(now)).then_some(entry.value)
    }

    /// Live entries, most recently inserted first.
    pub(super) fn iter_newest(&self, now: Duration) -> impl Iterator<Item = (&K, &V)> + '_ {
        let now = nanos(now);
        let t = self.table.as_deref();
        let (used, len) = t.map_or((0, 1), |t| (t.used as usize, t.ring.len()));
        (0..used).rev().filter_map(move |k| {
            let t = t?;
            match &t.ring[(t.head as usize + k) % len] {
                Some(e) if e.expires > now => Some((&e.key, &e.value)),
                _ => None,
            }
        })
    }

    pub(super) fn contains(&self, key: &K, now: Duration) -> bool {
        self.live_slot(key, nanos(now)).is_some()
    }

    /// Inserts `key` unless a live entry exists. Returns false (and changes nothing) when
    /// the key is live: for the duplicate cache that means "seen before".
    pub(super) fn insert_new(&mut self, key: K, value: V, now: Duration) -> bool {
        self.insert(key, value, now, IfLive::Keep).1
    }

    /// Inserts or replaces `key`, restarting its lifetime.
    pub(super) fn put(&mut self, key: K, value: V, now: Duration) {
        self.insert(key, value, now, IfLive::Replace);
    }

    /// Expires what is due, then inserts `key` as the newest entry unless it is live and
    /// `if_live` keeps it; at capacity the oldest entry makes room. One keyed lookup.
    /// Returns the key's slot and whether it was inserted.
    fn insert(&mut self, key: K, value: V, now: Duration, if_live: IfLive) -> (usize, bool) {
        let now = nanos(now);
        self.expire_nanos(now);
        let capacity = self.capacity;
        let max_slots = self.max_slots();
        let t = self
            .table
            .get_or_insert_with(|| Box::new(Table::new(FIRST_RING_SLOTS.min(max_slots))));
        let hash = Table::<K, V>::hash(&key);
        if let Some(at) = t.find(&key, hash) {
            if t.entry(at.slot).expires > now && if_live == IfLive::Keep {
                return (at.slot, false);
            }
            t.take(at);
        }
        if t.live as usize >= capacity {
            t.take_head();
        }
        if t.used as usize == t.ring.len() {
            // Mostly holes (keys put again): compact in place. Else grow by doubling, up
            // to `capacity`, and beyond it only to hold holes beside a full table.
            let len = t.ring.len();
            let bound = if len < capacity { capacity } else { max_slots };
            let slots = if t.live as usize <= len / 2 {
                len
            } else {
                (len * 2).min(bound)
            };
            t.rebuild(slots);
        }
        let expires = now.saturating_add(self.lifetime);
        let slot = t.push(Entry {
            key,
            value,
            expires,
            hash,
        });
        self.note_head();
        (slot, true)
    }

    /// Drops every entry whose lifetime ended at or before `now`.
    pub(super) fn expire(&mut self, now: Duration) {
        self.expire_nanos(nanos(now));
    }

    fn expire_nanos(&mut self, now: u64) {
        let Some(t) = self.table.as_deref_mut() else {
            return;
        };
        if t.head_expires > now {
            // Nothing due: the ring is not read.
            return;
        }
        while t.used > 0 && t.entry(t.head as usize).expires <= now {
            t.take_head();
        }
        self.note_head();
    }

    /// When the oldest entry expires (from the table's header: the ring is not read).
    pub(super) fn next_expiry(&self) -> Option<Duration> {
        let t = self.table.as_deref()?;
        Some(Duration::from_nanos(t.head_expires))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::collections::VecDeque;

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
        assert_eq!(m.heap_bytes(), 0, "an emptied table is freed");
    }

    #[test]
    fn insert_new_or_get_remove_and_newest_first() {
        let mut m = ExpiringMap::new(10 * S, 10);
        assert!(m.insert_new_or_get(1, 'a', S).is_none());
        *m.insert_new_or_get(1, 'x', 2 * S).unwrap() = 'b';
        m.put(2, 'c', 3 * S);
        m.put(1, 'd', 4 * S);
        let newest: Vec<_> = m.iter_newest(5 * S).map(|(k, v)| (*k, *v)).collect();
        assert_eq!(
            newest,
            vec![(1, 'd'), (2, 'c')],
            "the hole left by 1 skipped"
        );
        assert_eq!(m.remove(&2, 5 * S), Some('c'));
        assert_eq!(m.remove(&2, 5 * S), None);
        *m.get_mut(&1, 5 * S).unwrap() = 'e';
        assert_eq!(m.get(&1, 5 * S), Some(&'e'));
        assert_eq!(m.get_mut(&1, 14 * S), None, "expired");
    }

    #[test]
    fn put_restarts_lifetime_without_losing_entry_to_its_hole() {
        let mut m = ExpiringMap::new(10 * S, 10);
        m.put(1, 'a', S);
        m.put(1, 'b', 5 * S);
        m.expire(12 * S);
        assert_eq!(m.get(&1, 12 * S), Some(&'b'));
    }

    #[test]
    fn a_few_keys_put_again_and_again_keep_a_small_ring() {
        let mut m = ExpiringMap::new(10 * S, 1000);
        for i in 0..10_000u32 {
            m.put(i % 3, i, S);
        }
        assert_eq!(m.len(), 3);
        let t = m.table.as_deref().unwrap();
        assert!(
            t.ring.len() <= 8,
            "ring of {} slots for 3 keys",
            t.ring.len()
        );
        assert_eq!(m.get(&0, S), Some(&9_999));
    }

    #[test]
    fn nothing_allocated_until_used_and_growth_stops_at_the_bound() {
        let mut m = ExpiringMap::new(10 * S, 100);
        assert_eq!(m.heap_bytes(), 0);
        m.put(0u32, 0u32, S);
        let small = m.heap_bytes();
        assert!(
            small > 0 && small < 512,
            "first ring is small: {small} bytes"
        );
        for k in 0..10_000u32 {
            m.put(k, k, S);
        }
        assert_eq!(m.len(), 100);
        let t = m.table.as_deref().unwrap();
        assert!(t.ring.len() <= m.max_slots(), "ring {}", t.ring.len());
        assert_eq!(m.get(&9_900, S), Some(&9_900), "the newest 100 kept");
        assert_eq!(m.get(&9_899, S), None);
    }

    /// The sizes the module documentation and the protocol text state.
    #[test]
    fn entry_sizes_are_as_documented() {
        use crate::core::{Origin, PeerId};
        use crate::proto::Guid;
        use std::mem::size_of;
        assert_eq!(size_of::<Option<Entry<Guid, Origin>>>(), 40);
        assert_eq!(size_of::<Option<Entry<Guid, PeerId>>>(), 40);
        assert_eq!(size_of::<ExpiringMap<Guid, Origin>>(), 24);
        assert_eq!(size_of::<Table<Guid, Origin>>(), 56);
        assert_eq!(
            index_len(100_000) * 8 / 100_000,
            20,
            "index bytes per entry at 100k"
        );
    }

    /// The reference semantics, kept naively: entries in insertion order, unique keys.
    struct Model {
        entries: VecDeque<(u8, u32, Duration)>,
        lifetime: Duration,
        capacity: usize,
    }

    impl Model {
        fn expire(&mut self, now: Duration) {
            while self.entries.front().is_some_and(|e| e.2 <= now) {
                self.entries.pop_front();
            }
        }
        fn position(&self, k: u8) -> Option<usize> {
            self.entries.iter().position(|e| e.0 == k)
        }
        fn get(&self, k: u8, now: Duration) -> Option<u32> {
            self.position(k)
                .map(|i| self.entries[i])
                .filter(|e| e.2 > now)
                .map(|e| e.1)
        }
        /// Returns whether it inserted.
        fn insert(&mut self, k: u8, v: u32, now: Duration, replace: bool) -> bool {
            self.expire(now);
            if let Some(i) = self.position(k) {
                if self.entries[i].2 > now && !replace {
                    return false;
                }
                self.entries.remove(i);
            }
            if self.entries.len() >= self.capacity {
                self.entries.pop_front();
            }
            self.entries.push_back((k, v, now + self.lifetime));
            true
        }
    }

    /// Random operations on a few keys with small capacities, checked against the model
    /// after every step: lookups, order, length and next expiry agree.
    #[test]
    fn agrees_with_the_naive_model() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        for round in 0..200 {
            let capacity = 1 + round % 9;
            let lifetime = 20 * S;
            let mut m = ExpiringMap::new(lifetime, capacity);
            let mut model = Model {
                entries: VecDeque::new(),
                lifetime,
                capacity,
            };
            let mut now = Duration::ZERO;
            for step in 0..400u32 {
                now += S * rng.gen_range(0..3);
                let k: u8 = rng.gen_range(0..12);
                match rng.gen_range(0..6) {
                    0 => assert_eq!(
                        m.insert_new(k, step, now),
                        model.insert(k, step, now, false)
                    ),
                    1 => {
                        m.put(k, step, now);
                        model.insert(k, step, now, true);
                    }
                    2 => {
                        let before = model.get(k, now);
                        let got = m.insert_new_or_get(k, step, now).map(|v| *v);
                        model.insert(k, step, now, false);
                        assert_eq!(got, before);
                    }
                    3 => {
                        let want = model.get(k, now);
                        if let Some(i) = model.position(k) {
                            model.entries.remove(i);
                        }
                        assert_eq!(m.remove(&k, now), want);
                    }
                    4 => {
                        m.expire(now);
                        model.expire(now);
                    }
                    _ => assert_eq!(m.get(&k, now).copied(), model.get(k, now)),
                }
                assert_eq!(m.len(), model.entries.len(), "round {round} step {step}");
                let newest: Vec<_> = m.iter_newest(now).map(|(k, v)| (*k, *v)).collect();
                let want: Vec<_> = model
                    .entries
                    .iter()
                    .rev()
                    .filter(|e| e.2 > now)
                    .map(|e| (e.0, e.1))
                    .collect();
                assert_eq!(newest, want, "round {round} step {step}");
                assert_eq!(m.next_expiry(), model.entries.front().map(|e| e.2));
            }
        }
    }
}
