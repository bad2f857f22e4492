//! The servent's UDP port, beside its TCP one (same address, same port number): a task
//! reads datagrams into one fixed buffer, refuses sources over their rate, and hands the
//! rest to the core with whether the source is verified (one of our links comes from its
//! IP); [`State::pump`](super::state::State::pump) sends what the core asks, without
//! awaiting. Rules: protocol/README.md, section 9.7.

use std::collections::HashMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use crate::proto::datagram::MAX_DATAGRAM_LEN;
use crate::rt;

use super::shared::Shared;

/// Datagrams one source address (IP and port) may send per [`RATE_WINDOW`]. A holder
/// sends one check request per walker it holds, and walkers of one query rarely meet at
/// one servent; 64 a second leaves room for several searches' walkers at once, while a
/// flood from one address costs us at most that many decodes a second.
pub const DATAGRAMS_PER_SOURCE: u32 = 64;
/// The rate limit's window.
pub const RATE_WINDOW: Duration = Duration::from_secs(1);
/// Sources tracked at once. A spoofed flood from many addresses cannot grow the table
/// beyond this: when it is full of sources seen within the window, datagrams from new
/// sources are refused until entries age out (about 40 bytes each: 40 KiB at most).
pub const MAX_SOURCES: usize = 1024;

/// What the rate limit decided for one datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Under its source's rate: handed to the core.
    Yes,
    /// Its source sent [`DATAGRAMS_PER_SOURCE`] already in this window.
    OverRate,
    /// A new source while the table is full of live ones.
    TableFull,
}

/// Per-source datagram counts over fixed windows, in a bounded table. Pure: the time is
/// passed in.
#[derive(Debug, Default)]
pub struct SourceGate {
    /// Source -> (start of its window, datagrams in it).
    sources: HashMap<SocketAddrV4, (Duration, u32)>,
}

impl SourceGate {
    /// Whether a datagram from `from` at `now` is taken.
    pub fn admit(&mut self, from: SocketAddrV4, now: Duration) -> Admit {
        if !self.sources.contains_key(&from) && self.sources.len() >= MAX_SOURCES {
            self.sources
                .retain(|_, (start, _)| now.saturating_sub(*start) < RATE_WINDOW);
            if self.sources.len() >= MAX_SOURCES {
                return Admit::TableFull;
            }
        }
        let (start, count) = self.sources.entry(from).or_insert((now, 0));
        if now.saturating_sub(*start) >= RATE_WINDOW {
            *start = now;
            *count = 0;
        }
        if *count >= DATAGRAMS_PER_SOURCE {
            return Admit::OverRate;
        }
        *count += 1;
        Admit::Yes
    }

    /// Sources tracked now.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// No source tracked.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
}

/// Binds the UDP port at `listen` (the TCP port's address and number). `None`, logged,
/// when it cannot: the servent then runs without UDP (walkers it launches carry no
/// address, holders check along the path).
pub(super) fn bind(listen: SocketAddr) -> Option<(rt::UdpSocket, std::net::UdpSocket)> {
    match rt::bind_udp(listen) {
        Ok(pair) => Some(pair),
        Err(e) => {
            log::warn!("no UDP port at {listen}: {e}");
            None
        }
    }
}

/// Reads datagrams until the servent shuts down.
pub(super) async fn run(shared: Arc<Shared>, socket: rt::UdpSocket) {
    // One byte more than the limit: a datagram that fills it is oversize.
    let mut buf = vec![0u8; MAX_DATAGRAM_LEN + 1];
    let mut gate = SourceGate::default();
    loop {
        let got = rt::timeout(Duration::from_millis(500), socket.recv_from(&mut buf)).await;
        if shared.is_shutting_down() {
            return;
        }
        let (n, from) = match got {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => {
                log::debug!("udp receive: {e}");
                continue;
            }
            Err(_) => continue,
        };
        let now = shared.now();
        let mut st = shared.lock();
        st.udp_counters.read += 1;
        let SocketAddr::V4(from) = from else {
            st.udp_counters.not_ipv4 += 1;
            continue;
        };
        if gate.admit(from, now) != Admit::Yes {
            st.udp_counters.rate_limited += 1;
            continue;
        }
        let verified = st
            .links
            .values()
            .any(|l| l.remote.ip() == std::net::IpAddr::V4(*from.ip()));
        st.servent.handle_datagram(now, from, &buf[..n], verified);
        st.pump(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn addr(i: u32) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::from(0x7F00_0000 + i), 6346)
    }

    #[test]
    fn one_source_gets_its_rate_and_the_table_stays_bounded() {
        let mut g = SourceGate::default();
        let t = Duration::from_secs(10);
        for _ in 0..DATAGRAMS_PER_SOURCE {
            assert_eq!(g.admit(addr(1), t), Admit::Yes);
        }
        assert_eq!(g.admit(addr(1), t), Admit::OverRate);
        assert_eq!(g.admit(addr(2), t), Admit::Yes, "others are not held back");
        assert_eq!(g.admit(addr(1), t + RATE_WINDOW), Admit::Yes, "next window");
        for i in 3..(MAX_SOURCES as u32 + 10) {
            g.admit(addr(i), t + RATE_WINDOW);
        }
        assert_eq!(g.len(), MAX_SOURCES);
        assert_eq!(
            g.admit(addr(5_000), t + RATE_WINDOW),
            Admit::TableFull,
            "full of live sources"
        );
        assert_eq!(
            g.admit(addr(5_000), t + RATE_WINDOW * 3),
            Admit::Yes,
            "old entries age out"
        );
        assert!(g.len() <= MAX_SOURCES);
    }
}
