//! The simulator's limit: a plain breadth-first search over the CSR adjacency of the same
//! overlay `servent compare` runs on (the same topology text and seed build the same
//! graph), from random sources, each to the whole component. Reports link ends scanned
//! per CPU-second of this thread: what one relay decision per delivered descriptor would
//! cost if a servent were free. `scripts/bench-sim.sh` prints it beside the simulator's
//! events per CPU-second.
//!
//! Run: `cargo bench --bench bfs -- [--topology plrg:n=100000] [--seed 1] [--json]`.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use servent::topology::{Graph, TopologySpec};

/// Searches run until this much CPU time has passed (and at least `MIN_SOURCES`).
const MIN_CPU: Duration = Duration::from_secs(2);
const MIN_SOURCES: usize = 10;

/// This thread's CPU time so far.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// One BFS from `src` over CSR arrays; `mark[v] == stamp` means visited. Returns the
/// link ends scanned (the sum of the visited nodes' degrees).
fn bfs(
    offsets: &[u32],
    targets: &[u32],
    src: u32,
    mark: &mut [u32],
    stamp: u32,
    queue: &mut Vec<u32>,
) -> u64 {
    queue.clear();
    queue.push(src);
    mark[src as usize] = stamp;
    let mut head = 0;
    let mut scanned = 0u64;
    while let Some(&v) = queue.get(head) {
        head += 1;
        let (a, b) = (
            offsets[v as usize] as usize,
            offsets[v as usize + 1] as usize,
        );
        scanned += (b - a) as u64;
        for &w in &targets[a..b] {
            if mark[w as usize] != stamp {
                mark[w as usize] = stamp;
                queue.push(w);
            }
        }
    }
    scanned
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let topology = arg("--topology").unwrap_or_else(|| "plrg:n=100000".into());
    let seed: u64 = arg("--seed").map_or(1, |s| s.parse().expect("--seed is a number"));
    let spec: TopologySpec = topology.parse().expect("a topology compare accepts");
    // As `servent compare` builds it: the topology drawn from the seed itself.
    let graph: Graph = spec
        .build(&mut ChaCha8Rng::seed_from_u64(seed))
        .expect("topology builds");
    let (offsets, targets) = graph.csr();
    let n = graph.node_count();
    let mut mark = vec![0u32; n];
    let mut queue = Vec::with_capacity(n);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xBF5);
    let (mut sources, mut scanned, mut reached) = (0usize, 0u64, 0u64);
    let start = thread_cpu();
    while sources < MIN_SOURCES || thread_cpu() - start < MIN_CPU {
        let src = rng.gen_range(0..n as u32);
        sources += 1;
        scanned += bfs(offsets, targets, src, &mut mark, sources as u32, &mut queue);
        reached += queue.len() as u64;
    }
    let cpu = (thread_cpu() - start).as_secs_f64();
    let per_s = scanned as f64 / cpu;
    if json {
        println!(
            "{{\"topology\":\"{spec}\",\"servents\":{n},\"links\":{},\"sources\":{sources},\"edges_scanned\":{scanned},\"reached_per_source\":{:.1},\"cpu_seconds\":{cpu:.3},\"edges_per_cpu_second\":{per_s:.0}}}",
            graph.edge_count(),
            reached as f64 / sources as f64
        );
    } else {
        println!(
            "CSR BFS over {spec} ({n} servents, {} links): {sources} searches, {:.0} servents reached each",
            graph.edge_count(),
            reached as f64 / sources as f64
        );
        println!("{scanned} link ends scanned in {cpu:.2} CPU-s: {per_s:.0} per CPU-second");
    }
}
