//! Datagrams in the simulator: each servent's UDP address (a label, never a socket), and
//! how a datagram rides the delivery queue: straight to the servent its address names,
//! after one link delay, one message, its sender marked by [`DATAGRAM`] in the
//! delivery's `from`, handed over as the bytes a real socket would carry.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::proto::Descriptor;

/// A servent's index in the network (`network::NodeId`, not imported: that module uses
/// this one).
type NodeId = usize;

/// First simulated UDP address (10.0.0.0): room for 16M servents.
const SIM_UDP_BASE: u32 = 0x0A00_0000;
/// The simulated servents' UDP port (Gnutella's usual one).
const SIM_UDP_PORT: u16 = 6346;
/// Bit of a delivery's `from` saying it is a datagram from servent `from & !DATAGRAM`
/// (servents number fewer than 2^31, so the bit is free).
pub(super) const DATAGRAM: u32 = 1 << 31;

/// The UDP address the simulator gives servent `node` (its datagrams' source, and where
/// datagrams for it go): 10.0.0.0 + node, port 6346.
pub fn sim_udp_addr(node: NodeId) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::from(SIM_UDP_BASE + node as u32), SIM_UDP_PORT)
}

/// The servent a simulated UDP address names, if any of `n`.
fn sim_udp_node(addr: SocketAddrV4, n: usize) -> Option<NodeId> {
    let i = u32::from(*addr.ip()).checked_sub(SIM_UDP_BASE)? as usize;
    (addr.port() == SIM_UDP_PORT && i < n).then_some(i)
}

/// The source address of a delivery that is a datagram (`None`: a link's descriptor).
pub(super) fn datagram_source(from: u32) -> Option<SocketAddrV4> {
    (from & DATAGRAM != 0).then(|| sim_udp_addr((from & !DATAGRAM) as usize))
}

/// A datagram's bytes, as the sender's socket would send them.
pub(super) fn encoded(d: &Descriptor) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = crate::proto::datagram::encode(d, &mut out);
    out
}

/// Datagrams sent and lost in a network.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimDatagrams {
    /// Datagrams sent since the network was built (each also in `Network::sent`).
    pub sent: u64,
    /// Datagrams addressed to no servent of the network: lost, never delivered.
    pub lost: u64,
}

impl SimDatagrams {
    /// Counts a datagram for `to` among `n` servents; the servent it goes to, if any.
    pub(super) fn addressee(&mut self, to: SocketAddrV4, n: usize) -> Option<NodeId> {
        self.sent += 1;
        let node = sim_udp_node(to, n);
        self.lost += u64::from(node.is_none());
        node
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_their_servents_and_nothing_else() {
        assert_eq!(sim_udp_node(sim_udp_addr(0), 10), Some(0));
        assert_eq!(sim_udp_node(sim_udp_addr(9), 10), Some(9));
        assert_eq!(sim_udp_node(sim_udp_addr(10), 10), None);
        let other_port = SocketAddrV4::new(*sim_udp_addr(1).ip(), 1);
        assert_eq!(sim_udp_node(other_port, 10), None);
        let loopback = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6346);
        assert_eq!(sim_udp_node(loopback, 10), None);
        assert_eq!(datagram_source(3), None);
        assert_eq!(datagram_source(3 | DATAGRAM), Some(sim_udp_addr(3)));
    }
}
