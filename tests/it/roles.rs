//! Ultrapeers and leaves over real TCP on loopback: who links to whom in each role, the
//! guidance an ultrapeer gives, an `auto` leaf promoting itself, leaves' query routing
//! tables deciding which leaf gets a Query (counted at the leaves), and a leaf's address
//! never offered as a place to connect.

use std::net::SocketAddr;
use std::time::Duration;

use futures::StreamExt;

use servent::core::matcher::{ListMatcher, LocalFile};
use servent::core::{Role, RolePolicy, SharedFiles, Strategy};
use servent::net::mesh::wait_until;
use servent::net::{Node, NodeConfig, NodeShare, SearchEvent, Timing};
use servent::proto::payload::Query;
use servent::proto::PayloadType;
use servent::rt;

const WAIT: Duration = Duration::from_secs(20);

fn timing() -> Timing {
    Timing {
        handshake_timeout: Duration::from_millis(800),
        upkeep_tick: Duration::from_millis(50),
        reconnect_backoff: Duration::from_millis(300),
        leaf_promote_after: Duration::from_millis(600),
        role_switch_min_interval: Duration::ZERO,
        ..Timing::default()
    }
}

fn config(role: RolePolicy, peers: Vec<SocketAddr>) -> NodeConfig {
    NodeConfig {
        role,
        peers,
        min_peers: 0,
        timing: timing(),
        ..NodeConfig::default()
    }
}

fn sharing(names: &[&str]) -> NodeShare {
    let files: Vec<LocalFile> = names
        .iter()
        .enumerate()
        .map(|(i, n)| LocalFile {
            index: i as u32 + 1,
            size: 1000,
            name: n.to_string(),
            sha1_urn: None,
        })
        .collect();
    NodeShare::Matcher(SharedFiles {
        files: files.len() as u32,
        kbytes: 1,
        matcher: Box::new(ListMatcher(files)),
    })
}

fn role(n: &Node) -> Role {
    n.with_servent(|s| s.role())
}

/// (ultrapeer links, leaf links) as the node's core sees them.
fn links(n: &Node) -> (usize, usize) {
    n.with_servent(|s| {
        let ups = s.peers().filter(|(_, p)| p.info.ultrapeer).count();
        (ups, s.peer_count() - ups)
    })
}

fn queries_received(n: &Node) -> u64 {
    n.with_servent(|s| s.stats().received(PayloadType::Query))
}

async fn hits_for(from: &Node, text: &str) -> usize {
    let (_, mut rx) = from.search(Query::new(text), "flood:ttl=4".parse::<Strategy>().unwrap());
    let mut hits = 0;
    while let Ok(Some(ev)) = rt::timeout(WAIT, rx.next()).await {
        match ev {
            SearchEvent::Hit(h) => hits += h.hit.results.len(),
            SearchEvent::Done(_) => break,
        }
    }
    hits
}

#[test]
fn a_leaf_links_to_ultrapeers_only_and_refuses_leaves_with_ultrapeers_to_try() {
    rt::block_on(async {
        let up = Node::start_plain(config(RolePolicy::Ultrapeer, vec![]))
            .await
            .unwrap();
        let leaf = Node::start_plain(config(RolePolicy::Leaf, vec![up.listen_addr()]))
            .await
            .unwrap();
        assert!(wait_until(WAIT, || links(&up) == (0, 1) && links(&leaf) == (1, 0)).await);
        assert_eq!(role(&leaf), Role::Leaf);
        // A leaf takes no links: the ultrapeer never offers its address to others.
        assert!(!up.hosts_to_try(50).contains(&leaf.listen_addr()));
        // A second leaf pointed at the first is refused, and learns the ultrapeer from the
        // refusal's X-Try-Ultrapeers.
        let other = Node::start_plain(config(RolePolicy::Leaf, vec![]))
            .await
            .unwrap();
        let refused = other.connect(leaf.listen_addr()).await;
        assert!(refused.is_err(), "a leaf took a leaf: {refused:?}");
        assert!(other.hosts_to_try(10).contains(&up.listen_addr()));
        assert!(!other.hosts_to_try(10).contains(&leaf.listen_addr()));
        for n in [other, leaf, up] {
            n.shutdown().await;
        }
    });
}

#[test]
fn auto_servents_start_as_ultrapeer_alone_and_as_leaf_with_someone_to_join() {
    rt::block_on(async {
        let first = Node::start_plain(config(RolePolicy::Auto, vec![]))
            .await
            .unwrap();
        assert_eq!(role(&first), Role::Ultrapeer);
        let second = Node::start_plain(config(RolePolicy::Auto, vec![first.listen_addr()]))
            .await
            .unwrap();
        assert_eq!(role(&second), Role::Leaf);
        assert!(wait_until(WAIT, || links(&first) == (0, 1)).await);
        second.shutdown().await;
        first.shutdown().await;
    });
}

#[test]
fn an_auto_leaf_no_ultrapeer_takes_becomes_an_ultrapeer() {
    rt::block_on(async {
        // A port nobody listens on: the leaf has a host to try but no ultrapeer.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = dead.local_addr().unwrap();
        drop(dead);
        let n = Node::start_plain(config(RolePolicy::Auto, vec![addr]))
            .await
            .unwrap();
        assert_eq!(role(&n), Role::Leaf);
        assert!(wait_until(WAIT, || role(&n) == Role::Ultrapeer).await);
        // Now it takes leaves in.
        let leaf = Node::start_plain(config(RolePolicy::Leaf, vec![n.listen_addr()]))
            .await
            .unwrap();
        assert!(wait_until(WAIT, || links(&n) == (0, 1)).await);
        leaf.shutdown().await;
        n.shutdown().await;
    });
}

#[test]
fn an_auto_ultrapeer_told_it_is_not_needed_becomes_that_ultrapeers_leaf() {
    rt::block_on(async {
        // `hub` is full of ultrapeers (one) with room for leaves: it tells the next
        // ultrapeer it is not needed.
        let hub = Node::start_plain(NodeConfig {
            max_peers: 1,
            ..config(RolePolicy::Ultrapeer, vec![])
        })
        .await
        .unwrap();
        let friend = Node::start_plain(config(RolePolicy::Ultrapeer, vec![hub.listen_addr()]))
            .await
            .unwrap();
        assert!(wait_until(WAIT, || links(&hub) == (1, 0)).await);
        // An ultrapeer that cannot become a leaf declines (as gtk-gnutella does, 403).
        let fixed = Node::start_plain(config(RolePolicy::Ultrapeer, vec![]))
            .await
            .unwrap();
        assert!(fixed.connect(hub.listen_addr()).await.is_err());
        assert_eq!(links(&hub), (1, 0));
        fixed.shutdown().await;
        let newcomer = Node::start_plain(config(RolePolicy::Auto, vec![]))
            .await
            .unwrap();
        assert_eq!(role(&newcomer), Role::Ultrapeer);
        newcomer.connect(hub.listen_addr()).await.unwrap();
        assert!(wait_until(WAIT, || role(&newcomer) == Role::Leaf).await);
        assert!(wait_until(WAIT, || links(&hub) == (1, 1)).await);
        for n in [newcomer, friend, hub] {
            n.shutdown().await;
        }
    });
}

#[test]
fn an_ultrapeer_routes_a_query_only_to_leaves_whose_table_matches() {
    rt::block_on(async {
        let up = Node::start_plain(config(RolePolicy::Ultrapeer, vec![]))
            .await
            .unwrap();
        let at = vec![up.listen_addr()];
        let alpha = Node::start_shared(
            config(RolePolicy::Leaf, at.clone()),
            sharing(&["alpha centauri.txt"]),
        )
        .await
        .unwrap();
        let beta = Node::start_shared(
            config(RolePolicy::Leaf, at.clone()),
            sharing(&["beta pictoris.txt"]),
        )
        .await
        .unwrap();
        let asker = Node::start_plain(config(RolePolicy::Leaf, at))
            .await
            .unwrap();
        // Both tables arrived at the ultrapeer.
        assert!(
            wait_until(WAIT, || {
                up.with_servent(|s| {
                    s.peers()
                        .filter(|(id, _)| s.qrp_table_of(*id).is_some_and(|t| t.set_count() > 0))
                        .count()
                        == 2
                })
            })
            .await
        );
        assert_eq!(hits_for(&asker, "centauri").await, 1);
        assert_eq!(queries_received(&alpha), 1);
        assert_eq!(queries_received(&beta), 0, "beta's table does not match");
        // A word prefix routes too (tables hold prefixes), and so does a wildcard term's
        // leading word (this test's matcher knows no wildcards, so only routing counts).
        assert_eq!(hits_for(&asker, "pict").await, 1);
        assert_eq!(queries_received(&beta), 1);
        hits_for(&asker, "alph*txt").await;
        assert_eq!(queries_received(&alpha), 2);
        assert_eq!(queries_received(&beta), 1);
        // The asker shares nothing: its empty table gets it no Query at all.
        assert_eq!(queries_received(&asker), 0);
        for n in [asker, beta, alpha, up] {
            n.shutdown().await;
        }
    });
}

/// On a two-tier network, walkers walk the ultrapeers and each ultrapeer hands the walker to
/// its leaves whose tables match: a file only leaves hold is found (before, walkers saw only
/// ultrapeers' files), and no leaf ever forwards a walker.
#[test]
fn walkers_find_files_only_leaves_hold_through_their_ultrapeers_tables() {
    use servent::sim::experiment::run_one_query;
    use servent::topology::TopologySpec;
    let topo: TopologySpec = "two-tier:ultrapeers=40,leaves=320,degree=6"
        .parse()
        .unwrap();
    let graph = topo
        .build(&mut <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(5))
        .unwrap();
    let leaves: Vec<usize> = (0..graph.node_count())
        .filter(|&v| graph.is_leaf(v))
        .collect();
    let holders: Vec<usize> = leaves.iter().copied().skip(3).step_by(40).collect();
    let origin = leaves[0];
    let walk = "walk:k=4,check=4".parse().unwrap();
    let r = run_one_query(&graph, 5, &walk, origin, &holders, 1).unwrap();
    assert!(r.sim.hits > 0, "walkers found a leaf's file: {:?}", r.sim);
    assert!(r.sim.visited > holders.len() as u64 / 2);
}

/// A leaf whose library changes sends its ultrapeer a PATCH against the table it sent
/// before (no RESET), and the ultrapeer's copy then routes the new words and not the old.
#[test]
fn a_leaf_patches_its_ultrapeers_table_when_what_it_shares_changes() {
    use servent::core::qrp::QueryKeys;
    use servent::core::{Config, PeerId, PeerInfo, Servent};
    use servent::proto::qrp::QrpMessage;
    use servent::proto::Payload;
    let files = |name: &str| SharedFiles {
        files: 1,
        kbytes: 1,
        matcher: Box::new(ListMatcher(vec![LocalFile {
            index: 1,
            size: 10,
            name: name.to_owned(),
            sha1_urn: None,
        }])),
    };
    let now = Duration::ZERO;
    let mut leaf = Servent::new(Config {
        role: Role::Leaf,
        ..Config::default()
    });
    let mut up = Servent::new(Config::default());
    leaf.set_matcher(files("first edition.txt"));
    let (to_up, to_leaf) = (PeerId(1), PeerId(2));
    leaf.handle_connected(
        now,
        to_up,
        PeerInfo {
            ultrapeer: true,
            query_routing: true,
            ..PeerInfo::default()
        },
    );
    up.handle_connected(
        now,
        to_leaf,
        PeerInfo {
            ultrapeer: false,
            query_routing: true,
            ..PeerInfo::default()
        },
    );
    // Delivers what the leaf sent; returns the QRP variants (0 RESET, 1 PATCH).
    let deliver = |leaf: &mut Servent, up: &mut Servent| {
        let mut kinds = Vec::new();
        while let Some(t) = leaf.poll_transmit() {
            if let Payload::Opaque { bytes, .. } = &*t.descriptor.payload {
                kinds.push(match QrpMessage::decode(bytes).unwrap() {
                    QrpMessage::Reset(_) => 0,
                    QrpMessage::Patch(_) => 1,
                });
            }
            up.handle_descriptor(now, to_leaf, t.descriptor);
        }
        kinds
    };
    assert_eq!(deliver(&mut leaf, &mut up), vec![0, 1]);
    let routes = |up: &Servent, word: &str| {
        up.qrp_table_of(to_leaf)
            .unwrap()
            .may_route(&QueryKeys::from_canonical_text(word))
    };
    assert!(routes(&up, "first") && !routes(&up, "second"));
    // Nothing changed: nothing sent.
    leaf.check_shared(now);
    assert_eq!(deliver(&mut leaf, &mut up), Vec::<i32>::new());
    leaf.set_matcher(files("second edition.txt"));
    leaf.check_shared(now);
    assert_eq!(deliver(&mut leaf, &mut up), vec![1]);
    assert!(routes(&up, "second") && routes(&up, "edition") && !routes(&up, "first"));
}
