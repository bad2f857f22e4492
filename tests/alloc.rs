//! What the core allocates, counted by a global allocator of this test binary's own
//! (tests/it is one binary; a counting allocator there would count every test at once):
//! nothing per forwarded Query in the steady state, and a small footprint per servent.
//!
//! Counts are per thread, so tests running beside each other do not see each other's
//! allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use servent::core::{Config, PeerId, PeerInfo, Servent};
use servent::proto::payload::{Extension, HitResult, Query, QueryHit};
use servent::proto::{parse, Descriptor, Guid, Payload};

/// The system allocator, counting this thread's allocations and live bytes.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<i64> = const { Cell::new(0) };
}

fn note(allocations: u64, bytes: i64) {
    // try_with: a thread being torn down still frees memory.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + allocations));
    let _ = LIVE_BYTES.try_with(|c| c.set(c.get() + bytes));
}

// SAFETY: every call is passed to the system allocator unchanged; the counters are plain
// thread-locals without destructors, which allocate nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(1, layout.size() as i64);
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(0, -(layout.size() as i64));
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(1, new_size as i64 - layout.size() as i64);
        // SAFETY: as for `dealloc`, with the new size the caller asked for.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// (allocations, live bytes) of this thread so far.
fn counters() -> (u64, i64) {
    (ALLOCATIONS.with(Cell::get), LIVE_BYTES.with(Cell::get))
}

/// Allocations made and bytes still held by what `f` did.
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64, i64) {
    let (a, b) = counters();
    let out = f();
    let (a2, b2) = counters();
    (out, a2 - a, b2 - b)
}

fn query_frame(i: u64) -> Vec<u8> {
    let mut q = Query::new("linux distribution iso");
    q.extensions.push(Extension::Urn(
        "urn:sha1:PLSTHIPQGSSZTS5FJUPAKUZWUGYQYPFB".into(),
    ));
    let mut g = [9u8; 16];
    g[..8].copy_from_slice(&i.to_le_bytes());
    Descriptor::new(Guid(g), 5, 2, Payload::Query(q))
        .to_bytes()
        .unwrap()
}

fn servent_with_peers(config: Config, peers: u32) -> Servent {
    let mut s = Servent::new(config);
    for p in 0..peers {
        s.handle_connected(Duration::ZERO, PeerId(p), PeerInfo::default());
    }
    s
}

/// Feeds query `i` from neighbour `i % peers` and drains its transmits: how many.
fn forward(s: &mut Servent, i: u64, peers: u32, d: Descriptor) -> u64 {
    let from = PeerId((i % u64::from(peers)) as u32);
    s.handle_descriptor(Duration::from_micros(i), from, d);
    let mut sent = 0;
    while let Some(t) = s.poll_transmit() {
        assert_ne!(t.peer, from, "never back to its sender");
        sent += 1;
    }
    sent
}

/// With the route table at capacity (every Query evicts the oldest route), forwarding a
/// Query to 7 neighbours allocates nothing: not the route, not the transmits, not the
/// list of next hops. Decoding the received bytes allocates (the shared payload, the wire
/// bytes, the search text and extensions); that is counted apart and stated.
#[test]
fn forwarding_a_query_allocates_nothing_in_the_steady_state() {
    const PEERS: u32 = 8;
    const CAPACITY: usize = 2048;
    const MEASURED: u64 = 2000;
    let mut s = servent_with_peers(
        Config {
            route_table_capacity: CAPACITY,
            ..Config::default()
        },
        PEERS,
    );
    let mut i = 0u64;
    while i < 3 * CAPACITY as u64 {
        let d = parse(&query_frame(i)).unwrap();
        assert_eq!(forward(&mut s, i, PEERS, d), u64::from(PEERS - 1));
        i += 1;
    }
    let frames: Vec<Vec<u8>> = (i..i + MEASURED).map(query_frame).collect();
    let (decoded, decode_allocs, _) =
        counted(|| frames.iter().map(|f| parse(f).unwrap()).collect::<Vec<_>>());
    let (sent, allocs, _) = counted(|| {
        let mut sent = 0;
        for (k, d) in (i..).zip(decoded) {
            sent += forward(&mut s, k, PEERS, d);
        }
        sent
    });
    assert_eq!(
        sent,
        MEASURED * u64::from(PEERS - 1),
        "each Query forwarded"
    );
    eprintln!(
        "decode: {:.1} allocations per Query (incl. the Vec of them); handle_descriptor + \
         poll_transmit: {allocs} allocations for {MEASURED} Queries, {sent} transmits",
        decode_allocs as f64 / MEASURED as f64
    );
    assert_eq!(allocs, 0, "allocations while forwarding {MEASURED} Queries");
}

fn hit_frame(query: u64, servent: u8) -> Vec<u8> {
    let mut g = [9u8; 16];
    g[..8].copy_from_slice(&query.to_le_bytes());
    let hit = QueryHit {
        port: 6346,
        ip: std::net::Ipv4Addr::new(127, 0, 0, 2),
        speed: 1000,
        results: vec![HitResult {
            index: 1,
            size: 4096,
            name: b"linux distribution.iso".to_vec(),
            extensions: Vec::new(),
        }],
        trailer: None,
        servent_id: Guid([servent; 16]),
    };
    Descriptor::new(Guid(g), 6, 1, Payload::QueryHit(hit))
        .to_bytes()
        .unwrap()
}

/// Replies too: a QueryHit routed back along its Query's path (refreshing the push route
/// of its responder, one of a few, so the push route table is full of the holes a key
/// put again leaves) allocates nothing, while Queries keep arriving.
#[test]
fn routing_query_hits_back_allocates_nothing_in_the_steady_state() {
    const PEERS: u32 = 8;
    const CAPACITY: usize = 1024;
    const MEASURED: u64 = 3000;
    const BEHIND: u64 = 100;
    let mut s = servent_with_peers(
        Config {
            route_table_capacity: CAPACITY,
            ..Config::default()
        },
        PEERS,
    );
    // One step: Query `i` arrives (and is relayed), then a hit for Query `i - BEHIND`
    // arrives from the neighbour after that Query's sender and goes back to the sender.
    let step = |s: &mut Servent, i: u64, q: Descriptor, h: Descriptor| -> u64 {
        let mut routed = forward(s, i, PEERS, q);
        let origin = PeerId(((i - BEHIND) % u64::from(PEERS)) as u32);
        let from = PeerId((origin.0 + 1) % PEERS);
        s.handle_descriptor(Duration::from_micros(i), from, h);
        while let Some(t) = s.poll_transmit() {
            assert_eq!(t.peer, origin, "a hit goes back the way its Query came");
            routed += 1;
        }
        routed
    };
    let input = |i: u64| {
        let q = parse(&query_frame(i)).unwrap();
        let h = parse(&hit_frame(i - BEHIND, (i % 5) as u8)).unwrap();
        (q, h)
    };
    let mut i = BEHIND;
    while i < 4 * CAPACITY as u64 {
        let (q, h) = input(i);
        step(&mut s, i, q, h);
        i += 1;
    }
    let inputs: Vec<(Descriptor, Descriptor)> = (i..i + MEASURED).map(input).collect();
    let (routed, allocs, _) = counted(|| {
        let mut routed = 0;
        for (k, (q, h)) in (i..).zip(inputs) {
            routed += step(&mut s, k, q, h);
        }
        routed
    });
    assert_eq!(
        routed,
        MEASURED * u64::from(PEERS),
        "7 Query copies and 1 hit each"
    );
    assert_eq!(
        allocs, 0,
        "allocations while routing {MEASURED} Queries and hits"
    );
}

/// Duplicates (the same Query from every neighbour) cost nothing either.
#[test]
fn dropping_duplicates_allocates_nothing() {
    const PEERS: u32 = 8;
    let mut s = servent_with_peers(Config::default(), PEERS);
    let d = parse(&query_frame(1)).unwrap();
    forward(&mut s, 0, PEERS, d.clone());
    let copies: Vec<Descriptor> = (0..100).map(|_| d.clone()).collect();
    let (sent, allocs, _) = counted(|| {
        let mut sent = 0;
        for (k, d) in (1..).zip(copies) {
            sent += forward(&mut s, k, PEERS, d);
        }
        sent
    });
    assert_eq!(sent, 0, "duplicates are dropped");
    assert_eq!(s.stats().dropped(servent::core::DropReason::Duplicate), 100);
    assert_eq!(allocs, 0);
}

/// What a servent costs: its own size plus the heap it holds, fresh with 4 and 8 links,
/// then after it relayed a few Queries. Small tables (as the simulator configures them)
/// keep a fresh servent with 4 links within 1.5 KB.
#[test]
fn a_servent_that_saw_little_traffic_is_small() {
    let config = Config {
        route_table_capacity: 64,
        ..Config::default()
    };
    let size = std::mem::size_of::<Servent>();
    let (four, _, four_heap) = counted(|| servent_with_peers(config.clone(), 4));
    let (mut s, _, fresh_heap) = counted(|| servent_with_peers(config, 8));
    let ((), _, traffic_heap) = counted(|| {
        for i in 0..4 {
            let d = parse(&query_frame(i)).unwrap();
            forward(&mut s, i, 8, d);
        }
    });
    eprintln!(
        "size_of::<Servent>() = {size} bytes; heap with 4 links: {four_heap} bytes, with 8: \
         {fresh_heap} bytes; after 4 relayed Queries: +{traffic_heap} bytes (estimate: {} \
         bytes held)",
        s.heap_bytes_estimate()
    );
    assert_eq!(
        four.heap_bytes_estimate() as i64,
        four_heap,
        "estimate of a fresh servent"
    );
    let total = size as i64 + four_heap;
    assert!(
        total <= 1536,
        "a fresh servent with 4 links costs {total} bytes"
    );
    let est = s.heap_bytes_estimate() as i64;
    let held = fresh_heap + traffic_heap;
    assert!(
        est <= held && est * 2 >= held,
        "estimate {est} bytes for {held} bytes held"
    );
}
