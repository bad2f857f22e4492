//! Datagrams in and out of the core: the UDP port beside the TCP one. A datagram is read
//! (size bound, exact length, decode) and counted, then answered by the same rules as a
//! descriptor on a link, with one more: a reply never carries more bytes to an
//! unverified address than the datagram that caused it (no amplification). A UDP Ping
//! gets a UDP Pong; walker check requests and verdicts (section 9.7) go here when the
//! walker carries its requester's address (`RA`). The driver sends what
//! [`Servent::poll_datagram`] hands out and rate-limits sources before calling in.

use std::collections::VecDeque;
use std::net::SocketAddrV4;
use std::time::Duration;

use crate::core::event::Datagram;
use crate::core::lazy::Empty;
use crate::proto::datagram;
use crate::proto::walker::CheckMessage;
use crate::proto::{Descriptor, Payload, PayloadType};

use super::Servent;

/// What a servent counted on its UDP port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct UdpStats {
    /// Datagrams handed to the core.
    pub received: u64,
    /// Datagrams the core asked to send.
    pub sent: u64,
    /// Dropped before any rule: over the size limit.
    pub oversize: u64,
    /// Dropped before any rule: shorter than a header, a length field that disagrees with
    /// the datagram, or a payload that does not decode.
    pub malformed: u64,
    /// UDP Pings answered with a Pong.
    pub pongs: u64,
    /// Replies not sent: bigger than the datagram that asked, to an address no link of
    /// ours comes from (no amplification).
    pub unverified_refused: u64,
    /// Check requests sent directly to a requester.
    pub check_requests: u64,
    /// Verdicts sent back to a holder.
    pub verdicts_sent: u64,
    /// Verdicts that matched a walker we hold (from the address we asked).
    pub verdicts_received: u64,
    /// Direct checks that got no verdict in time: the holder asked along the reverse path
    /// instead (and sent the walker on without the requester's address).
    pub fallbacks: u64,
    /// Well-formed datagrams with nothing to act on: a check for a walk we do not run or
    /// hold, a verdict from the wrong address, a type we do not take by UDP.
    pub ignored: u64,
}

/// The UDP side's queue and counters, boxed on first use (most simulated servents never
/// see a datagram).
#[derive(Default)]
pub(crate) struct UdpState {
    pub(super) out: VecDeque<Datagram>,
    pub(super) stats: UdpStats,
}

impl Empty for UdpState {
    const EMPTY: &'static UdpState = &UdpState {
        out: VecDeque::new(),
        stats: UdpStats {
            received: 0,
            sent: 0,
            oversize: 0,
            malformed: 0,
            pongs: 0,
            unverified_refused: 0,
            check_requests: 0,
            verdicts_sent: 0,
            verdicts_received: 0,
            fallbacks: 0,
            ignored: 0,
        },
    };
}

/// Bytes of `d` on the wire (header and payload).
pub(super) fn wire_len(d: &Descriptor) -> usize {
    let mut out = Vec::new();
    datagram::encode(d, &mut out).unwrap_or(usize::MAX)
}

impl Servent {
    /// Where we take datagrams (our UDP port, the TCP port's number), or `None` when we
    /// have no UDP socket: walkers we launch then carry no `RA` and we never check by UDP.
    pub fn set_udp_addr(&mut self, addr: Option<SocketAddrV4>) {
        self.udp_addr = addr;
    }

    /// Our UDP address, as last set.
    pub fn udp_addr(&self) -> Option<SocketAddrV4> {
        self.udp_addr
    }

    /// What the UDP port counted.
    pub fn udp_stats(&self) -> UdpStats {
        self.udp.stats
    }

    /// The next datagram to send, oldest first.
    pub fn poll_datagram(&mut self) -> Option<Datagram> {
        self.udp.existing_mut()?.out.pop_front()
    }

    /// A datagram of `bytes` from `from`: read (bounded, exact length), counted, acted on.
    /// `verified`: the driver knows the source answers at that address (one of our links
    /// comes from its IP); only then may a reply be bigger than the datagram. Never
    /// panics, whatever the bytes.
    pub fn handle_datagram(
        &mut self,
        now: Duration,
        from: SocketAddrV4,
        bytes: &[u8],
        verified: bool,
    ) {
        let d = match datagram::decode(bytes) {
            Ok(d) => d,
            Err(e) => {
                let s = &mut self.udp.stats;
                match e {
                    datagram::DatagramError::Oversize { .. } => s.oversize += 1,
                    _ => s.malformed += 1,
                }
                log::debug!("udp {from}: dropped datagram: {e}");
                return;
            }
        };
        self.udp.stats.received += 1;
        let budget = (!verified).then_some(bytes.len());
        match (&*d.payload, d.payload_type()) {
            (Payload::Ping(_), _) => {
                let pong = Descriptor::new(d.guid, 1, 0, Payload::Pong(self.our_pong()));
                if self.send_datagram(from, pong, budget) {
                    self.udp.stats.pongs += 1;
                }
            }
            (Payload::Opaque { bytes: b, .. }, PayloadType::Vendor)
                if self.config.walker_support =>
            {
                match CheckMessage::decode(b) {
                    Ok(m) => self.on_udp_check(now, from, d.guid, m, budget),
                    Err(_) => self.udp.stats.ignored += 1,
                }
            }
            _ => self.udp.stats.ignored += 1,
        }
    }

    /// Queues `d` for `to`, unless it is a reply to an unverified address bigger than
    /// `budget` (the bytes of the datagram that caused it; `None`: not a reply, or the
    /// address is verified). Returns whether it was queued.
    pub(super) fn send_datagram(
        &mut self,
        to: SocketAddrV4,
        d: Descriptor,
        budget: Option<usize>,
    ) -> bool {
        if budget.is_some_and(|b| wire_len(&d) > b) {
            self.udp.stats.unverified_refused += 1;
            return false;
        }
        let u = &mut *self.udp;
        u.stats.sent += 1;
        u.out.push_back(Datagram { to, descriptor: d });
        true
    }
}
