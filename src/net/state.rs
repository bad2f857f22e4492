//! The state behind the driver's one mutex (never held across an await): the core, its
//! links and host cache, counters, waiting searches and Pings, the timer's deadline. Every
//! input is fed to the core under it and the outputs are pumped at once: transmits into
//! the links' send queues, events into the host cache, the waiting searches and link
//! closes, the core's next deadline to the timer task.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc;

use crate::core::strategy::{QueryCost, SearchId};
use crate::core::{Event, PeerId, Role, Servent};
use crate::proto::payload::{Pong, QueryHit};
use crate::proto::{DecodeError, Descriptor, Guid, Payload, PayloadType};

use super::deadline::DeadlineBell;
use super::host_cache::HostCache;
use super::push::PushState;
use super::roles::LinkCounts;
use super::send_queue::{Outbox, SendQueue};
use crate::rt::TcpStream;

/// Which side opened the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The peer connected to us.
    Incoming,
    /// We connected to the peer.
    Outgoing,
}

/// Why a link closed (counted in `/status`, logged once per link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The peer sent Bye.
    Bye,
    /// The peer closed the connection.
    PeerClosed,
    /// Reading or writing the socket failed.
    Io,
    /// A payload length over 64 KiB: the stream cannot be framed any more.
    FrameTooLarge,
    /// The deflate stream was corrupt.
    BadCompression,
    /// Nothing received for too long.
    Dead,
    /// The peer read nothing for too long while we had data to send.
    WriteStalled,
    /// Our servent is shutting down.
    Shutdown,
    /// The peer broke the protocol beyond one bad descriptor (a bad query routing
    /// table); a Bye was queued when it takes one.
    ProtocolError,
    /// Our role changed (an `auto` servent promoted, or became a leaf): links the new role
    /// cannot keep are closed with a Bye.
    RoleSwitch,
}

impl CloseReason {
    /// Short name for counters and logs.
    pub fn name(self) -> &'static str {
        match self {
            CloseReason::Bye => "bye",
            CloseReason::PeerClosed => "peer-closed",
            CloseReason::Io => "io-error",
            CloseReason::FrameTooLarge => "payload-too-large",
            CloseReason::BadCompression => "bad-compression",
            CloseReason::Dead => "dead",
            CloseReason::WriteStalled => "write-stalled",
            CloseReason::Shutdown => "shutdown",
            CloseReason::RoleSwitch => "role-switch",
            CloseReason::ProtocolError => "protocol-error",
        }
    }
}

/// One QueryHit for a search we run.
#[derive(Debug, Clone)]
pub struct SearchHit {
    /// The descriptor ID it answers (one ring's ID for an expanding ring).
    pub query: Guid,
    /// The QueryHit's payload: the answering servent and its results.
    pub hit: QueryHit,
    /// Links it travelled to reach us: its header's hops + 1 (1: a neighbour answered).
    pub hops: u8,
}

/// What a running search reports: hits as they come, then its cost when it ends.
#[derive(Debug, Clone)]
pub enum SearchEvent {
    /// A QueryHit arrived.
    Hit(SearchHit),
    /// The search ended (satisfied or exhausted), with its cost record; for
    /// [`crate::net::Node::query`] this never comes.
    Done(Box<QueryCost>),
}

pub struct Link {
    pub queue: Arc<SendQueue>,
    /// What [`State::pump`] staged for the link, handed to `queue` once per pump.
    pub outbox: Outbox,
    /// The router gave up waiting for this link's writer to make room (it is slow or
    /// stuck): its full queue drops by priority until it drains to a quarter.
    pub flow_controlled: bool,
    /// A handle on the socket, to shut it down from outside the link's tasks.
    pub stream: TcpStream,
    pub remote: SocketAddr,
    /// Where the peer accepts connections (its Listen-IP, or the address we dialled).
    pub listen: Option<SocketAddr>,
    pub servent_id: Option<Guid>,
    pub user_agent: String,
    /// The peer is an ultrapeer (else our leaf).
    pub ultrapeer: bool,
    pub direction: Direction,
    pub deflate_in: bool,
    pub deflate_out: bool,
    pub last_rx: Duration,
    pub last_alive_ping: Duration,
}

#[derive(Debug, Default, Clone)]
pub struct NetCounters {
    pub links_opened: u64,
    pub closes: HashMap<&'static str, u64>,
    pub handshake_failures: HashMap<&'static str, u64>,
    pub refused_full: u64,
    pub refused_duplicate: u64,
    pub encode_errors: u64,
    /// Connections the port accepted; each is counted once more by how classification
    /// ended: `unclassified`, `gnutella_connections`, `http_connections`, `giv_connections`
    /// or `unknown_connections`.
    pub accepted: u64,
    /// Times `accept` itself failed (out of descriptors, a connection aborted in the
    /// backlog): logged and counted, the loop backs off and goes on.
    pub accept_failed: u64,
    /// Closed before the first bytes said what they are, by why ("timeout", "closed").
    pub unclassified: HashMap<&'static str, u64>,
    pub gnutella_connections: u64,
    pub http_connections: u64,
    /// HTTP connections refused with 503 (over the per-address or the global cap).
    pub http_refused: u64,
    pub giv_connections: u64,
    pub unknown_connections: u64,
    /// Times an `auto` servent changed role.
    pub role_switches: u64,
}

/// What the driver counted on the UDP port (the core counts the rest: `UdpStats`).
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct UdpCounters {
    /// Datagrams read from the socket.
    pub read: u64,
    /// Refused by the per-source rate limit (or a full source table).
    pub rate_limited: u64,
    /// Not from an IPv4 address: dropped.
    pub not_ipv4: u64,
    /// Datagrams the socket took for sending.
    pub sent: u64,
    /// Sends that failed or would have blocked: dropped.
    pub send_failed: u64,
}

pub struct State {
    pub servent: Servent,
    pub links: BTreeMap<PeerId, Link>,
    pub hosts: HostCache,
    /// Outgoing connects in progress, by address.
    pub connecting: HashSet<SocketAddr>,
    pub counters: NetCounters,
    pub searches: HashMap<SearchId, mpsc::UnboundedSender<SearchEvent>>,
    /// Pings we sent and who waits for their Pongs.
    pub pings: HashMap<Guid, mpsc::UnboundedSender<Pong>>,
    pub our_listen: SocketAddr,
    /// HTTP connections being served now.
    pub http_open: usize,
    /// Wakes the timer task when an input sets a sooner deadline.
    pub deadline: DeadlineBell,
    next_peer: u32,
    /// Since when an `auto` leaf has had no ultrapeer (it promotes itself after a while).
    pub orphan_since: Option<Duration>,
    /// When our role last changed.
    pub last_role_switch: Option<Duration>,
    /// Push and GIV: whether we are firewalled, Pushes to answer, downloads waiting for
    /// a GIV (`push.rs`).
    pub push: PushState,
    /// Reused encoding buffer of [`State::pump`].
    scratch: Vec<u8>,
    /// The UDP port's sending side (non-blocking), when we have one (`udp.rs`).
    pub udp_socket: Option<std::net::UdpSocket>,
    /// What the driver counted on the UDP port.
    pub udp_counters: UdpCounters,
    /// Links whose outbox [`State::pump`] filled, to hand to their queues.
    staged: Vec<PeerId>,
    /// Links whose queue [`State::pump`] left above [`CONGESTED`] quarters full, not
    /// flow-controlled yet: the router waits a moment for their writers (`router.rs`).
    pub congested: Vec<(PeerId, Arc<SendQueue>)>,
}

/// Fill (of a queue's capacity, in quarters) above which a link counts as congested:
/// half, so that the one batch the router may still hand over (at most a 64 KiB read's
/// worth) fits in the other half of the default 256 KiB queue.
pub(super) const CONGESTED: usize = 2;
/// Fill (in quarters) a congested link's writer must bring its queue down to.
pub(super) const RELIEVED: usize = 1;

impl State {
    pub fn new(
        servent: Servent,
        hosts: HostCache,
        our_listen: SocketAddr,
        deadline: DeadlineBell,
    ) -> State {
        State {
            servent,
            links: BTreeMap::new(),
            hosts,
            connecting: HashSet::new(),
            counters: NetCounters::default(),
            searches: HashMap::new(),
            pings: HashMap::new(),
            our_listen,
            http_open: 0,
            deadline,
            next_peer: 1,
            orphan_since: None,
            last_role_switch: None,
            push: PushState::default(),
            scratch: Vec::new(),
            udp_socket: None,
            udp_counters: Default::default(),
            staged: Vec::new(),
            congested: Vec::new(),
        }
    }

    pub fn next_peer_id(&mut self) -> PeerId {
        let id = PeerId(self.next_peer);
        self.next_peer = self.next_peer.wrapping_add(1).max(1);
        id
    }

    /// Whether a link to the servent with this ID or listening address exists.
    pub fn is_connected_to(&self, guid: Option<Guid>, listen: Option<SocketAddr>) -> bool {
        self.links.values().any(|l| {
            (guid.is_some() && l.servent_id == guid) || (listen.is_some() && l.listen == listen)
        })
    }

    /// Feeds a batch of decoded (or failed) descriptors from one link to the core; leaves
    /// `batch` empty. Nothing happens for a link already closed.
    pub fn handle_batch(
        &mut self,
        now: Duration,
        peer: PeerId,
        batch: &mut Vec<Result<Descriptor, DecodeError>>,
    ) {
        match self.links.get_mut(&peer) {
            Some(l) => l.last_rx = now,
            None => {
                batch.clear();
                return;
            }
        }
        for d in batch.drain(..) {
            match d {
                Ok(d) => self.servent.handle_descriptor(now, peer, d),
                Err(e) => self.servent.handle_malformed(now, peer, &e),
            }
        }
    }

    /// Moves the core's outputs where they go. Call after every input.
    pub fn pump(&mut self, now: Duration) {
        // Our QueryHits carry the push flag as we now see ourselves.
        let firewalled = self.push.firewalled(now);
        if firewalled != self.servent.firewalled() {
            log::info!(
                "we are {}firewalled now",
                if firewalled { "" } else { "not " }
            );
            self.servent.set_firewalled(firewalled);
        }
        // A flood hands the same descriptor to every neighbour in a row: encode it once.
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut encoded: Option<(*const Payload, Guid, u8, u8)> = None;
        while let Some(t) = self.servent.poll_transmit() {
            let Some(link) = self.links.get_mut(&t.peer) else {
                continue;
            };
            let d = &t.descriptor;
            // Every transmit's payload was allocated before this loop and lives until its
            // turn, so equal pointers here mean the same payload.
            let key = (Arc::as_ptr(&d.payload), d.guid, d.ttl, d.hops);
            if encoded != Some(key) {
                scratch.clear();
                if d.encode(&mut scratch).is_err() {
                    self.counters.encode_errors += 1;
                    encoded = None;
                    continue;
                }
                encoded = Some(key);
            }
            if link.outbox.is_empty() {
                self.staged.push(t.peer);
            }
            link.outbox.add(&scratch, t.priority);
        }
        self.send_datagrams(&mut scratch);
        self.scratch = scratch;
        // One lock acquisition (and at most one wake of the writer) per link per pump,
        // not one per descriptor.
        for peer in self.staged.drain(..) {
            if let Some(link) = self.links.get_mut(&peer) {
                let bytes = link.queue.push_outbox(&mut link.outbox);
                let capacity = link.queue.capacity();
                if bytes <= capacity / 4 * RELIEVED {
                    link.flow_controlled = false;
                } else if bytes > capacity / 4 * CONGESTED
                    && !link.flow_controlled
                    && !self.congested.iter().any(|(p, _)| *p == peer)
                {
                    self.congested.push((peer, Arc::clone(&link.queue)));
                }
            }
        }
        while let Some(event) = self.servent.poll_event() {
            match event {
                Event::Pong {
                    ping,
                    pong,
                    ours,
                    from,
                    hops,
                } => {
                    let addr = SocketAddr::V4(SocketAddrV4::new(pong.ip, pong.port));
                    // A leaf neighbour's own Pong names a servent that takes no links.
                    let from_leaf =
                        hops <= 1 && self.links.get(&from).is_some_and(|l| !l.ultrapeer);
                    if addr != self.our_listen && !from_leaf {
                        self.hosts.add(addr, now);
                    }
                    if ours {
                        if let Some(tx) = self.pings.get(&ping) {
                            if tx.unbounded_send(pong).is_err() {
                                self.pings.remove(&ping);
                            }
                        }
                    }
                }
                Event::QueryHit {
                    query,
                    search,
                    hit,
                    hops,
                    ..
                } => {
                    if let Some(tx) = self.searches.get(&search) {
                        let hit = SearchEvent::Hit(SearchHit { query, hit, hops });
                        if tx.unbounded_send(hit).is_err() {
                            self.searches.remove(&search);
                        }
                    }
                }
                Event::SearchDone { id, cost } => {
                    if let Some(tx) = self.searches.remove(&id) {
                        let _ = tx.unbounded_send(SearchEvent::Done(Box::new(cost)));
                    }
                }
                Event::PushRequest { push, .. } => {
                    log::info!(
                        "push request for file {} to {}:{}",
                        push.file_index,
                        push.ip,
                        push.port
                    );
                    let our_ip = self.servent.config().ip;
                    self.push.on_push_request(now, push, our_ip);
                }
                Event::Close { peer, reason } => {
                    log::info!("closing link {}: {reason}", peer.0);
                    self.close_link(now, peer, CloseReason::ProtocolError);
                }
                Event::Bye { peer, bye } => {
                    log::info!("peer {} said bye: {} {}", peer.0, bye.code, bye.reason);
                    self.close_link(now, peer, CloseReason::Bye);
                }
            }
        }
        self.deadline.note(self.servent.poll_timeout());
    }

    /// Sends the core's datagrams on the UDP port without waiting: one that would block
    /// is dropped (counted), as the network may drop any datagram.
    fn send_datagrams(&mut self, scratch: &mut Vec<u8>) {
        while let Some(g) = self.servent.poll_datagram() {
            if crate::proto::datagram::encode(&g.descriptor, scratch).is_err() {
                self.counters.encode_errors += 1;
                continue;
            }
            match self.udp_socket.as_ref().map(|s| s.send_to(scratch, g.to)) {
                Some(Ok(_)) => self.udp_counters.sent += 1,
                _ => self.udp_counters.send_failed += 1,
            }
        }
    }

    /// Closes a link: the core forgets the peer, the writer sends what is queued (a Bye,
    /// say) and then shuts the socket down, which ends the reader.
    pub fn close_link(&mut self, now: Duration, peer: PeerId, reason: CloseReason) {
        let Some(link) = self.links.remove(&peer) else {
            return;
        };
        self.servent.handle_closed(now, peer);
        link.queue.close();
        let flush_first = matches!(
            reason,
            CloseReason::Shutdown | CloseReason::RoleSwitch | CloseReason::ProtocolError
        );
        if !flush_first {
            // Nothing more is worth sending: stop both tasks now. On shutdown (and a role
            // switch) the writer first flushes our Bye, then shuts the socket down itself.
            let _ = link.stream.shutdown(std::net::Shutdown::Both);
        }
        *self.counters.closes.entry(reason.name()).or_default() += 1;
        log::info!("link {} {} closed: {}", peer.0, link.remote, reason.name());
        // Pushes for the link die with it; its host stays worth reconnecting to.
        if let Some(listen) = link.listen.filter(|_| link.ultrapeer) {
            if !matches!(
                reason,
                CloseReason::Bye | CloseReason::Shutdown | CloseReason::RoleSwitch
            ) {
                self.hosts.add(listen, now);
            }
        }
    }

    /// Links to ultrapeers and to leaves; outgoing connects in progress count as
    /// ultrapeers (we only dial ultrapeers).
    pub fn link_counts(&self) -> LinkCounts {
        let ultrapeers = self.links.values().filter(|l| l.ultrapeer).count();
        LinkCounts {
            ultrapeers: ultrapeers + self.connecting.len(),
            leaves: self.links.len() - ultrapeers,
        }
    }

    /// Our role changes: the core routes by the new one, and every link but `keep` is
    /// closed with a Bye (code 203, as gtk-gnutella does), since each peer took us in the
    /// old role. The upkeep then connects as the new role wants.
    pub fn switch_role(&mut self, now: Duration, role: Role, keep: Option<PeerId>) {
        log::info!("becoming {role} (was {})", self.servent.role());
        self.servent.set_role(role);
        self.last_role_switch = Some(now);
        self.orphan_since = None;
        let others: Vec<PeerId> = self
            .links
            .keys()
            .copied()
            .filter(|p| Some(*p) != keep)
            .collect();
        let reason = match role {
            Role::Leaf => "Becoming a leaf node",
            Role::Ultrapeer => "Becoming an ultrapeer",
        };
        for peer in others {
            self.servent.bye(peer, 203, reason);
            self.close_link(now, peer, CloseReason::RoleSwitch);
        }
        self.counters.role_switches += 1;
    }

    /// Descriptors received of one type over all links ever (the core's counter).
    pub fn received(&self, t: PayloadType) -> u64 {
        self.servent.stats().received(t)
    }
}
