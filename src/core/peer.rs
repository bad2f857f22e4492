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

/// Per-type descriptor counters.
pub(crate) type TypeCounters = [u64; PayloadType::ALL.len()];

#[derive(Debug, Clone)]
pub struct Peer {
    pub info: PeerInfo,
    pub connected_at: Duration,
    pub received: TypeCounters,
    pub sent: TypeCounters,
    pub duplicates: u64,
    pub dropped: u64,
    ping_tokens: u32,
    ping_refilled_at: Duration,
}

impl Peer {
    pub fn new(now: Duration, info: PeerInfo, ping_burst: u32) -> Peer {
        Peer {
            info,
            connected_at: now,
            received: [0; PayloadType::ALL.len()],
            sent: [0; PayloadType::ALL.len()],
            duplicates: 0,
            dropped: 0,
            ping_tokens: ping_burst,
            ping_refilled_at: now,
        }
    }

    /// Token bucket: may this peer's Ping be handled now?
    pub fn take_ping_token(&mut self, now: Duration, burst: u32, rate_per_sec: u32) -> bool {
        let elapsed = now.saturating_sub(self.ping_refilled_at);
        let refill = (elapsed.as_millis() as u64 * rate_per_sec as u64 / 1000) as u32;
        if refill > 0 {
            self.ping_tokens = self.ping_tokens.saturating_add(refill).min(burst);
            self.ping_refilled_at = now;
        }
        if self.ping_tokens == 0 {
            return false;
        }
        self.ping_tokens -= 1;
        true
    }
}
