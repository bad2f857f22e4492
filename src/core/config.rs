//! Settings of one servent core, with the defaults real servents use and why.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::proto::Guid;

/// How long a Ping's reverse route (and its duplicate entry) lives: Pongs arrive within
/// seconds; LimeWire keeps ping routes 2 minutes.
pub const PING_ROUTE_TTL: Duration = Duration::from_secs(120);
/// How long a Query's reverse route (and its duplicate entry) lives: hits from slow
/// servents trickle in for minutes; LimeWire keeps query routes 5 minutes.
pub const QUERY_ROUTE_TTL: Duration = Duration::from_secs(300);
/// How long a Push route (servent ID -> peer the QueryHit came from) lives: a user may
/// start a download a while after the hit; LimeWire keeps 7 minutes.
pub const PUSH_ROUTE_TTL: Duration = Duration::from_secs(420);
/// Entries per route table: bounds memory against a flood of unique GUIDs
/// (LimeWire: 100k). At 52-88 bytes an entry (`src/core/expiring.rs`), 6-8.5 MB per table
/// at most, allocated only as entries arrive.
pub const ROUTE_TABLE_CAPACITY: usize = 100_000;
/// The 0.6 soft TTL limit: TTL + hops above this is lowered to it.
pub const DEFAULT_MAX_TTL: u8 = 7;
/// Pings a link may send in a burst before rate limiting starts.
pub const PING_BURST: u32 = 64;
/// Pings per second a link may send once its burst is spent (token refill rate).
pub const PING_RATE_PER_SEC: u32 = 4;
/// Answer Pings from the pong cache and never relay them (the 0.6 ping/pong scheme, as
/// gtk-gnutella does); off, Pings are flooded as in Gnutella 0.4.
pub const PONG_CACHING: bool = true;
/// How long a cached Pong is offered: gtk-gnutella's ultrapeer lifespan is 20 s; servents
/// ping their neighbours about that often, so 30 s keeps one refresh of slack.
pub const PONG_CACHE_LIFESPAN: Duration = Duration::from_secs(30);
/// Pongs remembered at most (one per address): ten answers to each of ten Pings.
pub const PONG_CACHE_CAPACITY: usize = 100;
/// Cached Pongs sent per Ping besides our own: gtk-gnutella's and LimeWire's ten.
pub const CACHED_PONGS_PER_PING: usize = 10;
/// Shortest period between two host-discovery Pings to all neighbours: LimeWire pings
/// every 3 s at most; a Ping per neighbour and ~11 Pongs back each time.
pub const DISCOVERY_PING_INTERVAL: Duration = Duration::from_secs(3);
/// Results per QueryHit we send: keeps each hit around 4-8 KiB, as real servents do.
pub const MAX_RESULTS_PER_QUERY_HIT: usize = 32;
/// Most results a servent returns for one Query when the query sets no max-hits: what one
/// QueryHit's one-byte count could announce.
pub const DEFAULT_MAX_RESULTS: usize = 255;

/// One-hop delay assumed until the core has measured one: a typical Internet hop between
/// servents (tens to a few hundred ms). Only the first search timeouts depend on it; every
/// Pong to our Ping, hit for our flood or ring and check answer then measures the real one.
pub const HOP_LATENCY_HINT: Duration = Duration::from_millis(100);
/// Shortest time a search waits for a ring or a check answer, whatever the measured hop
/// latency: on loopback a hop measures well under a millisecond, while a busy servent can
/// take a few milliseconds to relay, so timeouts derived from the mean alone would cut
/// rings short.
pub const MIN_SEARCH_TIMEOUT: Duration = Duration::from_millis(20);
/// Walkers a servent holds at once while their checks travel: bounds memory against a
/// peer that sends walkers due for a check in bulk. Beyond it, walkers are ended.
pub const MAX_HELD_WALKERS: usize = 4096;
/// Searches (running or finished) whose cost the originator keeps for `search_cost`.
pub const MAX_SEARCHES_KEPT: usize = 256;

/// Settings of one servent core: its identity, what it advertises, the TTL and routing
/// limits and the search timeouts. [`Config::default`] takes the constants above.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our servent ID: in the `GUID:` handshake header and in every QueryHit we send.
    pub servent_id: Guid,
    /// Address and port advertised in our Pongs and QueryHits (the one listening port).
    pub ip: Ipv4Addr,
    /// TCP port advertised in our Pongs and QueryHits (default 6346).
    pub port: u16,
    /// Advertised speed in kbit/s (QueryHit speed field).
    pub speed_kbps: u32,
    /// TTL + hops is clamped to this (0.6 soft limit).
    pub max_ttl: u8,
    /// Lifetime of a Ping's reverse route and duplicate entry ([`PING_ROUTE_TTL`]).
    pub ping_route_ttl: Duration,
    /// Lifetime of a Query's reverse route, duplicate entry and traffic counters
    /// ([`QUERY_ROUTE_TTL`]); walker routes and check routes live as long.
    pub query_route_ttl: Duration,
    /// Lifetime of a Push duplicate entry and of a push route, servent ID -> neighbour
    /// ([`PUSH_ROUTE_TTL`]).
    pub push_route_ttl: Duration,
    /// Most entries in each route table; when full, the oldest entry is evicted
    /// ([`ROUTE_TABLE_CAPACITY`]).
    pub route_table_capacity: usize,
    /// Pings a link may send in a burst before its rate limit applies ([`PING_BURST`]).
    pub ping_burst: u32,
    /// Pings per second a link may send once its burst is spent ([`PING_RATE_PER_SEC`]).
    pub ping_rate_per_sec: u32,
    /// Answer Pings from the pong cache, never relaying them ([`PONG_CACHING`]); off:
    /// flood them (Gnutella 0.4).
    pub pong_caching: bool,
    /// How long a cached Pong is offered ([`PONG_CACHE_LIFESPAN`]).
    pub pong_cache_lifespan: Duration,
    /// Pongs remembered at most ([`PONG_CACHE_CAPACITY`]).
    pub pong_cache_capacity: usize,
    /// Cached Pongs sent per Ping besides ours ([`CACHED_PONGS_PER_PING`]).
    pub cached_pongs_per_ping: usize,
    /// Shortest period between two discovery Pings ([`DISCOVERY_PING_INTERVAL`]).
    pub discovery_ping_interval: Duration,
    /// Vendor code in our QueryHit trailers.
    pub vendor_code: [u8; 4],
    /// Seed of the core's RNG (descriptor IDs, random choices).
    pub seed: u64,
    /// We forward walkers as walkers and answer checks (we send the `X-Random-Walk`
    /// handshake header). Off: walker-marked Queries are handled as plain Queries.
    pub walker_support: bool,
    /// One-hop delay assumed until measured.
    pub hop_latency_hint: Duration,
    /// Floor of ring and check timeouts.
    pub min_search_timeout: Duration,
    /// Most walkers held at once waiting for a check verdict; a walker due for a check
    /// beyond it is ended ([`MAX_HELD_WALKERS`]).
    pub max_held_walkers: usize,
    /// Most searches (running or finished) whose cost is kept for
    /// [`Servent::search_cost`](crate::core::Servent::search_cost); the oldest finished
    /// one goes first ([`MAX_SEARCHES_KEPT`]).
    pub max_searches_kept: usize,
    /// Our role: an ultrapeer relays Queries and routes them to its leaves by their
    /// tables; a leaf relays nothing. The driver may change it ([`Servent::set_role`]).
    ///
    /// [`Servent::set_role`]: crate::core::Servent::set_role
    pub role: crate::core::Role,
    /// We cannot be connected to (configured, or no incoming connection for a while): our
    /// QueryHits set the push flag, so downloaders send a Push instead of connecting.
    pub firewalled: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            servent_id: Guid::default(),
            ip: Ipv4Addr::LOCALHOST,
            port: 6346,
            speed_kbps: 10_000,
            max_ttl: DEFAULT_MAX_TTL,
            ping_route_ttl: PING_ROUTE_TTL,
            query_route_ttl: QUERY_ROUTE_TTL,
            push_route_ttl: PUSH_ROUTE_TTL,
            route_table_capacity: ROUTE_TABLE_CAPACITY,
            ping_burst: PING_BURST,
            ping_rate_per_sec: PING_RATE_PER_SEC,
            pong_caching: PONG_CACHING,
            firewalled: false,
            pong_cache_lifespan: PONG_CACHE_LIFESPAN,
            pong_cache_capacity: PONG_CACHE_CAPACITY,
            cached_pongs_per_ping: CACHED_PONGS_PER_PING,
            discovery_ping_interval: DISCOVERY_PING_INTERVAL,
            vendor_code: *b"SRVT",
            seed: 0,
            walker_support: true,
            hop_latency_hint: HOP_LATENCY_HINT,
            min_search_timeout: MIN_SEARCH_TIMEOUT,
            max_held_walkers: MAX_HELD_WALKERS,
            max_searches_kept: MAX_SEARCHES_KEPT,
            role: crate::core::Role::Ultrapeer,
        }
    }
}
