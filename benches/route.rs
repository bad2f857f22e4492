//! Routing throughput over real loopback TCP: one servent, two raw peers. Peer A sends
//! unique-GUID Queries (TTL 2) as fast as it can; the servent forwards each to peer B.
//! Baseline in the same run: the same bytes relayed A -> B by a plain TCP copy loop.
//!
//! Run: `cargo bench --bench route` (or `scripts/bench-route.sh`), `-- --json` for a script.

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

/// Reads until `total` bytes arrived or the deadline; returns bytes read and seconds.
async fn drain(mut s: TcpStream, total: usize, start: Instant) -> (usize, f64) {
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0;
    while got < total && start.elapsed() < DEADLINE {
        match rt::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got += n,
            _ => break,
        }
    }
    (got, start.elapsed().as_secs_f64())
}

async fn through_servent(bytes: &[u8], one: usize) -> (f64, usize) {
    let node = Node::start_plain(NodeConfig {
        min_peers: 0,
        compress: false,
        ..NodeConfig::default()
    })
    .await
    .unwrap();
    let mut a = join(node.listen_addr()).await;
    let b = join(node.listen_addr()).await;
    let start = Instant::now();
    let reader = rt::spawn_joinable(drain(b, bytes.len(), start));
    a.write_all(bytes).await.unwrap();
    let (got, secs) = reader.await;
    node.shutdown().await;
    ((got / one) as f64 / secs, got / one)
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
    let (got, secs) = reader.await;
    drop(a);
    relay.await;
    ((got / one) as f64 / secs, got / one)
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let (bytes, one) = stream_bytes();
    let (raw, raw_n) = rt::block_on(raw_relay(&bytes, one));
    let (srv, srv_n) = rt::block_on(through_servent(&bytes, one));
    if json {
        println!(
            "{{\"descriptor_bytes\":{one},\"count\":{COUNT},\"raw_relay_per_s\":{raw:.0},\"servent_per_s\":{srv:.0},\"servent_delivered\":{srv_n},\"ratio\":{:.3}}}",
            srv / raw
        );
    } else {
        println!("routing over loopback TCP: {COUNT} Queries of {one} bytes, unique GUIDs, A -> servent -> B");
        println!("{:<28} {:>14} {:>12}", "path", "descriptors/s", "delivered");
        println!("{:<28} {raw:>14.0} {raw_n:>12}", "raw TCP relay (baseline)");
        println!(
            "{:<28} {srv:>14.0} {srv_n:>12}",
            "servent (decode+route+encode)"
        );
        println!("servent / raw relay: {:.3}x", srv / raw);
    }
}
