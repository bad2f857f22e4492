//! A networked servent: binds the one port, starts the accept loop, the timer and upkeep
//! tasks, and offers the handle the CLI and tests use (connect, ping, query, search,
//! status, shutdown).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::mpsc;

use crate::core::strategy::{QueryTraffic, SearchId, Strategy};
use crate::core::{Config, PeerId, Servent, SharedFiles};
use crate::http::HttpContext;
use crate::library::Library;
use crate::proto::payload::{Pong, Query};
use crate::proto::Guid;

use super::config::NodeConfig;
use super::deadline::DeadlineBell;
use super::host_cache::HostCache;
use super::send_queue::SendQueue;
use super::shared::Shared;
use super::state::{CloseReason, SearchEvent, State};
use super::{connect, dispatch, handshake, roles, router, status, timer, upkeep};
use crate::rt;

/// File holding the servent ID in the data directory: the ID stays the same across
/// restarts, as gtk-gnutella expects of a servent at one address.
const SERVENT_ID_FILE: &str = "servent_id";

/// What a servent shares.
pub enum NodeShare {
    /// Nothing: Queries get no hits, HTTP serves only `/status`.
    Nothing,
    /// Answers Queries with this matcher and these totals; no HTTP files.
    Matcher(SharedFiles),
    /// A shared library: answers Queries and serves its files over HTTP.
    Library(Arc<Library>),
}

/// A running servent. Cheap to clone; every clone drives the same servent.
#[derive(Clone)]
pub struct Node {
    shared: Arc<Shared>,
}

impl Node {
    /// Binds, loads persisted state and starts the accept loop, the timer and upkeep
    /// tasks and the connects to `config.peers`.
    pub async fn start(
        config: NodeConfig,
        sharing: Option<SharedFiles>,
        http: impl FnOnce(Box<dyn Fn() -> String + Send + Sync>) -> HttpContext,
    ) -> std::io::Result<Node> {
        let listener = rt::bind(config.listen).await?;
        let listen = listener.local_addr()?;
        let servent_id = config
            .servent_id
            .unwrap_or_else(|| load_or_make_servent_id(config.data_dir.as_deref()));
        let ip = match listen.ip() {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(_) => Ipv4Addr::LOCALHOST,
        };
        let seed = config.seed.unwrap_or_else(fresh_seed);
        let mut hosts = match &config.data_dir {
            Some(dir) => HostCache::load(dir, Duration::ZERO),
            None => HostCache::default(),
        };
        // The peers we were told to join through go in the host cache too, so a connect
        // that fails (a script starting servents one after another: this one came up
        // before its peer listened) is tried again with backoff, as any host is.
        for &peer in &config.peers {
            hosts.add(peer, Duration::ZERO);
        }
        let role = roles::initial_role(config.role, !config.peers.is_empty() || !hosts.is_empty());
        let mut servent = Servent::new(Config {
            role,
            servent_id,
            ip,
            port: listen.port(),
            max_ttl: config.max_ttl,
            seed,
            firewalled: config.firewalled,
            pong_caching: config.pong_caching,
            min_search_timeout: config.timing.min_search_timeout,
            ..Config::default()
        });
        if let Some(s) = sharing {
            servent.set_matcher(s);
        }
        // The UDP port: the TCP port's address and number.
        let udp = if config.udp {
            super::udp::bind(listen)
        } else {
            None
        };
        if udp.is_some() {
            if let SocketAddr::V4(a) = listen {
                servent.set_udp_addr(Some(a));
            }
        }
        let (deadline, bell) = DeadlineBell::new();
        let mut state = State::new(servent, hosts, listen, deadline);
        let udp_recv = udp.map(|(recv, send)| {
            state.udp_socket = Some(send);
            recv
        });
        state.push = super::push::PushState::new(config.firewalled, config.timing.firewall_window);
        let (stop_tx, stop_rx) = futures::channel::oneshot::channel();
        let (inbox, inputs) = super::inbox::channel();
        let shared = Shared::new(config, servent_id, listen, state, stop_tx, inbox, |weak| {
            http(Box::new(move || {
                weak.upgrade()
                    .map(|s| status::render(&s).to_string())
                    .unwrap_or_else(|| "{}".into())
            }))
            .with_servent_id(servent_id.0)
        });
        log::info!("servent {servent_id} listening on {listen} as {role} (RNG seed {seed})");
        rt::spawn(dispatch::accept_loop(
            Arc::clone(&shared),
            listener,
            stop_rx,
        ));
        rt::spawn(timer::run(Arc::clone(&shared), bell));
        if let Some(socket) = udp_recv {
            rt::spawn(super::udp::run(Arc::clone(&shared), socket));
        }
        rt::spawn(router::run(Arc::clone(&shared), inputs));
        super::giv::start(&shared);
        rt::spawn(upkeep::run(Arc::clone(&shared)));
        for peer in shared.config.peers.clone() {
            upkeep::spawn_connect(&shared, peer);
        }
        Ok(Node { shared })
    }

    /// A node with default HTTP context (status only) and no shared files.
    pub async fn start_plain(config: NodeConfig) -> std::io::Result<Node> {
        Node::start_shared(config, NodeShare::Nothing).await
    }

    /// A node sharing `share`: its Queries are answered from it and, for a library, its
    /// files are served over HTTP on the servent's port.
    pub async fn start_shared(config: NodeConfig, share: NodeShare) -> std::io::Result<Node> {
        let name = handshake::user_agent();
        match share {
            NodeShare::Nothing => Node::start(config, None, |st| HttpContext::new(name, st)).await,
            NodeShare::Matcher(sharing) => {
                Node::start(config, Some(sharing), |st| HttpContext::new(name, st)).await
            }
            NodeShare::Library(lib) => {
                let sharing = lib.shared_files();
                Node::start(config, Some(sharing), |st| {
                    HttpContext::new(name, st).with_library(lib)
                })
                .await
            }
        }
    }

    /// The state every task of this servent holds (settings, identity, the locked core).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The address the servent's one port is bound to (the port the OS picked for 0).
    pub fn listen_addr(&self) -> SocketAddr {
        self.shared.listen
    }

    /// Our servent ID (sent in the `GUID` handshake header and our QueryHits).
    pub fn servent_id(&self) -> Guid {
        self.shared.servent_id
    }

    /// Connects to a servent and completes the handshake.
    pub async fn connect(&self, addr: SocketAddr) -> Result<PeerId, connect::ConnectError> {
        connect::connect(&self.shared, addr).await
    }

    /// Open Gnutella links (handshake complete), either direction.
    pub fn neighbour_count(&self) -> usize {
        self.shared.lock().links.len()
    }

    /// Listening addresses of the current neighbours.
    pub fn neighbours(&self) -> Vec<SocketAddr> {
        self.shared
            .lock()
            .links
            .values()
            .filter_map(|l| l.listen)
            .collect()
    }

    /// Floods a Ping from this servent; the Pongs answering it arrive on the channel.
    pub fn ping(&self, ttl: u8) -> (Guid, mpsc::UnboundedReceiver<Pong>) {
        let now = self.shared.now();
        let (tx, rx) = mpsc::unbounded();
        let mut st = self.shared.lock();
        let g = st.servent.ping(now, ttl);
        st.pings.insert(g, tx);
        st.pump(now);
        (g, rx)
    }

    /// Floods a Query; its QueryHits arrive on the returned channel (no cost record: use
    /// [`Node::search`] for that).
    pub fn query(&self, query: Query, ttl: u8) -> (Guid, mpsc::UnboundedReceiver<SearchEvent>) {
        let now = self.shared.now();
        let (tx, rx) = mpsc::unbounded();
        let mut st = self.shared.lock();
        let g = st.servent.query(now, query, ttl);
        st.searches.insert(SearchId(g), tx);
        st.pump(now);
        (g, rx)
    }

    /// Runs a search with a strategy: hits arrive on the channel, then its cost record
    /// when it ends.
    pub fn search(
        &self,
        query: Query,
        strategy: Strategy,
    ) -> (SearchId, mpsc::UnboundedReceiver<SearchEvent>) {
        let now = self.shared.now();
        let (tx, rx) = mpsc::unbounded();
        let mut st = self.shared.lock();
        let id = st.servent.search(now, query, strategy);
        st.searches.insert(id, tx);
        st.pump(now);
        (id, rx)
    }

    /// The cost record of a search (final once it ended, running totals before).
    pub fn search_cost(&self, id: SearchId) -> Option<crate::core::strategy::QueryCost> {
        let now = self.shared.now();
        self.shared.lock().servent.search_cost(id, now)
    }

    /// What this servent sent for the given query IDs (per-query counters).
    pub fn query_traffic(&self, guid: &Guid) -> Option<QueryTraffic> {
        let now = self.shared.now();
        self.shared.lock().servent.query_traffic(guid, now)
    }

    /// Our UDP port's address (the TCP port's), when we have one.
    pub fn udp_addr(&self) -> Option<SocketAddr> {
        self.shared
            .lock()
            .udp_socket
            .as_ref()
            .and_then(|s| s.local_addr().ok())
    }

    /// The UDP port's counters: the driver's, and the core's.
    pub fn udp_counters(&self) -> (super::state::UdpCounters, crate::core::UdpStats) {
        let st = self.shared.lock();
        (st.udp_counters, st.servent.udp_stats())
    }

    /// Runs `f` on the core under the lock, then sends what it queued (tests change
    /// settings with it, e.g. the UDP address walkers carry).
    pub fn with_servent_mut<T>(&self, f: impl FnOnce(&mut Servent) -> T) -> T {
        let now = self.shared.now();
        let mut st = self.shared.lock();
        let out = f(&mut st.servent);
        st.pump(now);
        out
    }

    /// Runs `f` on the core (counters, stats) under the lock.
    pub fn with_servent<T>(&self, f: impl FnOnce(&Servent) -> T) -> T {
        f(&self.shared.lock().servent)
    }

    /// The `/status` document.
    pub fn status(&self) -> serde_json::Value {
        status::render(&self.shared)
    }

    /// Hosts known in the host cache (candidates for connects and `X-Try`).
    pub fn host_cache_len(&self) -> usize {
        self.shared.lock().hosts.len()
    }

    /// Up to `n` hosts from the host cache worth a connect now (learnt from Pongs and
    /// `X-Try`), most recently seen first.
    pub fn hosts_to_try(&self, n: usize) -> Vec<SocketAddr> {
        let now = self.shared.now();
        let st = self.shared.lock();
        let mut hosts = st.hosts.candidates(now);
        hosts.truncate(n);
        hosts
    }

    /// Sends a Push asking the servent `servent_id` (a firewalled one, say) to connect
    /// back to us for file `index`, and waits at most `within` for its GIV connection
    /// (`giv.rs`).
    pub async fn push_and_wait(
        &self,
        servent_id: Guid,
        index: u32,
        within: Duration,
    ) -> Result<super::push::GivConnection, super::push::PushError> {
        super::giv::push_and_wait(&self.shared, servent_id, index, within).await
    }

    /// Whether this servent counts as firewalled now (its QueryHits then say so).
    pub fn is_firewalled(&self) -> bool {
        let now = self.shared.now();
        self.shared.lock().push.firewalled(now)
    }

    /// Says Bye to peers that support it, flushes, closes every link, saves the host cache.
    pub async fn shutdown(&self) {
        self.shared.begin_shutdown();
        let now = self.shared.now();
        let queues: Vec<Arc<SendQueue>> = {
            let mut st = self.shared.lock();
            let peers: Vec<PeerId> = st.links.keys().copied().collect();
            let mut queues = Vec::new();
            for p in peers {
                st.servent.bye(p, 200, "Servent shutting down");
                st.pump(now);
                if let Some(l) = st.links.get(&p) {
                    queues.push(Arc::clone(&l.queue));
                }
                st.close_link(now, p, CloseReason::Shutdown);
            }
            if let Some(dir) = &self.shared.config.data_dir {
                if let Err(e) = st.hosts.save(dir) {
                    log::warn!("cannot save host cache: {e}");
                }
            }
            queues
        };
        // Give writers a bounded moment to flush their Byes.
        let deadline = Instant::now() + Duration::from_secs(2);
        for q in queues {
            while !q.is_empty() && Instant::now() < deadline {
                rt::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

fn load_or_make_servent_id(dir: Option<&std::path::Path>) -> Guid {
    let Some(dir) = dir else {
        return Guid::new_v4();
    };
    let path = dir.join(SERVENT_ID_FILE);
    if let Some(g) = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| Guid::from_hex(&s))
    {
        return g;
    }
    let g = Guid::new_v4();
    let _ = std::fs::create_dir_all(dir);
    let tmp = dir.join(format!("{SERVENT_ID_FILE}.tmp"));
    if std::fs::write(&tmp, format!("{g}\n")).is_ok() {
        let _ = std::fs::rename(&tmp, &path);
    }
    g
}

/// A seed from the OS's random source (getrandom, through a version 4 UUID): different in
/// every process, so servents started with default options never share descriptor IDs.
fn fresh_seed() -> u64 {
    // A v4 UUID's fixed version and variant bits sit at bits 12-15 of the first half and
    // 62-63 of the second; rotating the second by 32 keeps them apart, so all 64 bits of
    // the XOR are random.
    let (a, b) = uuid::Uuid::new_v4().as_u64_pair();
    a ^ b.rotate_left(32)
}
