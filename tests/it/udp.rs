//! The UDP port and walker checks by UDP (protocol/README.md section 9.7): a direct check
//! costs exactly 2 messages in the simulator and over loopback UDP between real
//! servents; a requester whose UDP does not answer gets the reverse-path check instead
//! (one datagram lost per walker, never more); hostile datagrams are dropped and counted;
//! a UDP Ping gets a UDP Pong, never bigger than the Ping to an unverified address.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use servent::core::{Config, Servent, Strategy};
use servent::net::mesh::{wait_until, Mesh};
use servent::net::udp::DATAGRAMS_PER_SOURCE;
use servent::net::{Node, NodeConfig};
use servent::proto::datagram::{self, MAX_DATAGRAM_LEN};
use servent::proto::payload::{Ping, Pong};
use servent::proto::{Descriptor, Guid, Payload};
use servent::rt;
use servent::sim::experiment::{build_network, object_query};
use servent::sim::workload::Placement;
use servent::sim::{run_search, Latency};
use servent::topology::Graph;

/// A line 0 - 1 - ... - (n-1): a walker from 0 can only walk on, so with `steps` steps
/// and checks every 4 its checks are at servents 4, 8, ..., L hops from the requester.
fn line(n: usize) -> Graph {
    Graph::from_edges(n, (0..n as u32 - 1).map(|i| (i, i + 1)).collect())
}

fn walk(steps: u16, via: &str) -> Strategy {
    format!("walk:k=1,steps={steps},check=4,want=1,via={via}")
        .parse()
        .unwrap()
}

fn bytes(d: &Descriptor) -> Vec<u8> {
    let mut out = Vec::new();
    datagram::encode(d, &mut out).unwrap();
    out
}

#[test]
fn a_udp_check_costs_exactly_two_messages_in_the_simulator() {
    let graph = line(10);
    let placement = Arc::new(Placement::from_holders(10, &[vec![]]));
    for (via, udp, path) in [("udp", 2, 0), ("path", 0, 8)] {
        let mut net = build_network(graph.clone(), &placement, 1, Latency::default());
        let out = run_search(&mut net, 0, object_query(0, 0), &walk(8, via), None, true).unwrap();
        let cost = out.cost.expect("the walk ended");
        assert_eq!(cost.traffic.queries, 8, "{via}: 8 steps");
        assert_eq!(
            cost.traffic.udp_checks, udp,
            "{via}: request + verdict by UDP"
        );
        assert_eq!(
            cost.traffic.checks, path,
            "{via}: 2 x 4 hops along the path"
        );
        assert_eq!(
            net.datagrams.sent, udp,
            "{via}: datagrams the simulator carried"
        );
        assert_eq!(
            out.sim.check_messages,
            udp + path,
            "{via}: one message per datagram"
        );
        assert_eq!(cost.checks_answered, 1);
        assert_eq!(net.datagrams.lost, 0);
    }
}

#[test]
fn an_unreachable_requester_gets_one_datagram_then_the_reverse_path() {
    let graph = line(14);
    let placement = Arc::new(Placement::from_holders(14, &[vec![]]));
    let mut net = build_network(graph, &placement, 1, Latency::default());
    // The requester names an address no servent has: its datagrams are lost.
    let nowhere = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 6346);
    net.with_node(0, |s, _| s.set_udp_addr(Some(nowhere)));
    let out = run_search(
        &mut net,
        0,
        object_query(0, 0),
        &walk(12, "udp"),
        None,
        true,
    )
    .unwrap();
    let cost = out.cost.expect("the walk ended");
    assert_eq!(
        cost.traffic.queries, 12,
        "the walk went on after the fallback"
    );
    assert_eq!(cost.traffic.udp_checks, 1, "one request, never answered");
    assert_eq!(net.datagrams.lost, 1);
    // Check at servent 4 by the path (2 x 4), then at 8: the walker no longer carries the
    // address, so again by the path (2 x 8).
    assert_eq!(cost.traffic.checks, 8 + 16);
    assert_eq!(cost.checks_answered, 2);
    assert_eq!(net.node(4).udp_stats().fallbacks, 1);
    assert_eq!(net.node(8).udp_stats().check_requests, 0);
}

#[test]
fn a_firewalled_requester_sends_no_address_and_holders_use_the_path() {
    let graph = line(10);
    let placement = Arc::new(Placement::from_holders(10, &[vec![]]));
    let mut net = build_network(graph, &placement, 1, Latency::default());
    net.with_node(0, |s, _| s.set_firewalled(true));
    let out = run_search(&mut net, 0, object_query(0, 0), &walk(8, "udp"), None, true).unwrap();
    let cost = out.cost.expect("the walk ended");
    assert_eq!((cost.traffic.udp_checks, cost.traffic.checks), (0, 8));
    assert_eq!(net.datagrams.sent, 0);
}

#[test]
fn steps_at_the_find_are_the_walkers_own_and_never_fewer_than_the_hits_hops() {
    let graph =
        Graph::plrg(400, 2.1, 1, usize::MAX, &mut ChaCha8Rng::seed_from_u64(3)).largest_component();
    let n = graph.node_count();
    let strategy: Strategy = "walk:k=4,check=4,via=udp".parse().unwrap();
    let (mut found, mut longer) = (0, 0);
    for q in 0..30usize {
        let origin = (q * 37) % n;
        let holders = [(q * 101 + 7) % n, (q * 53 + 11) % n];
        if holders.contains(&origin) {
            continue;
        }
        let out = servent::sim::experiment::run_one_query(
            &graph, q as u64, &strategy, origin, &holders, 1,
        )
        .unwrap();
        let cost = out.cost.unwrap();
        if let (Some(steps), Some(hops)) = (cost.first_hit_steps, cost.first_hit_hops) {
            found += 1;
            // The hit comes back along first-arrival links: never longer than the walk.
            assert!(
                u16::from(hops) <= steps,
                "query {q}: {hops} hops > {steps} steps"
            );
            longer += usize::from(u16::from(hops) < steps);
        }
    }
    assert!(found >= 20, "{found} queries found the object");
    assert!(
        longer > 0,
        "walkers that revisit walk farther than their hits travel"
    );
}

#[test]
fn walkers_report_their_steps_at_the_find() {
    // The replica sits 6 hops down the line: the hit's way back is 6 hops, and so are the
    // walker's steps here; on a ring with a chord they differ, but the field is the
    // walker's own count either way.
    let graph = line(10);
    let placement = Arc::new(Placement::from_holders(10, &[vec![6]]));
    let mut net = build_network(graph, &placement, 1, Latency::default());
    let out = run_search(
        &mut net,
        0,
        object_query(0, 1),
        &walk(20, "udp"),
        None,
        true,
    )
    .unwrap();
    let cost = out.cost.expect("the walk ended");
    assert_eq!(cost.first_hit_steps, Some(6));
    assert_eq!(cost.first_hit_hops, Some(6));
    let flood = run_search(
        &mut net,
        0,
        object_query(0, 1),
        &"flood:ttl=7".parse().unwrap(),
        None,
        true,
    )
    .unwrap();
    assert_eq!(
        flood.cost.unwrap().first_hit_steps,
        None,
        "floods have no steps"
    );
}

fn servent() -> Servent {
    let mut s = Servent::new(Config::default());
    s.set_udp_addr(Some(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6346)));
    s
}

fn drain(s: &mut Servent) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.poll_datagram())
        .map(|d| bytes(&d.descriptor))
        .collect()
}

#[test]
fn hostile_datagrams_are_dropped_and_counted_never_answered() {
    let mut s = servent();
    let from = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 9), 4000);
    let now = Duration::from_secs(1);
    let ping = bytes(&Descriptor::new(
        Guid([1; 16]),
        1,
        0,
        Payload::Ping(Ping::default()),
    ));
    // Truncated: every length short of a header.
    for n in 0..23 {
        s.handle_datagram(now, from, &ping[..n], true);
    }
    // A length field that lies, both ways.
    let mut long = ping.clone();
    long[19..23].copy_from_slice(&u32::MAX.to_le_bytes());
    s.handle_datagram(now, from, &long, true);
    let mut extra = ping.clone();
    extra.extend_from_slice(&[0; 10]);
    s.handle_datagram(now, from, &extra, true);
    // Oversize.
    s.handle_datagram(now, from, &vec![0xC3; MAX_DATAGRAM_LEN + 1], true);
    let st = s.udp_stats();
    assert_eq!((st.malformed, st.oversize, st.received), (25, 1, 0));
    // Random bytes: never a panic; whatever decodes is counted as received.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for _ in 0..2_000 {
        let len = rng.gen_range(0..200);
        let mut b: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        if len >= 23 && rng.gen_bool(0.5) {
            let payload = (len - 23) as u32;
            b[19..23].copy_from_slice(&payload.to_le_bytes());
        }
        s.handle_datagram(now, from, &b, false);
    }
    let st = s.udp_stats();
    assert_eq!(st.malformed + st.oversize + st.received, 26 + 2_000);
    // Nothing went out to an unverified address bigger than what it sent: here nothing
    // at all but Pongs to Pings big enough to carry them.
    for d in drain(&mut s) {
        assert!(datagram::decode(&d).is_ok());
    }
}

#[test]
fn a_udp_ping_gets_a_pong_never_bigger_than_it_to_an_unverified_address() {
    let mut s = servent();
    let from = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 5000);
    let now = Duration::from_secs(1);
    let bare = bytes(&Descriptor::new(
        Guid([2; 16]),
        1,
        0,
        Payload::Ping(Ping::default()),
    ));
    assert_eq!(bare.len(), 23);
    s.handle_datagram(now, from, &bare, false);
    assert!(
        drain(&mut s).is_empty(),
        "a 37-byte Pong for a 23-byte Ping"
    );
    assert_eq!(s.udp_stats().unverified_refused, 1);
    // A Ping padded with a GGEP block as long as a Pong's payload is answered.
    let mut padded = bare.clone();
    let ggep = [0xC3, 0x82 | 0x40, b'P', b'D', 0x40 | 9];
    padded.extend_from_slice(&ggep);
    padded.extend_from_slice(&[1; 9]);
    let payload = (padded.len() - 23) as u32;
    padded[19..23].copy_from_slice(&payload.to_le_bytes());
    s.handle_datagram(now, from, &padded, false);
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    assert!(
        out[0].len() <= padded.len(),
        "{} > {}",
        out[0].len(),
        padded.len()
    );
    // From a verified address the bare Ping is answered too.
    s.handle_datagram(now, from, &bare, true);
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    let pong = datagram::decode(&out[0]).unwrap();
    assert_eq!(pong.guid, Guid([2; 16]), "answers the Ping's ID");
    let Payload::Pong(Pong { port, ip, .. }) = &*pong.payload else {
        panic!("a Pong");
    };
    assert_eq!((*ip, *port), (Ipv4Addr::LOCALHOST, 6346));
    assert_eq!(s.udp_stats().pongs, 2);
}

fn mesh_config(i: usize) -> NodeConfig {
    NodeConfig {
        min_peers: 0,
        max_peers: 8,
        seed: Some(100 + i as u64),
        ..NodeConfig::default()
    }
}

/// Sums one UDP counter of the core over the mesh.
fn sum(mesh: &Mesh, f: impl Fn(servent::core::UdpStats) -> u64) -> u64 {
    mesh.nodes.iter().map(|n| f(n.udp_counters().1)).sum()
}

#[test]
fn over_loopback_a_udp_check_is_two_datagrams_and_the_walk_goes_on() {
    rt::block_on(async {
        let mesh = Mesh::start(line(10), mesh_config).await.unwrap();
        assert!(mesh.wait_linked(Duration::from_secs(20)).await);
        let within = Duration::from_secs(30);
        for n in &mesh.nodes {
            let udp = n.udp_addr().expect("a UDP port");
            assert_eq!(udp, n.listen_addr(), "the TCP port's address and number");
        }
        let (_, cost) = mesh
            .search(0, object_query(0, 0), walk(8, "udp"), within)
            .await
            .unwrap();
        assert_eq!(cost.traffic.queries, 8);
        assert_eq!((cost.traffic.udp_checks, cost.traffic.checks), (2, 0));
        assert_eq!(sum(&mesh, |u| u.check_requests), 1);
        assert_eq!(sum(&mesh, |u| u.verdicts_sent), 1);
        assert_eq!(sum(&mesh, |u| u.verdicts_received), 1);
        let driver_sent: u64 = mesh.nodes.iter().map(|n| n.udp_counters().0.sent).sum();
        assert_eq!(driver_sent, 2, "two datagrams on the wire");

        let (_, cost) = mesh
            .search(0, object_query(0, 0), walk(8, "path"), within)
            .await
            .unwrap();
        assert_eq!(cost.traffic.queries, 8);
        assert_eq!((cost.traffic.udp_checks, cost.traffic.checks), (0, 8));
        mesh.shutdown().await;
    });
}

#[test]
fn over_loopback_an_unreachable_requester_falls_back_to_the_path() {
    rt::block_on(async {
        let mesh = Mesh::start(line(14), mesh_config).await.unwrap();
        assert!(mesh.wait_linked(Duration::from_secs(20)).await);
        // A port nobody listens on (bound, then closed): the request is lost.
        let dead = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let SocketAddr::V4(dead) = dead else {
            unreachable!()
        };
        mesh.nodes[0].with_servent_mut(|s| s.set_udp_addr(Some(dead)));
        let (_, cost) = mesh
            .search(
                0,
                object_query(0, 0),
                walk(12, "udp"),
                Duration::from_secs(30),
            )
            .await
            .unwrap();
        assert_eq!(cost.traffic.queries, 12, "the walk went on");
        assert_eq!(cost.traffic.udp_checks, 1, "one request, lost");
        assert_eq!(cost.traffic.checks, 8 + 16, "both checks by the path");
        assert_eq!(sum(&mesh, |u| u.fallbacks), 1);
        mesh.shutdown().await;
    });
}

#[test]
fn over_loopback_hostile_datagrams_and_a_flood_from_one_source_are_counted() {
    rt::block_on(async {
        let node = Node::start_plain(NodeConfig::default()).await.unwrap();
        let to = node.udp_addr().unwrap();
        // 127.0.0.2: no link of the node comes from there, so it is unverified.
        let sock = UdpSocket::bind("127.0.0.2:0").unwrap();
        let ping = bytes(&Descriptor::new(
            Guid([3; 16]),
            1,
            0,
            Payload::Ping(Ping::default()),
        ));
        sock.send_to(&ping[..10], to).unwrap();
        let mut lying = ping.clone();
        lying[19..23].copy_from_slice(&1000u32.to_le_bytes());
        sock.send_to(&lying, to).unwrap();
        sock.send_to(&vec![0u8; MAX_DATAGRAM_LEN + 100], to)
            .unwrap();
        sock.send_to(&ping, to).unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || node.udp_counters().0.read == 4).await,
            "{:?}",
            node.udp_counters()
        );
        let (driver, core) = node.udp_counters();
        assert_eq!((core.malformed, core.oversize, core.received), (2, 1, 1));
        assert_eq!(core.unverified_refused, 1, "no Pong bigger than the Ping");
        assert_eq!(driver.sent, 0, "nothing sent back");
        // A flood from one source: the first DATAGRAMS_PER_SOURCE of the window reach
        // the core, the rest are refused.
        let flood = 150u64;
        let flooder = UdpSocket::bind("127.0.0.3:0").unwrap();
        for _ in 0..flood {
            flooder.send_to(&ping, to).unwrap();
        }
        assert!(
            wait_until(Duration::from_secs(10), || node.udp_counters().0.read
                == 4 + flood)
            .await,
            "{:?}",
            node.udp_counters()
        );
        let (driver, core) = node.udp_counters();
        let allowed = u64::from(DATAGRAMS_PER_SOURCE);
        assert_eq!(driver.rate_limited, flood - allowed);
        assert_eq!(core.received, 1 + allowed);
        assert_eq!(driver.sent, 0);
        // Nothing came back to either socket.
        sock.set_nonblocking(true).unwrap();
        assert!(sock.recv_from(&mut [0u8; 64]).is_err());
        node.shutdown().await;
    });
}

#[test]
fn over_loopback_a_udp_ping_from_a_linked_address_gets_a_pong() {
    rt::block_on(async {
        let a = Node::start_plain(NodeConfig::default()).await.unwrap();
        let b = Node::start_plain(NodeConfig::default()).await.unwrap();
        b.connect(a.listen_addr()).await.unwrap();
        assert!(wait_until(Duration::from_secs(10), || a.neighbour_count() == 1).await);
        // b's link to a comes from 127.0.0.1: datagrams from there are verified.
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let ping = bytes(&Descriptor::new(
            Guid([4; 16]),
            1,
            0,
            Payload::Ping(Ping::default()),
        ));
        sock.send_to(&ping, a.udp_addr().unwrap()).unwrap();
        let mut buf = [0u8; 512];
        let (n, from) = sock.recv_from(&mut buf).expect("a Pong");
        assert_eq!(from, a.udp_addr().unwrap());
        let pong = datagram::decode(&buf[..n]).unwrap();
        assert_eq!(pong.guid, Guid([4; 16]));
        let Payload::Pong(p) = &*pong.payload else {
            panic!("a Pong");
        };
        assert_eq!(
            SocketAddr::from((p.ip, p.port)),
            a.listen_addr(),
            "names our port"
        );
        a.shutdown().await;
        b.shutdown().await;
    });
}
