//! Settings of a networked servent, with the timing of link upkeep.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::RolePolicy;

/// Longest wait for a TCP connect to a candidate peer.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for each handshake block: real servents answer within a second; a peer
/// that stalls longer holds a socket and a buffer for nothing.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A link silent this long gets a keep-alive Ping (TTL 1). gtk-gnutella pings
/// ultrapeer links every 20 s.
pub(super) const IDLE_PING_AFTER: Duration = Duration::from_secs(20);
/// A link silent this long (three missed keep-alives) is dead and closed.
pub(super) const DEAD_AFTER: Duration = Duration::from_secs(70);
/// A writer blocked this long on a peer that reads nothing closes the link.
pub(super) const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the upkeep task runs (keep-alives, dead links, degree, host cache); the
/// core's deadlines have their own timer task.
pub(super) const UPKEEP_TICK: Duration = Duration::from_millis(500);
/// After a failed connect, wait this long before trying that host again.
pub(super) const RECONNECT_BACKOFF: Duration = Duration::from_secs(10);

/// How often we ping our neighbours to refresh the pong cache when nothing else did:
/// gtk-gnutella's ultrapeer cache lifespan. Below `--min-peers` discovery Pings go out
/// every `DISCOVERY_PING_INTERVAL` (3 s) instead.
pub(super) const PONG_REFRESH_EVERY: Duration = Duration::from_secs(20);

/// With no incoming connection for this long (since start or the last one), a servent
/// counts as firewalled (`push.rs`): gtk-gnutella's `FW_INCOMING_WINDOW`, 30 minutes.
pub const FIREWALL_WINDOW: Duration = Duration::from_secs(1800);

/// Timing of link upkeep; tests shorten it.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Longest wait for a TCP connect to a peer (default 5 s).
    pub connect_timeout: Duration,
    /// Longest wait for each handshake block, and for the first bytes that say what an
    /// incoming connection is (default 10 s).
    pub handshake_timeout: Duration,
    /// A link silent this long gets a keep-alive Ping with TTL 1, at most one per this
    /// period (default 20 s).
    pub idle_ping_after: Duration,
    /// A link silent this long is closed as dead (default 70 s).
    pub dead_after: Duration,
    /// A link whose peer reads nothing this long while we have data to send is closed
    /// (default 30 s).
    pub write_stall_timeout: Duration,
    /// Period of the upkeep task: keep-alives, dead links, connects below `min_peers`,
    /// host cache saves (default 500 ms).
    pub upkeep_tick: Duration,
    /// After a failed connect, the wait before that host is tried again from the host
    /// cache (default 10 s), doubled for each failure in a row (at most 10 minutes); a
    /// host that refused us (full) waits this once.
    pub reconnect_backoff: Duration,
    /// Period of the Pings that keep the pong cache fresh (default 20 s).
    pub pong_refresh_every: Duration,
    /// An `auto` leaf without an ultrapeer this long becomes one (default 10 s,
    /// [`super::roles::LEAF_PROMOTE_AFTER`]).
    pub leaf_promote_after: Duration,
    /// An `auto` servent switches role when told at most this often (default 30 s,
    /// [`super::roles::ROLE_SWITCH_MIN_INTERVAL`]).
    pub role_switch_min_interval: Duration,
    /// With no incoming connection this long we count as firewalled (default 30 min,
    /// [`FIREWALL_WINDOW`]).
    pub firewall_window: Duration,
    /// The shortest search, ring or walker-check timeout, however small the measured hop
    /// latency (default 20 ms, [`crate::core::config::MIN_SEARCH_TIMEOUT`]); a test that
    /// must not see a check time out on a loaded machine raises it.
    pub min_search_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            connect_timeout: CONNECT_TIMEOUT,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            idle_ping_after: IDLE_PING_AFTER,
            dead_after: DEAD_AFTER,
            write_stall_timeout: WRITE_STALL_TIMEOUT,
            upkeep_tick: UPKEEP_TICK,
            reconnect_backoff: RECONNECT_BACKOFF,
            pong_refresh_every: PONG_REFRESH_EVERY,
            leaf_promote_after: super::roles::LEAF_PROMOTE_AFTER,
            role_switch_min_interval: super::roles::ROLE_SWITCH_MIN_INTERVAL,
            firewall_window: FIREWALL_WINDOW,
            min_search_timeout: crate::core::config::MIN_SEARCH_TIMEOUT,
        }
    }
}

/// Settings of one networked servent ([`crate::net::Node`]).
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Where to listen (port 0: the OS picks; read it back from the node).
    pub listen: SocketAddr,
    /// Servents to connect to at start.
    pub peers: Vec<SocketAddr>,
    /// Where the host cache and servent ID persist (none: nothing persists).
    pub data_dir: Option<PathBuf>,
    /// The role asked for: `Auto` (the CLI's default) decides as real servents do; the
    /// library default is `Ultrapeer`, the flat mesh in-process tests and meshes build.
    pub role: RolePolicy,
    /// As an ultrapeer, below this many ultrapeer links the servent connects to hosts from
    /// its cache.
    pub min_peers: usize,
    /// As an ultrapeer, ultrapeers beyond this many get 503 with X-Try (leaves have their
    /// own quota, `max_leaves`).
    pub max_peers: usize,
    /// As an ultrapeer, leaves beyond this many get 503 ([`crate::core::role::MAX_LEAVES`]).
    pub max_leaves: usize,
    /// As a leaf, the ultrapeers to keep ([`crate::core::role::LEAF_ULTRAPEERS`]).
    pub leaf_ultrapeers: usize,
    /// TTL + hops limit (0.6 soft limit 7).
    pub max_ttl: u8,
    /// Seed of the core's RNG (descriptor IDs, walker choices). `None`, the default: a
    /// fresh seed from the OS's random source at every start, so no two servents (or two
    /// runs of one) send the same descriptor IDs. `Some` only for reproducible runs (the
    /// simulator's twin meshes, tests).
    pub seed: Option<u64>,
    /// Our servent ID; None: the one persisted in the data directory, else a new one.
    pub servent_id: Option<crate::proto::Guid>,
    /// Offer and accept deflate-compressed links.
    pub compress: bool,
    /// Answer Pings from the pong cache and never relay them (the 0.6 scheme, the
    /// default); off, a Ping floods and every servent within its TTL answers (what
    /// `servent mesh --ping-check` measures).
    pub pong_caching: bool,
    /// Ping every new ultrapeer link for the hosts it knows (the default). Off for a mesh
    /// whose links are all given and whose servents do not cache Pongs: there, each link's
    /// discovery Ping would flood the whole mesh while it links up.
    pub discover_hosts: bool,
    /// Send queue capacity per link, in bytes.
    pub send_queue: usize,
    /// Deadlines and periods of link upkeep.
    pub timing: Timing,
    /// We cannot be connected to (`--firewalled`): our QueryHits ask for a Push. Without
    /// it we still count as firewalled after `timing.firewall_window` with no incoming
    /// connection.
    pub firewalled: bool,
    /// Listen for UDP on the TCP port's address and number (Pings, walker checks).
    pub udp: bool,
}

impl NodeConfig {
    /// The link limits of each role, from these settings.
    pub fn role_limits(&self) -> super::roles::RoleLimits {
        super::roles::RoleLimits {
            min_ultrapeers: self.min_peers,
            max_ultrapeers: self.max_peers,
            max_leaves: self.max_leaves,
            leaf_ultrapeers: self.leaf_ultrapeers,
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            peers: Vec::new(),
            data_dir: None,
            role: RolePolicy::Ultrapeer,
            min_peers: 3,
            max_peers: 8,
            max_leaves: crate::core::role::MAX_LEAVES,
            leaf_ultrapeers: crate::core::role::LEAF_ULTRAPEERS,
            max_ttl: crate::core::config::DEFAULT_MAX_TTL,
            seed: None,
            servent_id: None,
            compress: true,
            pong_caching: crate::core::config::PONG_CACHING,
            discover_hosts: true,
            send_queue: super::send_queue::SEND_QUEUE_BYTES,
            timing: Timing::default(),
            firewalled: false,
            udp: true,
        }
    }
}
