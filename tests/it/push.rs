//! Push and GIV. In the core (the simulator's network): a Push follows the QueryHit's
//! reverse path hop by hop, an unknown servent ID is dropped and counted, a duplicate
//! Push is dropped, a firewalled servent's QueryHits carry the push flag. Over TCP: a
//! firewalled leaf behind an ultrapeer serves a file to a downloader that searched, saw
//! the flag and sent a Push (in process, and with `servent search --download`); hostile
//! and unsolicited GIV lines are closed and counted; a servent with no incoming
//! connection for a while counts itself firewalled.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream as StdTcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use servent::core::matcher::ListMatcher;
use servent::core::{Config, DropReason, Event, LocalFile, RolePolicy, SharedFiles};
use servent::download::{
    download, push_url, DownloadOptions, DownloadRequest, PushFuture, PushedConnection, Pusher,
};
use servent::library::{Library, LibraryConfig};
use servent::net::mesh::wait_until;
use servent::net::{Node, NodeConfig, NodeShare, SearchEvent, Timing};
use servent::proto::payload::{Push, Query, QueryHit};
use servent::proto::{Descriptor, Guid, Payload, PayloadType};
use servent::rt;
use servent::sim::{Graph, Network};

// ---- the core -------------------------------------------------------------------------

fn config(i: usize) -> Config {
    Config {
        servent_id: Guid::mark_modern([i as u8 ^ 0x3C; 16]),
        port: 20_000 + i as u16,
        seed: i as u64,
        ..Config::default()
    }
}

/// A line of `n` servents, the last sharing one file (index 7), hits collected at 0.
fn line_with_holder(n: usize, firewalled: bool) -> Network {
    let edges = (0..n as u32 - 1).map(|i| (i, i + 1)).collect();
    let mut net = Network::new(Graph::from_edges(n, edges), 1, config);
    net.enable_trace();
    let files = vec![LocalFile {
        index: 7,
        size: 1234,
        name: "pushed song.ogg".into(),
        sha1_urn: None,
    }];
    net.with_node(n - 1, |s, _| {
        s.set_firewalled(firewalled);
        s.set_matcher(SharedFiles {
            matcher: Box::new(ListMatcher(files)),
            files: 1,
            kbytes: 2,
        })
    });
    net
}

fn first_hit(net: &mut Network, origin: usize) -> QueryHit {
    net.with_node(origin, |s, now| s.query(now, Query::new("song"), 7));
    net.run_until_quiet();
    net.take_events(origin)
        .into_iter()
        .find_map(|e| match e {
            Event::QueryHit { hit, .. } => Some(hit),
            _ => None,
        })
        .expect("a hit")
}

fn push_for(servent_id: Guid) -> Push {
    Push {
        servent_id,
        file_index: 7,
        ip: Ipv4Addr::LOCALHOST,
        port: 6346,
        ggep: None,
    }
}

fn push_requests(net: &mut Network, node: usize) -> Vec<Push> {
    net.take_events(node)
        .into_iter()
        .filter_map(|e| match e {
            Event::PushRequest { push, .. } => Some(push),
            _ => None,
        })
        .collect()
}

#[test]
fn a_push_retraces_the_query_hit_hop_by_hop() {
    let n = 5;
    let mut net = line_with_holder(n, true);
    let hit = first_hit(&mut net, 0);
    assert!(
        hit.needs_push(),
        "a firewalled servent's hit asks for a Push"
    );
    let push = push_for(hit.servent_id);
    assert!(net.with_node(0, |s, now| s.push(now, push.clone())));
    net.run_until_quiet();
    let hops: Vec<(usize, usize, u8, u8)> = net
        .trace()
        .iter()
        .filter(|t| t.descriptor.payload_type() == PayloadType::Push)
        .map(|t| (t.from, t.to, t.descriptor.ttl, t.descriptor.hops))
        .collect();
    // Exactly the reverse of the hit's path, one copy per hop, TTL down and hops up.
    assert_eq!(
        hops,
        vec![(0, 1, 7, 0), (1, 2, 6, 1), (2, 3, 5, 2), (3, 4, 4, 3)]
    );
    assert_eq!(push_requests(&mut net, n - 1), vec![push]);
    for relay in 1..n - 1 {
        assert!(push_requests(&mut net, relay).is_empty());
    }
}

#[test]
fn hits_carry_the_push_flag_only_when_firewalled() {
    let mut net = line_with_holder(3, false);
    let hit = first_hit(&mut net, 0);
    let trailer = hit.trailer.as_ref().expect("a trailer");
    assert_eq!(
        trailer.flag(servent::proto::payload::query_hit::FLAG_PUSH),
        Some(false)
    );
    assert!(!hit.needs_push());
    // gtk-gnutella's bytes: push flag value in open-data byte 0, "meaningful" in byte 1.
    assert_eq!(trailer.open_data[1] & 0x01, 0x01);
    assert_eq!(trailer.open_data[0] & 0x01, 0x00);
    let mut net = line_with_holder(3, true);
    let hit = first_hit(&mut net, 0);
    assert_eq!(hit.trailer.as_ref().unwrap().open_data[0] & 0x01, 0x01);
}

#[test]
fn a_push_for_an_unknown_servent_is_dropped_and_counted() {
    let mut net = line_with_holder(4, true);
    let stranger = Guid::mark_modern([0xEE; 16]);
    // Ours: no route, nothing sent.
    assert!(!net.with_node(0, |s, now| s.push(now, push_for(stranger))));
    // Relayed: dropped by the first servent that has no route.
    let before = net.node(1).stats().dropped(DropReason::NoRoute);
    let d = Descriptor::new(Guid::new_v4(), 5, 0, Payload::Push(push_for(stranger)));
    net.inject(0, 1, d);
    net.run_until_quiet();
    assert_eq!(net.node(1).stats().dropped(DropReason::NoRoute), before + 1);
    let onward = net
        .trace()
        .iter()
        .filter(|t| t.descriptor.payload_type() == PayloadType::Push && t.from == 1)
        .count();
    assert_eq!(onward, 0);
}

#[test]
fn a_duplicate_push_is_dropped() {
    let n = 4;
    let mut net = line_with_holder(n, true);
    let hit = first_hit(&mut net, 0);
    let guid = Guid::new_v4();
    let d = Descriptor::new(guid, 5, 0, Payload::Push(push_for(hit.servent_id)));
    let dups = net.node(1).stats().dropped(DropReason::Duplicate);
    net.inject(0, 1, d.clone());
    net.inject(0, 1, d);
    net.run_until_quiet();
    assert_eq!(net.node(1).stats().dropped(DropReason::Duplicate), dups + 1);
    assert_eq!(push_requests(&mut net, n - 1).len(), 1, "delivered once");
    let relayed = net
        .trace()
        .iter()
        .filter(|t| t.descriptor.guid == guid && t.from == 1)
        .count();
    assert_eq!(relayed, 1);
}

#[test]
fn a_push_for_a_neighbour_goes_by_its_handshake_id_and_never_back() {
    // No hit came through: servent 1 still knows servent 2's ID from the handshake.
    let mut net = line_with_holder(3, true);
    let target = net.node(2).servent_id();
    net.inject(
        0,
        1,
        Descriptor::new(Guid::new_v4(), 5, 0, Payload::Push(push_for(target))),
    );
    net.run_until_quiet();
    assert_eq!(push_requests(&mut net, 2).len(), 1);
    // A Push for servent 0 arriving from servent 0 is not sent back to it.
    let zero = net.node(0).servent_id();
    let before = net.node(1).stats().dropped(DropReason::NoRoute);
    net.inject(
        0,
        1,
        Descriptor::new(Guid::new_v4(), 5, 0, Payload::Push(push_for(zero))),
    );
    net.run_until_quiet();
    assert_eq!(net.node(1).stats().dropped(DropReason::NoRoute), before + 1);
    assert!(push_requests(&mut net, 0).is_empty());
}

// ---- over TCP -------------------------------------------------------------------------

const WAIT: Duration = Duration::from_secs(20);
const FILE_NAME: &str = "pushed song.ogg";

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("servent-push-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn content() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect()
}

fn library(dir: &Path) -> Arc<Library> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(FILE_NAME), content()).unwrap();
    let lib = Library::open(LibraryConfig {
        roots: vec![dir.to_owned()],
        data_dir: None,
        include_hidden: false,
        progress: None,
    })
    .unwrap();
    assert!(lib.wait_hashed(WAIT));
    lib
}

/// Ultrapeer A, and firewalled leaf B sharing the file behind it, B's routing table at A.
async fn firewalled_leaf_behind_ultrapeer(dir: &Path) -> (Node, Node) {
    let a = Node::start_plain(NodeConfig {
        min_peers: 0,
        ..NodeConfig::default()
    })
    .await
    .unwrap();
    let b = Node::start_shared(
        NodeConfig {
            role: RolePolicy::Leaf,
            peers: vec![a.listen_addr()],
            min_peers: 0,
            leaf_ultrapeers: 1,
            firewalled: true,
            ..NodeConfig::default()
        },
        NodeShare::Library(library(dir)),
    )
    .await
    .unwrap();
    let table_in = wait_until(WAIT, || {
        a.status()["neighbours"].as_array().is_some_and(|n| {
            n.iter()
                .any(|p| p["role"] == "leaf" && !p["qrp_table"].is_null())
        })
    })
    .await;
    assert!(table_in, "B's routing table reaches A");
    assert!(b.is_firewalled());
    assert_eq!(b.status()["firewalled"]["now"], true);
    assert_eq!(b.status()["firewalled"]["configured"], true);
    (a, b)
}

struct NodePusher(Node);

impl Pusher for NodePusher {
    fn connect_back(&self, servent_id: [u8; 16], index: u32) -> PushFuture {
        let node = self.0.clone();
        Box::pin(async move {
            let c = node
                .push_and_wait(Guid(servent_id), index, Duration::from_secs(10))
                .await
                .map_err(|e| e.to_string())?;
            Ok(PushedConnection {
                stream: c.stream,
                remote: c.remote,
            })
        })
    }
}

#[test]
fn a_firewalled_leaf_uploads_by_push_and_giv() {
    let dir = scratch("api");
    rt::block_on(async {
        let (a, b) = firewalled_leaf_behind_ultrapeer(&dir.join("b")).await;
        let c = Node::start_plain(NodeConfig {
            role: RolePolicy::Leaf,
            min_peers: 0,
            ..NodeConfig::default()
        })
        .await
        .unwrap();
        c.connect(a.listen_addr()).await.unwrap();
        let (_, mut events) = c.query(Query::new("pushed song"), 4);
        let hit = match rt::timeout(WAIT, events.next()).await {
            Ok(Some(SearchEvent::Hit(h))) => h.hit,
            other => panic!("no hit: {:?}", other.is_ok()),
        };
        assert!(hit.needs_push(), "B's hit says it is firewalled");
        assert_eq!(hit.servent_id, b.servent_id());
        let r = &hit.results[0];
        let advertised = SocketAddr::from((hit.ip, hit.port));
        let url = push_url(
            hit.servent_id.0,
            advertised,
            &format!("/get/{}/pushed%20song.ogg", r.index),
        );
        let output = dir.join("got.ogg");
        let report = download(DownloadRequest {
            sources: vec![url.clone()],
            sha1: None,
            output: output.clone(),
            options: DownloadOptions {
                chunk_size: 64 * 1024,
                pusher: Some(Arc::new(NodePusher(c.clone()))),
                ..DownloadOptions::default()
            },
        })
        .await
        .expect("download by push");
        assert_eq!(std::fs::read(&output).unwrap(), content());
        assert!(report.verified, "checked against the SHA-1 B advertised");
        assert_eq!(report.sources[0].url, url);
        let (bs, cs) = (b.status(), c.status());
        assert!(bs["push"]["givs_sent"].as_u64().unwrap() >= 1, "{bs}");
        assert!(cs["push"]["giv_matched"].as_u64().unwrap() >= 1, "{cs}");
        assert_eq!(cs["push"]["giv_unsolicited"], 0);
        assert!(a.with_servent(|s| s.stats().received(PayloadType::Push)) >= 1);

        // Nobody answers a Push for a servent with no route: a typed error, at once.
        let none = c
            .push_and_wait(Guid::mark_modern([9; 16]), 1, Duration::from_secs(1))
            .await;
        assert_eq!(none.err(), Some(servent::net::PushError::NoRoute));
        for n in [&a, &b, &c] {
            n.shutdown().await;
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn servent_search_downloads_from_a_firewalled_servent() {
    let dir = scratch("cli");
    let (a, b) = rt::block_on(firewalled_leaf_behind_ultrapeer(&dir.join("b")));
    let output = dir.join("got.ogg");
    let out = Command::new(env!("CARGO_BIN_EXE_servent"))
        .args([
            "search",
            "pushed song",
            "--peer",
            &a.listen_addr().to_string(),
        ])
        .args([
            "--timeout",
            "2s",
            "--download",
            "-o",
            output.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("SHA-1 verified"), "{stdout}");
    assert_eq!(std::fs::read(&output).unwrap(), content());
    assert!(b.status()["push"]["givs_sent"].as_u64().unwrap() >= 1);
    rt::block_on(async {
        a.shutdown().await;
        b.shutdown().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `bytes` on a fresh connection and reads until the servent closes it (at most 5 s):
/// the bytes it answered.
fn send_and_read_to_close(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = StdTcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(bytes).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got)
        .expect("closed by the servent, not timed out");
    got
}

#[test]
fn hostile_and_unsolicited_givs_are_closed_and_counted() {
    rt::block_on(async {
        let node = Node::start_plain(NodeConfig::default()).await.unwrap();
        let addr = node.listen_addr();
        let id = "0123456789ABCDEF0123456789ABCDEF";
        let mut too_long = b"GIV 1:".to_vec();
        too_long.resize(servent::proto::giv::MAX_GIV_LEN, b'A');
        let cases: [(Vec<u8>, &str); 4] = [
            (too_long, "too-long"),
            (
                b"GIV 1:0123456789ABCDEF0123456789ABCDEZ/x\n\n".to_vec(),
                "bad-servent-id",
            ),
            (format!("GIV x:{id}/x\n\n").into_bytes(), "bad-index"),
            (
                format!("GIV 1:{id}/x\n\nGET / HTTP/1.1\r\n\r\n").into_bytes(),
                "extra-data",
            ),
        ];
        for (bytes, why) in &cases {
            let got = rt::spawn_blocking({
                let bytes = bytes.clone();
                move || send_and_read_to_close(addr, &bytes)
            })
            .await;
            assert!(got.is_empty(), "{why}: nothing answered");
            assert_eq!(node.status()["push"]["giv_malformed"][why], 1, "{why}");
        }
        let unsolicited = format!("GIV 3:{id}/song.ogg\n\n").into_bytes();
        let got = rt::spawn_blocking(move || send_and_read_to_close(addr, &unsolicited)).await;
        assert!(got.is_empty());
        let s = node.status();
        assert_eq!(s["push"]["giv_unsolicited"], 1, "{s}");
        assert_eq!(s["push"]["giv_matched"], 0);
        assert_eq!(s["connections"]["giv"], 5);
        node.shutdown().await;
    });
}

#[test]
fn a_servent_never_reached_counts_itself_firewalled_until_it_is() {
    rt::block_on(async {
        let window = Duration::from_millis(300);
        let lonely = Node::start_plain(NodeConfig {
            min_peers: 0,
            timing: Timing {
                firewall_window: window,
                ..Timing::default()
            },
            ..NodeConfig::default()
        })
        .await
        .unwrap();
        assert!(wait_until(WAIT, || lonely.is_firewalled()).await);
        let s = lonely.status();
        assert_eq!(s["firewalled"]["now"], true);
        assert_eq!(s["firewalled"]["configured"], false);
        assert!(s["firewalled"]["last_incoming_s_ago"].is_null());
        // Its hits say so once the driver tells the core (on its next input or tick).
        assert!(wait_until(WAIT, || lonely.with_servent(|s| s.firewalled())).await);
        // Someone connects in: it is reachable after all.
        let visitor = Node::start_plain(NodeConfig {
            min_peers: 0,
            ..NodeConfig::default()
        })
        .await
        .unwrap();
        visitor.connect(lonely.listen_addr()).await.unwrap();
        assert!(!lonely.is_firewalled());
        assert!(wait_until(WAIT, || !lonely.with_servent(|s| s.firewalled())).await);
        assert_eq!(lonely.status()["firewalled"]["now"], false);
        visitor.shutdown().await;
        lonely.shutdown().await;
    });
}

#[test]
fn a_firewalled_servent_does_not_answer_a_firewalled_requester() {
    // Neither could connect to the other: the requester's Query says it is firewalled
    // (as gtk-gnutella's do), and a firewalled holder keeps quiet.
    let mut net = line_with_holder(3, true);
    net.with_node(0, |s, _| s.set_firewalled(true));
    net.with_node(0, |s, now| s.query(now, Query::new("song"), 7));
    net.run_until_quiet();
    let flags: Vec<u16> = net
        .trace()
        .iter()
        .filter_map(|t| match &*t.descriptor.payload {
            Payload::Query(q) if t.from == 0 => Some(q.flags),
            _ => None,
        })
        .collect();
    assert_eq!(flags.len(), 1);
    assert_ne!(
        flags[0] & servent::proto::payload::query::QUERY_FLAG_FIREWALLED,
        0
    );
    assert!(!net
        .take_events(0)
        .iter()
        .any(|e| matches!(e, Event::QueryHit { .. })));
    // Reachable again, it gets the hit (and would push).
    net.with_node(0, |s, _| s.set_firewalled(false));
    assert!(first_hit(&mut net, 0).needs_push());
}
