//! A neighbour as the core sees it: its ID, what it announced in the handshake, its
//! counters and its ping rate limiter.

use std::net::SocketAddr;
use std::time::Duration;

use crate::proto::PayloadType;

/// A link's identifier, chosen by the driver (a connection counter, a node index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct PeerId(pub u32);

/// What the driver learnt about the peer during the handshake. The default is a peer of
/// the flat network: an ultrapeer (it relays) that announced nothing else.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer's socket address, when the link has one (the simulator's have none).
    pub addr: Option<SocketAddr>,
    /// Its `User-Agent:` header (at most 120 characters), empty when not sent.
    pub user_agent: String,
    /// The peer sent `Bye-Packet: 0.1`: we may send it a Bye before closing.
    pub bye_supported: bool,
    /// The peer is an ultrapeer (`X-Ultrapeer: True`, or a 0.4 or headerless servent of
    /// the flat network), not a leaf.
    pub ultrapeer: bool,
    /// The peer's side of the link is 0.4 (no headers).
    pub legacy_04: bool,
    /// The peer sent `X-Random-Walk: 0.1` ([`crate::core::strategy::WALKER_HEADER`]): it
    /// forwards walkers as walkers and relays checks, so walkers and checks may go to it.
    pub walker_support: bool,
    /// The peer's servent ID (its `GUID:` header), when known. Walkers choose among
    /// neighbours in servent-ID order, so the same seeds give the same walk whatever
    /// numbers the driver gave the links.
    pub servent_id: Option<crate::proto::Guid>,
    /// The peer sent `X-Query-Routing: 0.1`: a leaf that will send us its query routing
    /// table, or an ultrapeer that takes ours.
    pub query_routing: bool,
    /// The peer sent `X-Ultrapeer-Query-Routing: 0.1`: an ultrapeer that exchanges merged
    /// tables with ultrapeers, so last-hop Queries go only where they may match.
    pub ultrapeer_query_routing: bool,
    /// The peer sent `X-Dynamic-Querying: 0.1`: as a leaf, it lets its ultrapeers run its
    /// searches and reports the results it kept.
    pub dynamic_querying: bool,
    /// The peer's `X-Degree`: how many ultrapeer links it keeps (its horizon for dynamic
    /// querying); `None` when not sent.
    pub degree: Option<u32>,
    /// The peer's `X-Max-TTL`: the most TTL it relays; `None` when not sent.
    pub max_ttl: Option<u8>,
}

impl Default for PeerInfo {
    fn default() -> Self {
        PeerInfo {
            addr: None,
            user_agent: String::new(),
            bye_supported: false,
            ultrapeer: true,
            legacy_04: false,
            walker_support: false,
            servent_id: None,
            query_routing: false,
            ultrapeer_query_routing: false,
            dynamic_querying: false,
            degree: None,
            max_ttl: None,
        }
    }
}

/// Per-type descriptor counters of one link: 32 bits each (4 billion descriptors of one
/// type on one link), saturating, so a servent with a handful of links stays small.
pub(crate) type LinkCounters = [u32; PayloadType::ALL.len()];

/// The servent-wide counters, 64 bits (`Stats`).
pub(crate) use super::stats::TypeCounters;

/// What the core keeps of a link's [`PeerInfo`]: the announcements it routes by (the
/// address and user agent stay with the driver). 28 bytes instead of 96.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    /// See [`PeerInfo::bye_supported`].
    pub bye_supported: bool,
    /// See [`PeerInfo::ultrapeer`].
    pub ultrapeer: bool,
    /// See [`PeerInfo::walker_support`].
    pub walker_support: bool,
    /// See [`PeerInfo::query_routing`].
    pub query_routing: bool,
    /// See [`PeerInfo::ultrapeer_query_routing`].
    pub ultrapeer_query_routing: bool,
    /// See [`PeerInfo::dynamic_querying`].
    pub dynamic_querying: bool,
    /// See [`PeerInfo::servent_id`].
    pub servent_id: Option<crate::proto::Guid>,
    /// See [`PeerInfo::degree`].
    pub degree: Option<u32>,
    /// See [`PeerInfo::max_ttl`].
    pub max_ttl: Option<u8>,
}

impl From<PeerInfo> for LinkInfo {
    fn from(i: PeerInfo) -> LinkInfo {
        LinkInfo {
            bye_supported: i.bye_supported,
            ultrapeer: i.ultrapeer,
            walker_support: i.walker_support,
            query_routing: i.query_routing,
            ultrapeer_query_routing: i.ultrapeer_query_routing,
            dynamic_querying: i.dynamic_querying,
            servent_id: i.servent_id,
            degree: i.degree,
            max_ttl: i.max_ttl,
        }
    }
}

/// One open link as the core keeps it: 128 bytes.
#[derive(Debug, Clone)]
pub struct Peer {
    pub info: LinkInfo,
    pub received: LinkCounters,
    pub sent: LinkCounters,
    pub duplicates: u32,
    pub dropped: u32,
    ping_tokens: u32,
    /// When the ping bucket was last refilled, milliseconds since the driver's epoch.
    ping_refilled_ms: u64,
}

/// `d` in whole milliseconds, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Adds one to a link counter, stopping at its maximum.
pub(crate) fn bump(counter: &mut u32) {
    *counter = counter.saturating_add(1);
}

impl Peer {
    pub fn new(now: Duration, info: PeerInfo, ping_burst: u32) -> Peer {
        Peer {
            info: info.into(),
            received: [0; PayloadType::ALL.len()],
            sent: [0; PayloadType::ALL.len()],
            duplicates: 0,
            dropped: 0,
            ping_tokens: ping_burst,
            ping_refilled_ms: millis(now),
        }
    }

    /// Token bucket: may this peer's Ping be handled now?
    pub fn take_ping_token(&mut self, now: Duration, burst: u32, rate_per_sec: u32) -> bool {
        let now = millis(now);
        let elapsed = now.saturating_sub(self.ping_refilled_ms);
        let refill =
            (elapsed.saturating_mul(rate_per_sec as u64) / 1000).min(u32::MAX as u64) as u32;
        if refill > 0 {
            self.ping_tokens = self.ping_tokens.saturating_add(refill).min(burst);
            self.ping_refilled_ms = now;
        }
        if self.ping_tokens == 0 {
            return false;
        }
        self.ping_tokens -= 1;
        true
    }
}

/// The open links by [`PeerId`], in `PeerId` order: a sorted vector (a servent has tens of
/// links, so a binary search beats a tree, and a handful of links cost a handful of
/// entries, not a tree node of eleven).
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerMap {
    entries: Vec<(PeerId, Peer)>,
}

/// Borrowing iterator of a [`PeerMap`], as `BTreeMap`'s yields.
pub(crate) type PeerIter<'a> = std::iter::Map<
    std::slice::Iter<'a, (PeerId, Peer)>,
    fn(&'a (PeerId, Peer)) -> (&'a PeerId, &'a Peer),
>;

impl PeerMap {
    fn at(&self, id: &PeerId) -> Result<usize, usize> {
        self.entries.binary_search_by_key(id, |(k, _)| *k)
    }

    pub(crate) fn get(&self, id: &PeerId) -> Option<&Peer> {
        self.at(id).ok().map(|i| &self.entries[i].1)
    }

    pub(crate) fn get_mut(&mut self, id: &PeerId) -> Option<&mut Peer> {
        self.at(id).ok().map(|i| &mut self.entries[i].1)
    }

    pub(crate) fn contains_key(&self, id: &PeerId) -> bool {
        self.at(id).is_ok()
    }

    /// Inserts or replaces the link `id`.
    pub(crate) fn insert(&mut self, id: PeerId, peer: Peer) {
        match self.at(&id) {
            Ok(i) => self.entries[i].1 = peer,
            Err(i) => self.entries.insert(i, (id, peer)),
        }
    }

    pub(crate) fn remove(&mut self, id: &PeerId) -> Option<Peer> {
        let i = self.at(id).ok()?;
        let peer = self.entries.remove(i).1;
        if self.entries.is_empty() {
            self.entries = Vec::new();
        }
        Some(peer)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn iter(&self) -> PeerIter<'_> {
        self.entries.iter().map(|(id, p)| (id, p))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&PeerId, &mut Peer)> {
        self.entries.iter_mut().map(|(id, p)| (&*id, p))
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &Peer> {
        self.entries.iter().map(|(_, p)| p)
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<(PeerId, Peer)>()
    }
}

impl<'a> IntoIterator for &'a PeerMap {
    type Item = (&'a PeerId, &'a Peer);
    type IntoIter = PeerIter<'a>;
    fn into_iter(self) -> PeerIter<'a> {
        self.iter()
    }
}
