//! Push and GIV, the state under the driver's mutex: whether we are firewalled
//! (configured, or no incoming connection for [`FIREWALL_WINDOW`]), which Pushes for us
//! to answer (routable addresses only, throttled per address as gtk-gnutella does), and
//! the downloads waiting for a GIV. The connections themselves are `giv.rs`'s.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};

use crate::proto::giv::Giv;
use crate::proto::payload::Push;
use crate::proto::Guid;
use crate::rt::TcpStream;

pub use super::config::FIREWALL_WINDOW;
/// Pushes answered per requesting address within [`PUSH_REPLY_PERIOD`]: each makes us
/// connect out, so a flood of Pushes must not become a flood of connects (gtk-gnutella's
/// `PUSH_REPLY_MAX`, 5 per 30 s).
pub const PUSH_REPLY_MAX: u32 = 5;
/// The period [`PUSH_REPLY_MAX`] counts over (gtk-gnutella's `PUSH_REPLY_FREQ`).
pub const PUSH_REPLY_PERIOD: Duration = Duration::from_secs(30);
/// An address we could not connect to for a Push is not tried again for this long
/// (gtk-gnutella bans an unreachable push address for 5 minutes).
pub const PUSH_UNREACHABLE_BAN: Duration = Duration::from_secs(300);
/// Connect-backs in progress at once; more Pushes are dropped (counted).
pub const MAX_GIVS_IN_FLIGHT: usize = 16;
/// How long a download waits for the GIV after sending its Push: a Push crosses a few
/// hops in well under a second, the connect-back takes one connect.
pub const GIV_WAIT: Duration = Duration::from_secs(30);
/// Downloads waiting for a GIV at once: bounds the registry.
pub const MAX_GIV_WAITERS: usize = 256;
/// Entries of the per-address throttle tables kept at most (oldest cleared first).
const THROTTLE_TABLE_MAX: usize = 4096;

/// A connection a firewalled servent opened to us with `GIV`, the GIV block read: speak
/// HTTP on it as a client.
pub struct GivConnection {
    /// The socket, positioned after the GIV block.
    pub stream: TcpStream,
    /// Where it came from.
    pub remote: SocketAddr,
    /// The GIV line it sent.
    pub giv: Giv,
}

/// Why [`crate::net::Node::push_and_wait`] gave no connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// No route to the servent: none of its QueryHits came through a link still open.
    #[error("no route for a Push to that servent")]
    NoRoute,
    /// The Push went out but no GIV came within the wait.
    #[error("no GIV within {0:?}")]
    Timeout(Duration),
    /// Too many downloads already wait for a GIV.
    #[error("too many downloads wait for a GIV")]
    TooManyWaiting,
}

/// Push and GIV counters, in `/status` under `push`.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PushCounters {
    /// Pushes for us.
    pub received: u64,
    /// Pushes for us naming an address we may not dial (not routable, or private while we
    /// are not).
    pub undialable: u64,
    /// Pushes for us dropped by the per-address throttle or the in-flight cap.
    pub throttled: u64,
    /// Connect-backs that failed (the address is then banned a while).
    pub connect_failed: u64,
    /// GIVs we sent (the connection then served HTTP).
    pub givs_sent: u64,
    /// Pushes we sent for our downloads.
    pub sent: u64,
    /// Pushes we could not send: no route.
    pub no_route: u64,
    /// GIVs handed to a waiting download.
    pub giv_matched: u64,
    /// GIVs no download waited for (closed).
    pub giv_unsolicited: u64,
    /// GIVs refused, by why (`too-long`, `bad-servent-id`, ..., `timeout`, `closed`).
    pub giv_malformed: HashMap<&'static str, u64>,
    /// Downloads that waited for a GIV in vain.
    pub giv_timeouts: u64,
}

struct Waiter {
    id: u64,
    servent_id: Guid,
    index: u32,
    tx: oneshot::Sender<GivConnection>,
}

/// The push side of the driver's state (under its one mutex).
pub struct PushState {
    /// `--firewalled`: we say so whatever we see.
    configured: bool,
    /// [`FIREWALL_WINDOW`], shortened by tests.
    window: Duration,
    /// When the last incoming connection that proves we are reachable arrived.
    last_incoming: Option<Duration>,
    /// Accepted Pushes go to the connect-back task.
    pub(super) to_answer: Option<mpsc::UnboundedSender<Push>>,
    /// Connect-backs running ([`MAX_GIVS_IN_FLIGHT`] at most).
    pub(super) in_flight: usize,
    /// Per requesting address: when its count started and how many Pushes it got answered.
    recent: HashMap<Ipv4Addr, (Duration, u32)>,
    /// Addresses we could not connect to, until when they are skipped.
    unreachable: HashMap<SocketAddrV4, Duration>,
    waiters: Vec<Waiter>,
    next_waiter: u64,
    /// What happened, for `/status`.
    pub counters: PushCounters,
}

impl Default for PushState {
    fn default() -> Self {
        PushState::new(false, FIREWALL_WINDOW)
    }
}

impl PushState {
    /// State for a servent firewalled by configuration or, with no incoming connection,
    /// once `window` has passed.
    pub fn new(configured: bool, window: Duration) -> PushState {
        PushState {
            configured,
            window,
            last_incoming: None,
            to_answer: None,
            in_flight: 0,
            recent: HashMap::new(),
            unreachable: HashMap::new(),
            waiters: Vec::new(),
            next_waiter: 0,
            counters: PushCounters::default(),
        }
    }

    /// Whether we count as firewalled now: configured so, or no incoming connection for
    /// the window (since start, or since the last one, as gtk-gnutella's watchdog).
    pub fn firewalled(&self, now: Duration) -> bool {
        self.configured || now.saturating_sub(self.last_incoming.unwrap_or_default()) >= self.window
    }

    /// Whether it is configured (`--firewalled`).
    pub fn configured(&self) -> bool {
        self.configured
    }

    /// Seconds since the last incoming connection that counted, if any.
    pub fn last_incoming(&self) -> Option<Duration> {
        self.last_incoming
    }

    /// An incoming connection from `remote` said what it is: it proves we are reachable,
    /// unless it came over loopback while we listen elsewhere (a local browser on
    /// `/status` says nothing of the outside; gtk-gnutella ignores local peers too).
    pub fn note_incoming(&mut self, now: Duration, remote: IpAddr, our_listen: IpAddr) {
        let local = remote.to_canonical().is_loopback();
        if !local || our_listen.to_canonical().is_loopback() {
            self.last_incoming = Some(now);
        }
    }

    /// A Push for us: passed on to the connect-back task, unless its address may not be
    /// dialled, is throttled, or too many connect-backs run.
    pub fn on_push_request(&mut self, now: Duration, push: Push, our_ip: Ipv4Addr) {
        self.counters.received += 1;
        let to = SocketAddrV4::new(push.ip, push.port);
        if !dialable(to, our_ip) {
            self.counters.undialable += 1;
            log::debug!("push to {to} ignored: not an address we dial");
            return;
        }
        if self.unreachable.get(&to).is_some_and(|until| *until > now) {
            self.counters.throttled += 1;
            return;
        }
        if self.in_flight >= MAX_GIVS_IN_FLIGHT {
            self.counters.throttled += 1;
            return;
        }
        if self.recent.len() >= THROTTLE_TABLE_MAX && !self.recent.contains_key(&push.ip) {
            self.recent
                .retain(|_, (since, _)| now.saturating_sub(*since) < PUSH_REPLY_PERIOD);
            if self.recent.len() >= THROTTLE_TABLE_MAX {
                // That many addresses pushing within one period is a flood itself.
                self.counters.throttled += 1;
                return;
            }
        }
        let entry = self.recent.entry(push.ip).or_insert((now, 0));
        if now.saturating_sub(entry.0) >= PUSH_REPLY_PERIOD {
            *entry = (now, 0);
        }
        if entry.1 >= PUSH_REPLY_MAX {
            self.counters.throttled += 1;
            log::debug!("push to {to} throttled: {PUSH_REPLY_MAX} in {PUSH_REPLY_PERIOD:?}");
            return;
        }
        let Some(tx) = &self.to_answer else {
            return;
        };
        if tx.unbounded_send(push).is_ok() {
            entry.1 += 1;
            self.in_flight += 1;
        }
    }

    /// A connect-back to `to` failed: counted, and `to` skipped a while.
    pub(super) fn connect_failed(&mut self, now: Duration, to: SocketAddrV4) {
        self.counters.connect_failed += 1;
        if self.unreachable.len() >= THROTTLE_TABLE_MAX {
            self.unreachable.retain(|_, until| *until > now);
        }
        // Still full: the ban is skipped (the in-flight cap bounds what a flood costs).
        if self.unreachable.len() < THROTTLE_TABLE_MAX {
            self.unreachable.insert(to, now + PUSH_UNREACHABLE_BAN);
        }
    }

    /// A download waits for a GIV from `servent_id` (for file `index`): the ticket to
    /// [`PushState::forget_waiter`] with; `None` when too many wait already.
    pub(super) fn wait_for(
        &mut self,
        servent_id: Guid,
        index: u32,
        tx: oneshot::Sender<GivConnection>,
    ) -> Option<u64> {
        if self.waiters.len() >= MAX_GIV_WAITERS {
            return None;
        }
        let id = self.next_waiter;
        self.next_waiter += 1;
        self.waiters.push(Waiter {
            id,
            servent_id,
            index,
            tx,
        });
        Some(id)
    }

    /// The download with ticket `id` no longer waits.
    pub(super) fn forget_waiter(&mut self, id: u64) {
        self.waiters.retain(|w| w.id != id);
    }

    /// Hands a GIV connection to the download waiting for its servent (the one that asked
    /// for its index first, else the oldest); gives it back when none waits.
    pub(super) fn hand_over(&mut self, mut conn: GivConnection) -> Result<(), GivConnection> {
        loop {
            let id = conn.giv.servent_id;
            let pick = self
                .waiters
                .iter()
                .position(|w| w.servent_id == id && w.index == conn.giv.index)
                .or_else(|| self.waiters.iter().position(|w| w.servent_id == id));
            let Some(i) = pick else {
                return Err(conn);
            };
            let w = self.waiters.remove(i);
            match w.tx.send(conn) {
                Ok(()) => return Ok(()),
                Err(back) => conn = back, // that download gave up: the next one
            }
        }
    }
}

/// Whether we may connect to `to` for a Push: a unicast address with a port, not one
/// reserved for documentation; a loopback one only when we listen on loopback ourselves
/// (a local mesh), a private one only when we are not on a public address (gtk-gnutella
/// dials neither "to avoid wasting time").
pub fn dialable(to: SocketAddrV4, our_ip: Ipv4Addr) -> bool {
    let ip = *to.ip();
    let [a, b, c, _] = ip.octets();
    let documentation = matches!((a, b, c), (192, 0, 2) | (198, 51, 100) | (203, 0, 113));
    if to.port() == 0
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || documentation
    {
        return false;
    }
    if ip.is_loopback() {
        return our_ip.is_loopback();
    }
    if ip.is_private() || ip.is_link_local() {
        return our_ip.is_loopback() || our_ip.is_private() || our_ip.is_unspecified();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ip: [u8; 4], port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(ip), port)
    }

    #[test]
    fn only_addresses_we_may_dial() {
        let lo = Ipv4Addr::LOCALHOST;
        let public = Ipv4Addr::new(81, 2, 3, 4);
        assert!(dialable(at([127, 0, 0, 1], 6346), lo));
        assert!(!dialable(at([127, 0, 0, 1], 6346), public));
        assert!(!dialable(at([127, 0, 0, 1], 0), lo));
        for bad in [
            [0, 0, 0, 0],
            [224, 0, 0, 1],
            [255, 255, 255, 255],
            [192, 0, 2, 7],
        ] {
            assert!(!dialable(at(bad, 6346), lo), "{bad:?}");
        }
        assert!(dialable(
            at([10, 0, 0, 2], 6346),
            Ipv4Addr::new(10, 0, 0, 1)
        ));
        assert!(!dialable(at([10, 0, 0, 2], 6346), public));
        assert!(dialable(at([81, 2, 3, 5], 6346), public));
    }

    #[test]
    fn firewalled_by_setting_or_silence() {
        let lo = IpAddr::from(Ipv4Addr::LOCALHOST);
        let any = IpAddr::from(Ipv4Addr::UNSPECIFIED);
        let w = Duration::from_secs(10);
        let mut s = PushState::new(false, w);
        assert!(!s.firewalled(Duration::from_secs(9)));
        assert!(s.firewalled(w));
        s.note_incoming(w, lo, lo);
        assert!(!s.firewalled(w + Duration::from_secs(9)));
        assert!(s.firewalled(w * 2));
        // A loopback client of a servent listening on all addresses proves nothing.
        let mut s = PushState::new(false, w);
        s.note_incoming(Duration::from_secs(5), lo, any);
        assert!(s.firewalled(w));
        assert!(PushState::new(true, w).firewalled(Duration::ZERO));
    }

    #[test]
    fn pushes_are_throttled_per_address() {
        let (tx, _rx) = mpsc::unbounded();
        let mut s = PushState {
            to_answer: Some(tx),
            ..PushState::default()
        };
        let push = |port| Push {
            servent_id: Guid::default(),
            file_index: 1,
            ip: Ipv4Addr::LOCALHOST,
            port,
            ggep: None,
        };
        let now = Duration::from_secs(1);
        for i in 0..PUSH_REPLY_MAX + 3 {
            s.on_push_request(now, push(1000 + i as u16), Ipv4Addr::LOCALHOST);
        }
        assert_eq!(s.in_flight, PUSH_REPLY_MAX as usize);
        assert_eq!(s.counters.throttled, 3);
        s.in_flight = 0;
        s.on_push_request(now + PUSH_REPLY_PERIOD, push(1), Ipv4Addr::LOCALHOST);
        assert_eq!(s.in_flight, 1);
        s.connect_failed(now, at([127, 0, 0, 1], 2));
        s.on_push_request(now + PUSH_REPLY_PERIOD, push(2), Ipv4Addr::LOCALHOST);
        assert_eq!((s.in_flight, s.counters.throttled), (1, 4));
    }
}
