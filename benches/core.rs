//! Core throughput: typical Queries (unique GUIDs) forwarded by one servent with 8
//! neighbours, one thread, measured per CPU-second of this thread. Cases, interleaved over
//! three runs (min/median/max): a plain keyed `HashMap` insert loop of the same GUIDs
//! (the baseline: a duplicate cache at its simplest), the core alone
//! (`handle_descriptor` + `poll_transmit`, descriptors decoded before the clock starts) and
//! the whole path (decode -> route -> encode of every transmit). The route tables are at
//! capacity throughout (warmed up first), so every insertion evicts: the steady state.
//!
//! Run: `cargo bench --bench core` (or `scripts/bench-core.sh`). `--json` for a script.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use servent::core::{Config, PeerId, PeerInfo, Servent};
use servent::proto::payload::{Extension, Query};
use servent::proto::{check, parse, Check, Descriptor, Guid, Payload};

/// Queries per timed batch (decoded before the batch's clock starts).
const BATCH: usize = 10_000;
/// CPU time each case runs per run.
const MIN_CPU: Duration = Duration::from_millis(1500);
const NEIGHBOURS: u32 = 8;
const RUNS: usize = 3;
/// Entries a route table holds: the core's default (`ROUTE_TABLE_CAPACITY`), and where
/// the baseline's map is cleared.
const CAPACITY: usize = 100_000;

/// CPU time this thread has used.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "thread CPU clock");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn typical_query_bytes() -> Vec<u8> {
    let mut q = Query::new("linux distribution iso");
    q.extensions.push(Extension::Urn(
        "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB".into(),
    ));
    Descriptor::new(Guid::new_v4(), 5, 2, Payload::Query(q))
        .to_bytes()
        .expect("encodes")
}

/// The frame of query number `i`: the template with `i` in its GUID's first 8 bytes.
fn frame(template: &mut [u8], i: u64) -> &[u8] {
    template[..8].copy_from_slice(&i.to_le_bytes());
    let Ok(Check::Complete(n)) = check(template) else {
        panic!("frame")
    };
    &template[..n]
}

/// Runs `batch` (given the first item's number and what `prepare` made of it, untimed,
/// returning items done) until `MIN_CPU` of timed CPU has passed. Items per CPU-second.
fn measure<T>(
    next: &mut u64,
    mut prepare: impl FnMut(u64) -> T,
    mut batch: impl FnMut(u64, T) -> u64,
) -> f64 {
    let (mut cpu, mut done) = (Duration::ZERO, 0u64);
    while cpu < MIN_CPU {
        let input = prepare(*next);
        let start = thread_cpu();
        done += batch(*next, input);
        cpu += thread_cpu() - start;
        *next += BATCH as u64;
    }
    done as f64 / cpu.as_secs_f64()
}

fn servent() -> Servent {
    let mut s = Servent::new(Config {
        route_table_capacity: CAPACITY,
        ..Config::default()
    });
    for p in 0..NEIGHBOURS {
        s.handle_connected(Duration::ZERO, PeerId(p), PeerInfo::default());
    }
    s
}

/// Feeds query `i` to the servent from neighbour `i % 8` at `i` microseconds.
fn feed(s: &mut Servent, i: u64, d: Descriptor) {
    let from = PeerId((i % NEIGHBOURS as u64) as u32);
    s.handle_descriptor(Duration::from_micros(i), from, d);
}

fn median(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(f64::total_cmp);
    [v[0], v[v.len() / 2], v[v.len() - 1]]
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let mut template = typical_query_bytes();
    let len = template.len();
    let mut core = servent();
    let mut whole = servent();
    let mut next = 0u64;
    // Warm-up: both servents' tables at capacity.
    for i in 0..2 * CAPACITY as u64 {
        let d = parse(frame(&mut template, i)).expect("parses");
        feed(&mut core, i, d.clone());
        feed(&mut whole, i, d);
        while core.poll_transmit().is_some() {}
        while whole.poll_transmit().is_some() {}
    }
    next += 2 * CAPACITY as u64;

    let mut results: [Vec<f64>; 4] = Default::default();
    let mut out = Vec::with_capacity(1 << 16);
    let mut map: HashMap<Guid, u64, ahash::RandomState> = HashMap::default();
    for _ in 0..RUNS {
        let baseline = measure(
            &mut next,
            |_| {},
            |first, ()| {
                for i in first..first + BATCH as u64 {
                    if map.len() >= CAPACITY {
                        map.clear();
                    }
                    let mut g = [7u8; 16];
                    g[..8].copy_from_slice(&i.to_le_bytes());
                    map.insert(Guid(g), i);
                }
                black_box(&map);
                BATCH as u64
            },
        );
        let (mut sent, mut fed) = (0u64, 0u64);
        let queries = measure(
            &mut next,
            |first| {
                (first..first + BATCH as u64)
                    .map(|i| parse(frame(&mut template, i)).expect("parses"))
                    .collect::<Vec<Descriptor>>()
            },
            |first, decoded| {
                for (i, d) in (first..).zip(decoded) {
                    feed(&mut core, i, d);
                    fed += 1;
                    while let Some(t) = core.poll_transmit() {
                        black_box(&t);
                        sent += 1;
                    }
                }
                BATCH as u64
            },
        );
        assert_eq!(
            sent,
            fed * u64::from(NEIGHBOURS - 1),
            "every Query forwarded to every other neighbour"
        );
        let path = measure(
            &mut next,
            |_| {},
            |first, ()| {
                for i in first..first + BATCH as u64 {
                    let d = parse(frame(&mut template, i)).expect("parses");
                    feed(&mut whole, i, d);
                    out.clear();
                    while let Some(t) = whole.poll_transmit() {
                        t.descriptor.encode(&mut out).expect("encodes");
                    }
                    black_box(&out);
                }
                BATCH as u64
            },
        );
        results[0].push(baseline);
        results[1].push(queries);
        results[2].push(queries * (sent as f64 / fed as f64));
        results[3].push(path);
    }
    let [base, core_in, core_out, path] = results.map(median);
    let ratio = |v: [f64; 3]| [v[0] / base[1], v[1] / base[1], v[2] / base[1]];
    if json {
        let arr = |v: [f64; 3]| format!("[{:.0},{:.0},{:.0}]", v[0], v[1], v[2]);
        println!(
            "{{\"query_bytes\":{len},\"neighbours\":{NEIGHBOURS},\"runs\":{RUNS},\"hashmap_inserts_per_cpu_s\":{},\"core_queries_per_cpu_s\":{},\"core_forwarded_per_cpu_s\":{},\"decode_route_encode_per_cpu_s\":{},\"core_vs_hashmap_median\":{:.3}}}",
            arr(base),
            arr(core_in),
            arr(core_out),
            arr(path),
            core_in[1] / base[1]
        );
        return;
    }
    println!(
        "core throughput, typical Query of {len} bytes, unique GUIDs, {NEIGHBOURS} neighbours \
         (each Query forwarded to {}), route tables at capacity ({CAPACITY}); \
         per CPU-second, min/median/max of {RUNS} interleaved runs",
        NEIGHBOURS - 1
    );
    println!(
        "{:<44} {:>32} {:>20}",
        "case", "per CPU-s (min/med/max)", "vs baseline median"
    );
    for (name, v) in [
        ("keyed HashMap insert of a GUID (baseline)", base),
        ("core: Queries in (handle + poll_transmit)", core_in),
        ("core: descriptors forwarded out", core_out),
        ("decode + route + encode x7: Queries in", path),
    ] {
        let r = ratio(v);
        println!(
            "{name:<44} {:>10.0}/{:>10.0}/{:>10.0} {:>6.2}/{:>5.2}/{:>5.2}x",
            v[0], v[1], v[2], r[0], r[1], r[2]
        );
    }
}
