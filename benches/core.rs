//! Core throughput: typical Queries (unique GUIDs) through decode -> route -> encode, one
//! servent with 8 neighbours, one thread. Baselines in the same run: the same bytes only
//! copied (memcpy), and only decoded + encoded (codec without routing).
//!
//! Run: `cargo bench --bench core` (or `scripts/bench-core.sh`). `--json` for a script.

use std::hint::black_box;
use std::time::{Duration, Instant};

use servent::core::{Config, PeerId, PeerInfo, Servent};
use servent::proto::payload::{Extension, Query};
use servent::proto::{check, parse, Check, Descriptor, Guid, Payload};

/// Descriptors per measured round; rounds run until `MIN_TIME` has passed.
const BATCH: usize = 100_000;
const MIN_TIME: Duration = Duration::from_secs(2);
const NEIGHBOURS: u32 = 8;

fn typical_query_bytes() -> Vec<u8> {
    let mut q = Query::new("linux distribution iso");
    q.extensions.push(Extension::Urn(
        "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB".into(),
    ));
    Descriptor::new(Guid::new_v4(), 5, 2, Payload::Query(q))
        .to_bytes()
        .expect("encodes")
}

/// Runs `f` over batches until MIN_TIME has passed; returns items per second.
fn measure(mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < MIN_TIME {
        for _ in 0..BATCH {
            f(done);
            done += 1;
        }
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let template = typical_query_bytes();
    let len = template.len();
    let mut input = template.clone();
    let mut out = Vec::with_capacity(1 << 16);

    let memcpy = measure(|i| {
        input[..8].copy_from_slice(&i.to_le_bytes());
        out.clear();
        out.extend_from_slice(black_box(&input));
        black_box(&out);
    });

    let codec = measure(|i| {
        input[..8].copy_from_slice(&i.to_le_bytes());
        let Ok(Check::Complete(n)) = check(&input) else {
            panic!("frame")
        };
        let d = parse(&input[..n]).expect("parses");
        out.clear();
        d.encode(&mut out).expect("encodes");
        black_box(&out);
    });

    let mut servent = Servent::new(Config::default());
    for p in 0..NEIGHBOURS {
        servent.handle_connected(Duration::ZERO, PeerId(p), PeerInfo::default());
    }
    let mut forwarded = 0u64;
    let route = measure(|i| {
        input[..8].copy_from_slice(&i.to_le_bytes());
        let now = Duration::from_micros(i);
        let Ok(Check::Complete(n)) = check(&input) else {
            panic!("frame")
        };
        let d = parse(&input[..n]).expect("parses");
        servent.handle_descriptor(now, PeerId((i % NEIGHBOURS as u64) as u32), d);
        out.clear();
        while let Some(t) = servent.poll_transmit() {
            t.descriptor.encode(&mut out).expect("encodes");
            forwarded += 1;
        }
        black_box(&out);
    });
    assert!(forwarded > 0, "the core forwarded nothing");
    let fanout = NEIGHBOURS - 1;
    if json {
        println!(
            "{{\"query_bytes\":{len},\"neighbours\":{NEIGHBOURS},\"memcpy_per_s\":{memcpy:.0},\"codec_per_s\":{codec:.0},\"route_per_s\":{route:.0},\"route_vs_codec\":{:.3},\"route_vs_memcpy\":{:.4}}}",
            route / codec,
            route / memcpy
        );
    } else {
        println!("core throughput, typical Query of {len} bytes, unique GUIDs, {NEIGHBOURS} neighbours (each in: decode, route, {fanout} encodes out)");
        println!("{:<34} {:>16} {:>12}", "case", "descriptors/s", "vs memcpy");
        for (name, v) in [
            ("memcpy (baseline)", memcpy),
            ("decode + encode (codec only)", codec),
            ("decode + route + encode x7", route),
        ] {
            println!("{name:<34} {v:>16.0} {:>11.4}x", v / memcpy);
        }
        println!("route / codec: {:.3}x", route / codec);
    }
}
