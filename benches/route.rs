//! Routing throughput over real loopback TCP: one servent, two raw peers. Peer A sends
//! unique-GUID Queries (TTL 2) as fast as it can; the servent forwards each to peer B.
//! Baseline in the same run: the same bytes relayed A -> B by a plain TCP copy loop.
//!
//! Three rounds, each a raw relay run then a servent run (interleaved, so load on the
//! machine hits both alike); figures are min/median/max over the rounds, and the ratio is
//! taken within each round. Descriptors the servent's send queues dropped are counted.
//!
//! Run: `cargo bench --bench route` (or `scripts/bench-route.sh`), `-- --json` for a script.

/// The allocator the `servent` binary runs with (src/main.rs), so the figure is the
/// binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures::io::{AsyncReadExt, AsyncWriteExt};

use servent::net::{Node, NodeConfig};
use servent::proto::handshake::{self, HandshakeCheck, HandshakeMessage, Headers};
use servent::proto::payload::Query;
use servent::proto::{Descriptor, Guid, Payload};
use servent::rt::{self, TcpListener, TcpStream};

/// Descriptors per run: bounded in count; each run is also bounded in time.
const COUNT: usize = 2_000_000;
const DEADLINE: Duration = Duration::from_secs(60);

fn stream_bytes() -> (Vec<u8>, usize) {
    let mut q = Query::new("linux distribution iso");
    q.extensions.push(servent::proto::payload::Extension::Urn(
        "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB".into(),
    ));
    let one = Descriptor::new(Guid::new_v4(), 2, 0, Payload::Query(q))
        .to_bytes()
        .unwrap();
    let mut all = Vec::with_capacity(one.len() * COUNT);
    for i in 0..COUNT as u64 {
        let start = all.len();
        all.extend_from_slice(&one);
        all[start..start + 8].copy_from_slice(&i.to_le_bytes());
    }
    (all, one.len())
}

async fn join(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut h = Headers::new();
    h.push("User-Agent", "bench/1.0");
    h.push("X-Ultrapeer", "True");
    s.write_all(&HandshakeMessage::connect(h).encode())
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Ok(HandshakeCheck::Complete(n)) = handshake::check(&buf) {
            assert_eq!(handshake::parse(&buf[..n]).unwrap().code(), Some(200));
            break;
        }
        let n = s.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
    }
    s.write_all(&HandshakeMessage::ok(Headers::new()).encode())
        .await
        .unwrap();
    s
}

/// Reads until `total` bytes arrived, the deadline, or 2 s without a byte; returns the
/// stream, bytes read and seconds until the last of them.
async fn drain(mut s: TcpStream, total: usize, start: Instant) -> (TcpStream, usize, f64) {
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    let mut last = start;
    while got < total && start.elapsed() < DEADLINE {
        match rt::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                got += n;
                last = Instant::now();
            }
            _ => break,
        }
    }
    (s, got, last.duration_since(start).as_secs_f64())
}

/// Rounds of (raw relay, servent) runs.
const ROUNDS: usize = 3;

/// Descriptors the node dropped (its `/status` counters): by its send queues, and by
/// the core for any reason.
fn drops(node: &Node) -> u64 {
    let status = node.status();
    let queues: u64 = status["neighbours"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|n| ["relayed", "reply", "own"].map(|k| n["queue"]["drops"][k].as_u64()))
        .map(|d| d.unwrap_or(0))
        .sum();
    let core: u64 = status["descriptors"]["dropped"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| v.as_u64())
        .sum();
    queues + core
}

/// One run through a servent: descriptors per second, delivered, dropped by its queues.
async fn through_servent(bytes: &[u8], one: usize) -> (f64, usize, u64) {
    let node = Node::start_plain(NodeConfig {
        min_peers: 0,
        compress: false,
        ..NodeConfig::default()
    })
    .await
    .unwrap();
    let mut a = join(node.listen_addr()).await;
    let b = join(node.listen_addr()).await;
    // The servent opens B's link in its core a moment after B's handshake ends: Queries
    // A sent before that had only A to go to (the rounds that "lost" 161 = 14,336 bytes,
    // its first three reads, with nothing dropped). Start once both links are open.
    let linked_by = Instant::now() + Duration::from_secs(10);
    while node.neighbour_count() < 2 && Instant::now() < linked_by {
        rt::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(node.neighbour_count(), 2, "A and B linked to the servent");
    let start = Instant::now();
    let reader = rt::spawn_joinable(drain(b, bytes.len(), start));
    a.write_all(bytes).await.unwrap();
    // B stays linked until the counters are read.
    let (_b, got, secs) = reader.await;
    let dropped = drops(&node);
    if std::env::var_os("ROUTE_DEBUG").is_some() {
        let (r, t) = node.with_servent(|s| {
            (
                s.stats().received(servent::proto::PayloadType::Query),
                s.stats().sent(servent::proto::PayloadType::Query),
            )
        });
        eprintln!(
            "core received {r} sent {t}; B got {} in {secs:.2} s; dropped {}",
            got / one,
            node.status()["descriptors"]["dropped"]
        );
    }
    node.shutdown().await;
    ((got / one) as f64 / secs, got / one, dropped)
}

async fn raw_relay(bytes: &[u8], one: usize) -> (f64, usize) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let relay = rt::spawn_joinable(async move {
        let (mut from, _) = listener.accept().await.unwrap();
        let (mut to, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(n) if n > 0 => {
                    if to.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                _ => break,
            }
        }
    });
    let mut a = TcpStream::connect(addr).await.unwrap();
    let b = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let reader = rt::spawn_joinable(drain(b, bytes.len(), start));
    a.write_all(bytes).await.unwrap();
    let (_b, got, secs) = reader.await;
    drop(a);
    relay.await;
    ((got / one) as f64 / secs, got / one)
}

/// min, median, max of three or more figures.
fn spread(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let (bytes, one) = stream_bytes();
    let (mut raw, mut srv, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let (mut delivered, mut dropped) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (r, _) = rt::block_on(raw_relay(&bytes, one));
        let (s, n, d) = rt::block_on(through_servent(&bytes, one));
        raw.push(r);
        srv.push(s);
        ratio.push(s / r);
        delivered.push(n);
        dropped.push(d);
    }
    let threads = rt::worker_threads();
    let (raw3, srv3, ratio3) = (spread(&raw), spread(&srv), spread(&ratio));
    if json {
        println!(
            "{{\"descriptor_bytes\":{one},\"count\":{COUNT},\"worker_threads\":{threads},\"rounds\":{ROUNDS},\"raw_relay_per_s\":[{:.0},{:.0},{:.0}],\"servent_per_s\":[{:.0},{:.0},{:.0}],\"ratio\":[{:.3},{:.3},{:.3}],\"servent_delivered\":{delivered:?},\"servent_dropped\":{dropped:?}}}",
            raw3.0, raw3.1, raw3.2, srv3.0, srv3.1, srv3.2, ratio3.0, ratio3.1, ratio3.2
        );
    } else {
        println!("routing over loopback TCP: {COUNT} Queries of {one} bytes, unique GUIDs, A -> servent -> B");
        println!("{threads} worker threads; {ROUNDS} rounds, raw relay and servent interleaved; min / median / max");
        println!(
            "{:<30} {:>12} {:>12} {:>12}",
            "descriptors/s", "min", "median", "max"
        );
        println!(
            "{:<30} {:>12.0} {:>12.0} {:>12.0}",
            "raw TCP relay (baseline)", raw3.0, raw3.1, raw3.2
        );
        println!(
            "{:<30} {:>12.0} {:>12.0} {:>12.0}",
            "servent (decode+route+encode)", srv3.0, srv3.1, srv3.2
        );
        println!(
            "servent / raw relay (within each round): {:.3}x / {:.3}x / {:.3}x",
            ratio3.0, ratio3.1, ratio3.2
        );
        println!("servent delivered per round: {delivered:?}; dropped (send queues and core): {dropped:?}");
    }
}
