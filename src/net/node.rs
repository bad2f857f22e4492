//! A networked servent: binds the one port, runs the accept loop and the upkeep task, and
//! offers the handle the CLI and tests use (connect, ping, query, status, shutdown).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::channel::mpsc;

use crate::core::strategy::{QueryTraffic, SearchId, Strategy};
use crate::core::{Config, PeerId, PeerInfo, QueryMatcher, Servent, SharedFiles};
use crate::http::server::HttpContext;
use crate::proto::payload::{Pong, Query};
use crate::proto::{DecodeError, Descriptor, Guid};

use super::config::NodeConfig;
use super::host_cache::HostCache;
use super::link;
use super::router::{CloseReason, Direction, Link, SearchEvent, State};
use super::send_queue::SendQueue;
use super::{dispatch, upkeep};
use crate::rt::{self, TcpStream};

/// File holding the servent ID in the data directory: the ID stays the same across
/// restarts, as gtk-gnutella expects of a servent at one address.
const SERVENT_ID_FILE: &str = "servent_id";

pub struct Shared {
    pub config: NodeConfig,
    pub servent_id: Guid,
    pub listen: SocketAddr,
    epoch: Instant,
    state: Mutex<State>,
    shutting_down: AtomicBool,
    /// Dropped on shutdown: ends the accept loop, which closes the listener.
    stop_accepting: Mutex<Option<futures::channel::oneshot::Sender<()>>>,
    pub http: Arc<HttpContext>,
}

/// What a newly handshaken link is.
pub struct NewLink {
    pub stream: TcpStream,
    pub remote: SocketAddr,
    pub listen: Option<SocketAddr>,
    pub servent_id: Option<Guid>,
    pub info: PeerInfo,
    pub direction: Direction,
    pub deflate_in: bool,
    pub deflate_out: bool,
    /// Bytes read after the handshake: the start of the descriptor stream.
    pub pending: Vec<u8>,
}

impl Shared {
    /// Time since the node started: the core's clock.
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Feeds a batch of decoded (or failed) descriptors from one link to the core.
    pub fn handle_batch(&self, peer: PeerId, batch: Vec<Result<Descriptor, DecodeError>>) {
        let now = self.now();
        let mut st = self.lock();
        match st.links.get_mut(&peer) {
            Some(l) => l.last_rx = now,
            None => return,
        }
        for d in batch {
            match d {
                Ok(d) => st.servent.handle_descriptor(now, peer, d),
                Err(e) => st.servent.handle_malformed(now, peer, &e),
            }
        }
        st.pump(now);
    }

    pub fn close_link(&self, peer: PeerId, reason: CloseReason) {
        let now = self.now();
        let mut st = self.lock();
        st.close_link(now, peer, reason);
        st.pump(now);
    }

    pub fn count_encode_error(&self) {
        self.lock().counters.encode_errors += 1;
    }

    /// Registers an established link with the core and starts its tasks. None (and the
    /// connection closed) when the servent is shutting down.
    pub fn establish(self: &Arc<Self>, link: NewLink) -> Option<PeerId> {
        let now = self.now();
        let (queue, doorbell) = SendQueue::new(self.config.send_queue);
        let queue = Arc::new(queue);
        let peer = {
            let mut st = self.lock();
            // Checked under the lock that shutdown takes to close every link: a handshake
            // finishing late cannot leave a link behind.
            if self.is_shutting_down() {
                let _ = link.stream.shutdown(std::net::Shutdown::Both);
                return None;
            }
            let peer = st.next_peer_id();
            st.counters.links_opened += 1;
            if let Some(l) = link.listen {
                st.hosts.add(l, now);
                st.hosts.mark_ok(l, now);
            }
            st.links.insert(
                peer,
                Link {
                    queue: Arc::clone(&queue),
                    stream: link.stream.clone(),
                    remote: link.remote,
                    listen: link.listen,
                    servent_id: link.servent_id,
                    user_agent: link.info.user_agent.clone(),
                    direction: link.direction,
                    deflate_in: link.deflate_in,
                    deflate_out: link.deflate_out,
                    last_rx: now,
                    last_alive_ping: now,
                },
            );
            st.servent.handle_connected(now, peer, link.info.clone());
            st.pump(now);
            peer
        };
        log::info!(
            "link {} {} opened ({:?}, {}, deflate in/out {}/{})",
            peer.0,
            link.remote,
            link.direction,
            if link.info.user_agent.is_empty() {
                "?"
            } else {
                &link.info.user_agent
            },
            link.deflate_in,
            link.deflate_out
        );
        rt::spawn(link::write_loop(
            Arc::clone(self),
            peer,
            queue,
            doorbell,
            link.stream.clone(),
            link.deflate_out,
        ));
        rt::spawn(link::read_loop(
            Arc::clone(self),
            peer,
            link.stream,
            link.pending,
            link.deflate_in,
        ));
        Some(peer)
    }
}

/// What a servent shares.
pub enum NodeShare {
    Nothing,
    /// Answers Queries with this matcher (files and KB advertised in Pongs); no HTTP files.
    Matcher(Box<dyn QueryMatcher>, u32, u32),
    /// A shared library: answers Queries and serves its files over HTTP.
    Library(Arc<crate::library::Library>),
}

/// A running servent. Cheap to clone; every clone drives the same servent.
#[derive(Clone)]
pub struct Node {
    shared: Arc<Shared>,
}

impl Node {
    /// Binds, loads persisted state and starts the accept loop, the upkeep task and the
    /// connects to `config.peers`.
    pub async fn start(
        config: NodeConfig,
        matcher: Option<(Box<dyn QueryMatcher>, u32, u32)>,
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
        let mut servent = Servent::new(Config {
            servent_id,
            ip,
            port: listen.port(),
            max_ttl: config.max_ttl,
            seed: config.seed,
            ..Config::default()
        });
        if let Some((m, files, kb)) = matcher {
            servent.set_matcher(SharedFiles {
                matcher: m,
                files,
                kbytes: kb,
            });
        }
        let hosts = match &config.data_dir {
            Some(dir) => HostCache::load(dir, Duration::ZERO),
            None => HostCache::default(),
        };
        let (stop_tx, stop_rx) = futures::channel::oneshot::channel();
        let shared = Arc::new_cyclic(|weak: &std::sync::Weak<Shared>| {
            let weak = weak.clone();
            let status: Box<dyn Fn() -> String + Send + Sync> = Box::new(move || {
                weak.upgrade()
                    .map(|s| super::status::render(&s).to_string())
                    .unwrap_or_else(|| "{}".into())
            });
            Shared {
                servent_id,
                listen,
                epoch: Instant::now(),
                state: Mutex::new(State::new(servent, hosts, listen)),
                shutting_down: AtomicBool::new(false),
                stop_accepting: Mutex::new(Some(stop_tx)),
                http: Arc::new(http(status)),
                config,
            }
        });
        log::info!("servent {servent_id} listening on {listen}");
        rt::spawn(dispatch::accept_loop(
            Arc::clone(&shared),
            listener,
            stop_rx,
        ));
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
        let name = super::handshake::user_agent();
        match share {
            NodeShare::Nothing => Node::start(config, None, |st| HttpContext::new(name, st)).await,
            NodeShare::Matcher(m, files, kb) => {
                Node::start(config, Some((m, files, kb)), |st| {
                    HttpContext::new(name, st)
                })
                .await
            }
            NodeShare::Library(lib) => {
                let (files, kb) = lib.totals();
                let matcher = lib.matcher();
                Node::start(config, Some((matcher, files, kb)), |st| {
                    HttpContext::new(name, st).with_library(lib)
                })
                .await
            }
        }
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.shared.listen
    }

    pub fn servent_id(&self) -> Guid {
        self.shared.servent_id
    }

    /// Connects to a servent and completes the handshake.
    pub async fn connect(&self, addr: SocketAddr) -> Result<PeerId, super::connect::ConnectError> {
        super::connect::connect(&self.shared, addr).await
    }

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

    /// Runs `f` on the core (counters, stats) under the lock.
    pub fn with_servent<T>(&self, f: impl FnOnce(&Servent) -> T) -> T {
        f(&self.shared.lock().servent)
    }

    /// The `/status` document.
    pub fn status(&self) -> serde_json::Value {
        super::status::render(&self.shared)
    }

    pub fn host_cache_len(&self) -> usize {
        self.shared.lock().hosts.len()
    }

    /// Says Bye to peers that support it, flushes, closes every link, saves the host cache.
    pub async fn shutdown(&self) {
        // Set under the state lock: `establish` checks it under the same lock.
        {
            let _st = self.shared.lock();
            self.shared.shutting_down.store(true, Ordering::SeqCst);
        }
        self.shared
            .stop_accepting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
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
