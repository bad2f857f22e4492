//! The servent over real TCP on loopback (ports from the OS): meshes link up and flood,
//! churn heals from the host cache, hostile input on one link is closed or dropped and
//! counted while the servent keeps serving, 0.4 peers route, deflate links interoperate.

use std::collections::{BTreeSet, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

use servent::net::mesh::{wait_until, Mesh};
use servent::net::{Node, NodeConfig, Timing};
use servent::proto::handshake::{self, HandshakeCheck, HandshakeMessage, Headers};
use servent::proto::payload::{Ping, Query, QueryHit};
use servent::proto::{check, parse, Check, Descriptor, Guid, Payload, PayloadType};
use servent::rt::{self, TcpStream};
use servent::sim::Graph;

const WAIT: Duration = Duration::from_secs(20);

fn fast_timing() -> Timing {
    Timing {
        handshake_timeout: Duration::from_millis(500),
        upkeep_tick: Duration::from_millis(50),
        reconnect_backoff: Duration::from_millis(500),
        ..Timing::default()
    }
}

fn config(seed: u64) -> NodeConfig {
    NodeConfig {
        min_peers: 0,
        max_peers: 16,
        seed: Some(seed),
        timing: fast_timing(),
        ..NodeConfig::default()
    }
}

fn ring_graph(n: usize, chords: usize, seed: u64) -> Graph {
    Graph::ring_with_chords(n, chords, &mut ChaCha8Rng::seed_from_u64(seed))
}

/// `GET path` on the servent's one port; returns status code and body.
async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    rt::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("http answer")
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (code, body)
}

async fn status(node: &Node) -> Value {
    let (code, body) = http_get(node.listen_addr(), "/status").await;
    assert_eq!(code, 200);
    serde_json::from_str(&body).expect("status is JSON")
}

/// A hand-driven peer: we speak the wire ourselves to test the servent's side of it.
struct RawPeer {
    stream: TcpStream,
    buf: Vec<u8>,
    reply: HandshakeMessage,
}

impl RawPeer {
    async fn connect(addr: SocketAddr, mut headers: Headers) -> RawPeer {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        if headers.get("User-Agent").is_none() {
            headers.push("User-Agent", "raw-test/1.0");
        }
        headers.push("X-Ultrapeer", "True");
        stream
            .write_all(&HandshakeMessage::connect(headers).encode())
            .await
            .unwrap();
        let mut buf = Vec::new();
        let reply = read_block(&mut stream, &mut buf).await;
        RawPeer { stream, buf, reply }
    }

    async fn join(addr: SocketAddr) -> RawPeer {
        let mut p = RawPeer::connect(addr, Headers::new()).await;
        assert_eq!(p.reply.code(), Some(200));
        p.stream
            .write_all(&HandshakeMessage::ok(Headers::new()).encode())
            .await
            .unwrap();
        p
    }

    async fn send(&mut self, d: &Descriptor) {
        self.stream.write_all(&d.to_bytes().unwrap()).await.unwrap();
    }

    /// Next descriptor from the servent, within the wait, passing over its discovery
    /// Pings (hops 0, TTL above 1: the one a servent sends each new neighbour, and its
    /// pong cache refreshes; with pong caching no other Ping has a TTL above 1 here).
    async fn recv(&mut self) -> Option<Descriptor> {
        let mut chunk = [0u8; 4096];
        loop {
            if let Ok(Check::Complete(n)) = check(&self.buf) {
                let d = parse(&self.buf[..n]).expect("servent sends valid descriptors");
                self.buf.drain(..n);
                if matches!(*d.payload, Payload::Ping(_)) && d.hops == 0 && d.ttl > 1 {
                    continue;
                }
                return Some(d);
            }
            match rt::timeout(WAIT, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }

    /// Whether the servent closed the connection (within the wait).
    async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        loop {
            match rt::timeout(WAIT, self.stream.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

async fn read_block(stream: &mut TcpStream, buf: &mut Vec<u8>) -> HandshakeMessage {
    let mut chunk = [0u8; 1024];
    loop {
        if let Ok(HandshakeCheck::Complete(n)) = handshake::check(buf) {
            let msg = handshake::parse(&buf[..n]).expect("valid handshake");
            buf.drain(..n);
            return msg;
        }
        let n = rt::timeout(WAIT, stream.read(&mut chunk))
            .await
            .expect("handshake reply")
            .unwrap();
        assert!(n > 0, "closed during handshake");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn ping(ttl: u8) -> Descriptor {
    Descriptor::new(Guid::new_v4(), ttl, 0, Payload::Ping(Ping::default()))
}

#[test]
fn a_mesh_of_20_links_up_and_floods_reach_every_servent_once() {
    rt::block_on(async {
        let graph = ring_graph(20, 20, 7);
        let (n, e) = (graph.node_count() as u64, graph.edge_count() as u64);
        let mesh = Mesh::start(graph.clone(), |i| NodeConfig {
            max_ttl: 15,
            ..config(i as u64)
        })
        .await
        .unwrap();
        assert!(
            mesh.wait_linked(WAIT).await,
            "every servent reaches its degree"
        );
        for i in 0..20 {
            let want: BTreeSet<usize> = graph.neighbours(i).iter().map(|&x| x as usize).collect();
            assert_eq!(
                mesh.neighbours_of(i).into_iter().collect::<BTreeSet<_>>(),
                want,
                "servent {i}"
            );
        }

        // A Ping (0.6 pong caching): every neighbour answers with its Pong and hosts from
        // its pong cache, filled when its links opened; nobody relays the Ping.
        assert!(mesh.wait_quiet(Duration::from_millis(200), WAIT).await);
        let pings_before = mesh.total_stats().sent(PayloadType::Ping);
        let (_, mut pongs) = mesh.nodes[3].ping(7);
        let neighbours: HashSet<u16> = graph
            .neighbours(3)
            .iter()
            .map(|&j| mesh.nodes[j as usize].listen_addr().port())
            .collect();
        let mut from = HashSet::new();
        while !neighbours.is_subset(&from) {
            let pong = rt::timeout(WAIT, pongs.next())
                .await
                .expect("pongs keep coming")
                .unwrap();
            from.insert(pong.port);
        }
        assert!(mesh.wait_quiet(Duration::from_millis(200), WAIT).await);
        while let Ok(Some(pong)) = rt::timeout(Duration::from_millis(50), pongs.next()).await {
            from.insert(pong.port);
        }
        assert!(!from.contains(&mesh.nodes[3].listen_addr().port()));
        assert!(
            from.len() > neighbours.len(),
            "hosts beyond the neighbours, from their pong caches: {from:?}"
        );
        assert_eq!(
            mesh.total_stats().sent(PayloadType::Ping) - pings_before,
            graph.degree(3) as u64,
            "one Ping per neighbour, none relayed"
        );

        // A Query flood covering the graph: every servent accepts it exactly once and the
        // network carries exactly 2E - (N - 1) Query messages, plus the copies relayed again
        // for carrying more TTL than the first (protocol/README.md section 7), each to every
        // link but its sender: arrival order over TCP decides whether there are any.
        let counters = |s: &servent::core::Servent| {
            let st = s.stats();
            (
                st.received(PayloadType::Query),
                st.dropped(servent::core::DropReason::Duplicate),
                st.relayed_better_ttl,
            )
        };
        let before: Vec<(u64, u64, u64)> = mesh
            .nodes
            .iter()
            .map(|n| n.with_servent(counters))
            .collect();
        let sent_before = mesh.total_stats().sent(PayloadType::Query);
        mesh.nodes[3].query(Query::new("nothing"), 15);
        let target = 2 * e - (n - 1);
        assert!(
            wait_until(WAIT, || mesh.total_stats().received(PayloadType::Query)
                - before.iter().map(|b| b.0).sum::<u64>()
                >= target)
            .await
        );
        assert!(mesh.wait_quiet(Duration::from_millis(200), WAIT).await);
        let mut again = 0;
        for (i, node) in mesh.nodes.iter().enumerate() {
            let (rx, dup, better) = node.with_servent(counters);
            let better = better - before[i].2;
            again += better * (graph.degree(i) as u64 - 1);
            let accepted = (rx - before[i].0) - (dup - before[i].1) - better;
            assert_eq!(
                accepted,
                if i == 3 { 0 } else { 1 },
                "servent {i} accepted the query once"
            );
        }
        assert_eq!(
            mesh.total_stats().sent(PayloadType::Query) - sent_before,
            target + again
        );
        mesh.shutdown().await;
    });
}

#[test]
fn churn_heals_from_the_host_cache_and_floods_reach_every_survivor() {
    rt::block_on(async {
        let n = 20;
        let graph = ring_graph(n, 20, 8);
        let mesh = Mesh::start(graph, |i| NodeConfig {
            min_peers: 3,
            max_peers: 8,
            ..config(100 + i as u64)
        })
        .await
        .unwrap();
        assert!(mesh.wait_linked(WAIT).await);
        // Fill the host caches: two rounds of Pings from everyone, answered from pong
        // caches (each round reaches one hop farther).
        for _round in 0..2 {
            for node in &mesh.nodes {
                node.ping(7);
            }
            assert!(mesh.wait_quiet(Duration::from_millis(200), WAIT).await);
        }
        assert!(
            mesh.nodes.iter().all(|n| n.host_cache_len() >= 10),
            "host caches filled by Pongs"
        );

        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(99));
        let (stopped, survivors) = order.split_at(n * 3 / 10);
        for &i in stopped {
            mesh.nodes[i].shutdown().await;
        }
        let dead: HashSet<SocketAddr> = stopped
            .iter()
            .map(|&i| mesh.nodes[i].listen_addr())
            .collect();
        // Healed: every survivor has 3 neighbours again, all of them live servents.
        let live_degree = |i: usize| {
            mesh.nodes[i]
                .neighbours()
                .iter()
                .filter(|a| !dead.contains(a))
                .count()
        };
        let healed = wait_until(WAIT, || {
            survivors
                .iter()
                .all(|&i| live_degree(i) >= 3 && live_degree(i) == mesh.nodes[i].neighbour_count())
        })
        .await;
        assert!(
            healed,
            "survivors regain 3 live neighbours: {:?}",
            survivors
                .iter()
                .map(|&i| (live_degree(i), mesh.nodes[i].neighbour_count()))
                .collect::<Vec<_>>()
        );
        // The survivors' component, from their own neighbour lists; a new flood reaches it all.
        let origin = survivors[0];
        let index = mesh.addr_index();
        let mut component = BTreeSet::from([origin]);
        let mut stack = vec![origin];
        while let Some(v) = stack.pop() {
            for a in mesh.nodes[v].neighbours() {
                let w = index[&a];
                if component.insert(w) {
                    stack.push(w);
                }
            }
        }
        let (_, mut pongs) = mesh.nodes[origin].ping(7);
        let mut from = HashSet::new();
        while from.len() < component.len() - 1 {
            match rt::timeout(WAIT, pongs.next()).await {
                Ok(Some(p)) => from.insert(p.port),
                _ => break,
            };
        }
        assert_eq!(
            from.len(),
            component.len() - 1,
            "pongs from the whole component"
        );
        for &i in survivors {
            mesh.nodes[i].shutdown().await;
        }
    });
}

/// A servent with one honest neighbour, to show it keeps serving while a link misbehaves.
async fn victim() -> (Node, Node) {
    let node = Node::start_plain(config(1)).await.unwrap();
    let friend = Node::start_plain(config(2)).await.unwrap();
    friend.connect(node.listen_addr()).await.unwrap();
    assert!(wait_until(WAIT, || node.neighbour_count() == 1).await);
    (node, friend)
}

/// The victim still answers its honest neighbour: a Ping from the friend gets a Pong.
async fn still_serves(friend: &Node) {
    let (_, mut pongs) = friend.ping(1);
    assert!(
        rt::timeout(WAIT, pongs.next()).await.is_ok(),
        "the servent still serves its other link"
    );
}

#[test]
fn hostile_framing_closes_only_the_bad_link_and_is_counted() {
    rt::block_on(async {
        let (node, friend) = victim().await;
        let header = |len: u32| {
            let mut h = Descriptor::new(Guid::new_v4(), 1, 0, Payload::Ping(Ping::default()))
                .to_bytes()
                .unwrap();
            h[19..23].copy_from_slice(&len.to_le_bytes());
            h
        };
        // A 4 GiB length, and a payload just over 64 KiB (sent in full).
        for bytes in [header(u32::MAX), {
            let mut b = header(65_537);
            b.extend(vec![0u8; 65_537]);
            b
        }] {
            let mut p = RawPeer::join(node.listen_addr()).await;
            p.stream.write_all(&bytes).await.unwrap();
            assert!(p.closed().await, "link closed");
        }
        // Random bytes after the handshake.
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let junk: Vec<u8> = (0..4096).map(|_| rand::Rng::gen(&mut rng)).collect();
        let mut p = RawPeer::join(node.listen_addr()).await;
        p.stream.write_all(&junk).await.unwrap();
        assert!(p.closed().await, "junk closes the link");
        still_serves(&friend).await;
        let s = status(&node).await;
        assert_eq!(s["links"]["closed"]["payload-too-large"], 3, "{s}");
        assert_eq!(s["neighbours"].as_array().unwrap().len(), 1);
    });
}

#[test]
fn hostile_handshakes_are_refused_and_counted() {
    rt::block_on(async {
        let (node, friend) = victim().await;
        // 1 MB without a blank line: refused after at most 8 KiB.
        let mut s = TcpStream::connect(node.listen_addr()).await.unwrap();
        let mut big = b"GNUTELLA CONNECT/0.6\r\nX-Junk: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 1 << 20));
        let _ = rt::timeout(WAIT, s.write_all(&big)).await; // the servent may close mid-way
        let mut rest = Vec::new();
        let _ = rt::timeout(WAIT, s.read_to_end(&mut rest))
            .await
            .expect("closed");
        // A handshake that stalls half-way.
        let mut s = TcpStream::connect(node.listen_addr()).await.unwrap();
        s.write_all(b"GNUTELLA CONNECT/0.6\r\nUser-Agent: slow")
            .await
            .unwrap();
        let mut rest = Vec::new();
        rt::timeout(WAIT, s.read_to_end(&mut rest))
            .await
            .expect("stalled handshake closed")
            .ok();
        still_serves(&friend).await;
        assert!(
            wait_until(WAIT, || node.status()["links"]["handshake_failures"]
                ["timeout"]
                == 1)
            .await
        );
        let st = status(&node).await;
        assert_eq!(st["links"]["handshake_failures"]["too-large"], 1, "{st}");
    });
}

#[test]
fn hostile_descriptors_are_dropped_and_counted_on_a_live_link() {
    rt::block_on(async {
        let (node, friend) = victim().await;
        let mut p = RawPeer::join(node.listen_addr()).await;
        // TTL 255: dropped.
        p.send(&Descriptor::new(
            Guid::new_v4(),
            255,
            0,
            Payload::Query(Query::new("abc")),
        ))
        .await;
        // The same descriptor twice: the replay is a duplicate.
        let q = Descriptor::new(Guid::new_v4(), 2, 0, Payload::Query(Query::new("replayed")));
        p.send(&q).await;
        p.send(&q).await;
        // A QueryHit nobody asked for: no route.
        let hit = QueryHit {
            port: 1,
            ip: [127, 0, 0, 1].into(),
            speed: 0,
            results: vec![],
            trailer: None,
            servent_id: Guid([3; 16]),
        };
        p.send(&Descriptor::new(
            Guid::new_v4(),
            3,
            0,
            Payload::QueryHit(hit),
        ))
        .await;
        // A flood of Pings: beyond the burst they are rate limited.
        for _ in 0..200 {
            p.send(&ping(1)).await;
        }
        let dropped = |r: &str| {
            node.status()["descriptors"]["dropped"][r]
                .as_u64()
                .unwrap_or(0)
        };
        assert!(
            wait_until(WAIT, || dropped("rate-limited") == 200 - 64).await,
            "{}",
            node.status()
        );
        let st = status(&node).await;
        let d = &st["descriptors"]["dropped"];
        assert_eq!(
            (
                d["ttl-too-high"].as_u64(),
                d["duplicate"].as_u64(),
                d["no-route"].as_u64()
            ),
            (Some(1), Some(1), Some(1)),
            "{st}"
        );
        // The link is still up: it answers one more (rate permitting) Ping later, and the
        // honest neighbour is still served.
        assert_eq!(st["neighbours"].as_array().unwrap().len(), 2);
        still_serves(&friend).await;
    });
}

#[test]
fn a_04_peer_gets_ok_and_can_route() {
    rt::block_on(async {
        let (node, _friend) = victim().await;
        let mut s = TcpStream::connect(node.listen_addr()).await.unwrap();
        s.write_all(b"GNUTELLA CONNECT/0.4\n\n").await.unwrap();
        let mut ok = [0u8; 13];
        rt::timeout(WAIT, s.read_exact(&mut ok))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&ok, b"GNUTELLA OK\n\n");
        let mut p = RawPeer {
            stream: s,
            buf: Vec::new(),
            reply: HandshakeMessage::ok_04(),
        };
        // A crawler Ping (hops 0, TTL 2): the servent's Pong and, from its pong cache,
        // its neighbour's (the servent asked the neighbour when their link opened).
        assert!(wait_until(WAIT, || node.status()["pong_cache"] == 1).await);
        let ping = ping(2);
        p.send(&ping).await;
        let mut ports = HashSet::new();
        while ports.len() < 2 {
            let d = p.recv().await.expect("pongs");
            assert_eq!(d.guid, ping.guid);
            let Payload::Pong(pong) = &*d.payload else {
                panic!("expected a Pong")
            };
            ports.insert(pong.port);
        }
    });
}

#[test]
fn every_handshake_reply_offers_hosts_and_learns_the_peers() {
    rt::block_on(async {
        let a = Node::start_plain(config(31)).await.unwrap();
        let b = Node::start_plain(config(32)).await.unwrap();
        b.connect(a.listen_addr()).await.unwrap();
        assert!(wait_until(WAIT, || a.neighbour_count() == 1).await);
        // A 200 OK carries X-Try and X-Try-Ultrapeers: the neighbour first.
        let mut mine = Headers::new();
        mine.push("Listen-IP", "127.0.0.1:3");
        mine.push("X-Try-Ultrapeers", "127.0.0.1:4, 127.0.0.1:5");
        let mut p = RawPeer::connect(a.listen_addr(), mine).await;
        assert_eq!(p.reply.code(), Some(200));
        let b_addr = b.listen_addr().to_string();
        for name in ["X-Try", "X-Try-Ultrapeers"] {
            let hosts = p.reply.headers.get_list(name);
            assert_eq!(hosts.first(), Some(&b_addr), "200 OK {name}: {hosts:?}");
            assert!(!hosts.iter().any(|h| h == "127.0.0.1:3"), "not the asker");
        }
        // Hosts offered in the CONNECT and in the final 200 land in the host cache.
        let before = a.host_cache_len();
        let mut fin = Headers::new();
        fin.push("X-Try", "127.0.0.1:6");
        p.stream
            .write_all(&HandshakeMessage::ok(fin).encode())
            .await
            .unwrap();
        assert!(wait_until(WAIT, || a.neighbour_count() == 2).await);
        assert!(
            a.host_cache_len() > before,
            "127.0.0.1:6 learnt from the final 200"
        );
        assert!(
            before >= 3,
            "b, :4 and :5 learnt from the CONNECT: {before}"
        );
        a.shutdown().await;
        b.shutdown().await;
    });
}

#[test]
fn handshake_headers_and_503_with_x_try_when_full() {
    rt::block_on(async {
        // Full of ultrapeers and with no leaf slot (with one, an ultrapeer full of
        // ultrapeers answers 200 and `X-Ultrapeer-Needed: false`, as gtk-gnutella does).
        let node = Node::start_plain(NodeConfig {
            max_peers: 1,
            max_leaves: 0,
            ..config(9)
        })
        .await
        .unwrap();
        let mut first = Headers::new();
        first.push("Listen-IP", "127.0.0.1:1");
        let p = RawPeer::connect(node.listen_addr(), first).await;
        let h = &p.reply.headers;
        assert_eq!(p.reply.code(), Some(200));
        assert!(h.get("User-Agent").unwrap().starts_with("servent/"));
        assert_eq!(h.get("X-Ultrapeer"), Some("True"));
        assert_eq!(h.get("GUID"), Some(node.servent_id().to_string().as_str()));
        assert_eq!(
            h.get("Listen-IP"),
            Some(node.listen_addr().to_string().as_str())
        );
        assert_eq!(h.get("Remote-IP"), Some("127.0.0.1"));
        assert_eq!(h.get("Bye-Packet"), Some("0.1"));
        assert_eq!(h.get("X-Features"), Some("browse/1.0"));
        assert_eq!(h.get("Accept-Encoding"), Some("deflate"));
        let mut p = p;
        p.stream
            .write_all(&HandshakeMessage::ok(Headers::new()).encode())
            .await
            .unwrap();
        assert!(wait_until(WAIT, || node.neighbour_count() == 1).await);
        // Full: a second servent gets 503 and hosts to try.
        let other = Node::start_plain(config(10)).await.unwrap();
        other
            .connect(SocketAddr::from(([127, 0, 0, 1], 1)))
            .await
            .ok(); // unreachable: no effect
        let mut h = Headers::new();
        h.push("Listen-IP", other.listen_addr().to_string());
        let q = RawPeer::connect(node.listen_addr(), h).await;
        assert_eq!(q.reply.code(), Some(503));
        // Hosts to try: the neighbour (known alive), never the asker itself.
        let other_addr = other.listen_addr().to_string();
        for name in ["X-Try", "X-Try-Ultrapeers"] {
            let hosts = q.reply.headers.get_list(name);
            assert!(
                hosts.iter().any(|h| h == "127.0.0.1:1"),
                "503 {name}: {hosts:?}"
            );
            assert!(!hosts.contains(&other_addr), "{name}: {hosts:?}");
        }
        // Our refusal is counted once, as a refusal, not also as a failed handshake. A
        // real failure after it (a block over 8 KiB) marks when the counting is done.
        let mut bad = TcpStream::connect(node.listen_addr()).await.unwrap();
        let mut block = b"GNUTELLA CONNECT/0.6\r\nX-Pad: ".to_vec();
        block.resize(9 * 1024, b'x');
        let _ = bad.write_all(&block).await;
        assert!(
            wait_until(WAIT, || {
                node.status()["links"]["handshake_failures"]["too-large"] == 1
            })
            .await
        );
        let counted = status(&node).await;
        let links = &counted["links"];
        assert_eq!(links["handshake_failures"]["too-large"], 1, "{counted}");
        assert_eq!(links["refused_full"], 1, "{counted}");
        assert_eq!(
            links["handshake_failures"].as_object().map(|f| f.len()),
            Some(1),
            "our 503 counted twice: {counted}"
        );
    });
}

#[test]
fn deflate_links_interoperate_with_a_plain_zlib_stream() {
    use std::io::Write;
    rt::block_on(async {
        let node = Node::start_plain(config(11)).await.unwrap();
        let mut h = Headers::new();
        h.push("Accept-Encoding", "deflate");
        let mut p = RawPeer::connect(node.listen_addr(), h).await;
        assert_eq!(p.reply.headers.get("Content-Encoding"), Some("deflate"));
        let mut fin = Headers::new();
        fin.push("Content-Encoding", "deflate");
        p.stream
            .write_all(&HandshakeMessage::ok(fin).encode())
            .await
            .unwrap();
        // Our side: a zlib stream written by flate2, sync-flushed, carrying a Ping.
        let ping = ping(1);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&ping.to_bytes().unwrap()).unwrap();
        z.flush().unwrap();
        p.stream.write_all(z.get_ref()).await.unwrap();
        // Its side: a zlib stream carrying the Pong.
        let mut inflate = flate2::Decompress::new(true);
        let mut plain = Vec::new();
        let mut chunk = [0u8; 4096];
        let pong = loop {
            if let Ok(Check::Complete(n)) = check(&plain) {
                let d = parse(&plain[..n]).unwrap();
                plain.drain(..n);
                // Its discovery Ping to a new neighbour comes first: pass over it.
                if matches!(*d.payload, Payload::Pong(_)) {
                    break d;
                }
                continue;
            }
            let n = rt::timeout(WAIT, p.stream.read(&mut chunk))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0);
            let mut out = vec![0u8; 65536];
            let before = inflate.total_out();
            inflate
                .decompress(&chunk[..n], &mut out, flate2::FlushDecompress::Sync)
                .unwrap();
            plain.extend_from_slice(&out[..(inflate.total_out() - before) as usize]);
        };
        assert_eq!(pong.guid, ping.guid);
        assert!(matches!(*pong.payload, Payload::Pong(_)));
        assert_eq!(
            node.status()["neighbours"][0]["compressed"],
            serde_json::json!({"in": true, "out": true})
        );
    });
}

#[test]
fn a_restarted_servent_rejoins_from_its_persisted_host_cache() {
    rt::block_on(async {
        let dir = std::env::temp_dir().join(format!("servent-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let hub = Node::start_plain(config(20)).await.unwrap();
        let cfg = NodeConfig {
            data_dir: Some(dir.clone()),
            min_peers: 1,
            ..config(21)
        };
        let first = Node::start_plain(NodeConfig {
            peers: vec![hub.listen_addr()],
            ..cfg.clone()
        })
        .await
        .unwrap();
        assert!(wait_until(WAIT, || first.neighbour_count() == 1).await);
        let id = first.servent_id();
        first.shutdown().await;
        assert!(wait_until(WAIT, || hub.neighbour_count() == 0).await);
        // No --peer this time: the host cache on disk leads back to the hub.
        let again = Node::start_plain(cfg).await.unwrap();
        assert_eq!(again.servent_id(), id, "servent ID persisted");
        assert!(
            wait_until(WAIT, || again.neighbour_count() == 1).await,
            "rejoined without --peer"
        );
        again.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn a_stuck_peer_never_blocks_routing_to_the_others_and_its_queue_is_bounded() {
    rt::block_on(async {
        let cap = 64 * 1024;
        let node = Node::start_plain(NodeConfig {
            send_queue: cap,
            compress: false,
            ..config(30)
        })
        .await
        .unwrap();
        let mut a = RawPeer::join(node.listen_addr()).await;
        let mut b = RawPeer::join(node.listen_addr()).await;
        let _stuck = RawPeer::join(node.listen_addr()).await; // never reads
        assert!(wait_until(WAIT, || node.neighbour_count() == 3).await);
        // 500 rounds of 200 Queries (TTL 2: relayed to B and to the stuck peer). Each round
        // waits until B has them all, so B's own queue never overflows.
        let (rounds, per_round) = (500, 200);
        let mut q = Query::new("stuck peer test");
        q.text.extend_from_slice(&[b'x'; 100]);
        for _ in 0..rounds {
            let mut burst = Vec::new();
            for _ in 0..per_round {
                burst.extend(
                    Descriptor::new(Guid::new_v4(), 2, 0, Payload::Query(q.clone()))
                        .to_bytes()
                        .unwrap(),
                );
            }
            a.stream.write_all(&burst).await.unwrap();
            for _ in 0..per_round {
                let d = b
                    .recv()
                    .await
                    .expect("B keeps receiving while the stuck peer reads nothing");
                assert_eq!(d.payload_type(), PayloadType::Query);
            }
        }
        let st = status(&node).await;
        let stuck = st["neighbours"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["queue"]["drops"]["relayed"].as_u64().unwrap_or(0) > 0)
            .expect("the stuck peer's queue dropped relayed queries");
        assert!(
            stuck["queue"]["bytes"].as_u64().unwrap() <= cap as u64,
            "{st}"
        );
    });
}

#[test]
fn three_strategies_find_a_file_with_3_replicas_on_a_30_servent_mesh_with_exact_costs() {
    use servent::core::matcher::ListMatcher;
    use servent::core::{LocalFile, Strategy};
    rt::block_on(async {
        let graph = ring_graph(30, 30, 12);
        let holders = [4usize, 15, 26];
        let mesh = Mesh::start_sharing(
            graph,
            |i| config(300 + i as u64),
            |i| {
                let name = if holders.contains(&i) {
                    "rare-recording.flac"
                } else {
                    "common.txt"
                };
                let f = LocalFile {
                    index: 1,
                    size: 10,
                    name: name.into(),
                    sha1_urn: None,
                };
                servent::net::NodeShare::Matcher(servent::core::SharedFiles {
                    matcher: Box::new(ListMatcher(vec![f])),
                    files: 1,
                    kbytes: 1,
                })
            },
        )
        .await
        .unwrap();
        assert!(mesh.wait_linked(WAIT).await);
        let holder_ports: BTreeSet<u16> = holders
            .iter()
            .map(|&h| mesh.nodes[h].listen_addr().port())
            .collect();
        for text in [
            "flood:ttl=7",
            "ring:start=1,step=2,max=7,want=1",
            "walk:k=8,steps=200,check=4,want=1",
        ] {
            let strategy: Strategy = text.parse().unwrap();
            let before = mesh.total_stats();
            let (hits, cost) = mesh
                .search(
                    0,
                    Query::new("rare recording"),
                    strategy,
                    Duration::from_secs(60),
                )
                .await
                .unwrap();
            let after = mesh.total_stats();
            let found: BTreeSet<u16> = hits.iter().map(|h| h.hit.port).collect();
            assert!(
                !found.is_empty() && found.is_subset(&holder_ports),
                "{text}: hits {found:?} {cost:?}"
            );
            if text.starts_with("flood") {
                assert_eq!(
                    found, holder_ports,
                    "a flood covering the mesh finds every replica"
                );
            }
            // The network-wide cost, summed from every servent's per-query table, equals
            // what the servents' own per-type send counters say was sent meanwhile.
            let sent = |t: PayloadType| after.sent(t) - before.sent(t);
            assert!(cost.network_wide);
            assert_eq!(cost.traffic.queries, sent(PayloadType::Query), "{text}");
            assert_eq!(cost.traffic.hits, sent(PayloadType::QueryHit), "{text}");
            assert_eq!(cost.traffic.checks, sent(PayloadType::Vendor), "{text}");
            if text.starts_with("walk") {
                assert!(cost.walker_steps > 0 && cost.traffic.checks > 0, "{cost:?}");
            }
        }
        mesh.shutdown().await;
    });
}

/// How late a ring may end over TCP: the timer task sleeps until the core's next deadline,
/// so only scheduling is left (a 500 ms upkeep tick would make each ring up to 500 ms late).
const RING_LATENESS: Duration = Duration::from_millis(50);

#[test]
fn ring_deadlines_fire_on_time_over_tcp_not_on_the_upkeep_tick() {
    use servent::core::Strategy;
    use std::time::Instant;
    rt::block_on(async {
        // The default timing: upkeep every 500 ms, which must not be what ends the rings.
        let plain = |seed| NodeConfig {
            timing: Timing::default(),
            ..config(seed)
        };
        let a = Node::start_plain(plain(41)).await.unwrap();
        let b = Node::start_plain(plain(42)).await.unwrap();
        a.connect(b.listen_addr()).await.unwrap();
        assert!(
            wait_until(WAIT, || a.neighbour_count() == 1
                && b.neighbour_count() == 1)
            .await
        );
        let queries_at_b = || b.with_servent(|s| s.stats().received(PayloadType::Query));
        let before = queries_at_b();

        // Two rings of 200 ms each; B shares nothing, so both run out. The search sets a
        // deadline sooner than anything the timer task was sleeping for: it must be woken.
        let ring_timeout = Duration::from_millis(200);
        // TTLs 2 and 3: a TTL 1 Query would be B's last hop, which B's empty query
        // routing table (it shares nothing) keeps from it.
        let strategy: Strategy = "ring:start=2,step=1,max=3,want=1,timeout=200ms"
            .parse()
            .unwrap();
        let started = Instant::now();
        let (_, mut events) = a.search(Query::new("nothing matches this"), strategy);
        // No hits can come (B shares nothing): the first event is the end.
        let cost = match rt::timeout(WAIT, events.next()).await {
            Ok(Some(servent::net::SearchEvent::Done(cost))) => cost,
            Ok(Some(servent::net::SearchEvent::Hit(h))) => panic!("unexpected hit {h:?}"),
            _ => panic!("the search never ended"),
        };
        let elapsed = started.elapsed();
        assert_eq!(cost.rings, 2, "{cost:?}");
        assert!(
            wait_until(WAIT, || queries_at_b() - before == 2).await,
            "both rings' Queries reached B"
        );
        let deadline = 2 * ring_timeout;
        // The core's own record: each ring ended at its deadline (never before it).
        assert!(
            cost.duration >= deadline && cost.duration <= deadline + RING_LATENESS,
            "the rings took {:?} for a deadline of {deadline:?}",
            cost.duration
        );
        // And as the caller sees it: the end event arrives on time.
        assert!(
            elapsed >= deadline && elapsed <= deadline + RING_LATENESS,
            "the search ended after {elapsed:?} for a deadline of {deadline:?}"
        );
        a.shutdown().await;
        b.shutdown().await;
    });
}

#[test]
fn open_http_connections_are_bounded_and_freed() {
    use servent::net::dispatch::MAX_HTTP_CONNECTIONS;
    rt::block_on(async {
        let node = Node::start_plain(config(40)).await.unwrap();
        // Connections that send half a request and wait: each holds a slot. They come from
        // 127.0.0.2 upwards, a few per address (one address may hold only a few slots).
        let mut idle = Vec::new();
        for i in 0..MAX_HTTP_CONNECTIONS {
            let from = std::net::Ipv4Addr::from(0x7f00_0002 + (i / 4) as u32);
            let s = crate::http::connect_from(from, node.listen_addr()).unwrap();
            let mut s = TcpStream::from(s);
            s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
            idle.push(s);
        }
        let open = |n: &Node| n.status()["connections"]["http_open"].as_u64().unwrap_or(0);
        assert!(wait_until(WAIT, || open(&node) == MAX_HTTP_CONNECTIONS as u64).await);
        // One more is refused with 503 and closed.
        let mut s = TcpStream::connect(node.listen_addr()).await.unwrap();
        s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        rt::timeout(WAIT, s.read_to_end(&mut answer))
            .await
            .unwrap()
            .unwrap();
        assert!(
            answer.starts_with(b"HTTP/1.1 503"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
        assert_eq!(node.status()["connections"]["http_refused"], 1);
        // Closing them frees the slots: /status answers again.
        drop(idle);
        assert!(wait_until(WAIT, || open(&node) == 0).await);
        assert_eq!(status(&node).await["connections"]["http_refused"], 1);
    });
}

/// Servents started one after another, as a script starts them: the one whose `--peer`
/// does not answer yet (here a port that takes the connection and drops it) tries it
/// again and joins once a servent listens there.
#[test]
fn a_peer_that_is_not_up_yet_is_tried_again_until_it_is() {
    let fake = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let later = fake.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Take the first connect and drop it: the early servent's try has failed.
        let _ = fake.accept();
        drop(fake);
        let _ = tx.send(());
    });
    rt::block_on(async {
        let early = Node::start_plain(NodeConfig {
            peers: vec![later],
            // As `servent serve` runs: it keeps connecting while below its minimum.
            min_peers: NodeConfig::default().min_peers,
            ..config(1)
        })
        .await
        .unwrap();
        rx.recv_timeout(WAIT)
            .expect("the early servent tries its peer");
        assert_eq!(early.neighbour_count(), 0);
        let peer = Node::start_plain(NodeConfig {
            listen: later,
            ..config(2)
        })
        .await
        .unwrap();
        let deadline = std::time::Instant::now() + WAIT;
        while early.neighbour_count() == 0 && std::time::Instant::now() < deadline {
            rt::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            early.neighbours(),
            vec![later],
            "the early servent joined its peer once it was up"
        );
        peer.shutdown().await;
        early.shutdown().await;
    });
}
