//! The cases that drive their own sockets: deadlines, floods, many connections. Each
//! returns a note for the table or what went wrong.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use servent::proto::payload::{Ping, Query};
use servent::proto::{Descriptor, Guid, Payload};

use super::{
    connect, counter, desc, find, open_link, query, read_head, read_to_close, rss_kb, status,
    wait_status, write_lossy, Ctx, RSS_BOUND_KB, SAMPLE_NAME, SAMPLE_WORD, WITHIN,
};
use crate::http::{connect_from, reset};

/// The servent's handshake and head deadlines are 10 s; a close must come by this.
const DEADLINE_BOUND: Duration = Duration::from_secs(12);
/// The honest GET during the lock-out case must be answered within this (the issue's).
const LOCKOUT_BOUND: Duration = Duration::from_secs(1);

fn sum(v: &serde_json::Value) -> u64 {
    v.as_object()
        .map(|m| m.values().filter_map(|x| x.as_u64()).sum())
        .unwrap_or(0)
}

pub fn connect_then_silence(ctx: &Ctx) -> Result<String, String> {
    let mut s = connect(ctx.addr);
    let t = Instant::now();
    s.write_all(b"GNUTELLA CONNECT/0.6\r\nUser-Agent: silent/1\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let head = read_head(&mut s, &mut buf, WITHIN).ok_or("no answer to the CONNECT")?;
    if !head.starts_with("GNUTELLA/0.6 200") {
        return Err(format!("answered {:?}", head.lines().next()));
    }
    let (_, closed) = read_to_close(&mut s, DEADLINE_BOUND);
    if !closed {
        return Err(format!("still open after {DEADLINE_BOUND:?}"));
    }
    Ok(format!("closed after {} ms", t.elapsed().as_millis()))
}

pub fn silent_connection(ctx: &Ctx) -> Result<String, String> {
    let before = counter(&status(ctx), &["connections", "unclassified", "timeout"]);
    let mut s = connect(ctx.addr);
    let t = Instant::now();
    let (got, closed) = read_to_close(&mut s, DEADLINE_BOUND);
    if !closed || !got.is_empty() {
        return Err(format!("closed {closed}, answered {} bytes", got.len()));
    }
    let ms = t.elapsed().as_millis();
    let counted = wait_status(ctx, WITHIN, |v| {
        counter(v, &["connections", "unclassified", "timeout"]) > before
    });
    if !counted {
        return Err("closed but not counted as unclassified.timeout".into());
    }
    Ok(format!("closed after {ms} ms, counted"))
}

/// A CONNECT answered with 200, then our third step as `fin` (and EOF when `eof`).
fn third_step(ctx: &Ctx, fin: &[u8], eof: bool) -> Result<String, String> {
    let before = status(ctx);
    let mut s = connect(ctx.addr);
    s.write_all(b"GNUTELLA CONNECT/0.6\r\nUser-Agent: third/1\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let head = read_head(&mut s, &mut buf, WITHIN).ok_or("no answer to the CONNECT")?;
    if !head.starts_with("GNUTELLA/0.6 200") {
        return Err(format!("answered {:?}", head.lines().next()));
    }
    write_lossy(&mut s, fin);
    if eof {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let (_, closed) = read_to_close(&mut s, WITHIN);
    if !closed {
        return Err("link not closed".into());
    }
    let failures = |v: &serde_json::Value| sum(&v["links"]["handshake_failures"]);
    let b = failures(&before);
    if !wait_status(ctx, WITHIN, |v| failures(v) > b) {
        return Err("closed but no handshake failure counted".into());
    }
    let opened = counter(&status(ctx), &["links", "opened"]);
    if opened != counter(&before, &["links", "opened"]) {
        return Err("a link was opened".into());
    }
    Ok(format!(
        "closed, counted: {}",
        status(ctx)["links"]["handshake_failures"]
    ))
}

pub fn non_200_third_step(ctx: &Ctx) -> Result<String, String> {
    third_step(ctx, b"GNUTELLA/0.6 503 Busy\r\n\r\n", false)
}

pub fn third_step_cut(ctx: &Ctx) -> Result<String, String> {
    third_step(ctx, b"GNUTELLA/0.6 200 O", true)
}

pub fn own_listen_ip(ctx: &Ctx) -> Result<String, String> {
    let before = status(ctx)["host_cache"].as_u64().unwrap_or(0);
    let headers = format!("Listen-IP: {}\r\nGUID: {}\r\n", ctx.addr, Guid::new_v4());
    let note = match open_link(ctx, &headers, false) {
        Ok(_) => return Err("accepted a peer claiming our own Listen-IP".into()),
        Err(e) if e.contains("409") => format!("refused ({e})"),
        Err(e) => return Err(format!("not refused with 409: {e}")),
    };
    let after = status(ctx)["host_cache"].as_u64().unwrap_or(0);
    if after > before {
        return Err(format!(
            "{note}; host cache grew {before} -> {after}: our own address"
        ));
    }
    Ok(format!("{note}; host cache stayed {after}"))
}

pub fn ping_flood(ctx: &Ctx) -> Result<String, String> {
    const FLOOD: usize = 10_000;
    let path = ["descriptors", "dropped", "rate-limited"];
    let before = counter(&status(ctx), &path);
    let mut link = open_link(ctx, "", false)?;
    let t = Instant::now();
    let mut bytes = Vec::with_capacity(FLOOD * 23);
    for _ in 0..FLOOD {
        let p = Descriptor::new(Guid::new_v4(), 1, 0, Payload::Ping(Ping::default()));
        bytes.extend(p.to_bytes().unwrap());
    }
    // The probe after the flood: its QueryHit means every Ping before it was handled.
    let q = Descriptor::new(
        Guid::new_v4(),
        1,
        0,
        Payload::Query(Query::new(SAMPLE_WORD)),
    );
    bytes.extend(q.to_bytes().unwrap());
    link.s
        .write_all(&bytes)
        .map_err(|e| format!("flood: {e}"))?;
    let mut pongs = 0u64;
    loop {
        let d = link.recv(WITHIN)?;
        match &*d.payload {
            Payload::Pong(_) => pongs += 1,
            Payload::QueryHit(_) if d.guid == q.guid => break,
            _ => {}
        }
    }
    let secs = t.elapsed().as_secs() + 1;
    let dropped = counter(&status(ctx), &path) - before;
    // The burst (64) and 4 per second after it.
    let allowed = 64 + 4 * secs;
    if pongs > allowed || dropped + pongs < FLOOD as u64 {
        return Err(format!(
            "{pongs} Pongs (at most {allowed}), {dropped} rate-limited"
        ));
    }
    Ok(format!("{pongs} Pongs, {dropped} rate-limited, link kept"))
}

pub fn zlib_cut(ctx: &Ctx) -> Result<String, String> {
    let before = sum(&status(ctx)["links"]["closed"]);
    let mut link = open_link(ctx, "", true)?;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let plain = desc(0x80, 1, &query(&vec![b'q'; 2000], b""));
    z.write_all(&plain).unwrap();
    z.flush().unwrap();
    let bytes = z.get_ref();
    write_lossy(&mut link.s, &bytes[..bytes.len() / 2]);
    let _ = link.s.shutdown(std::net::Shutdown::Write);
    let (_, closed) = read_to_close(&mut link.s, WITHIN);
    if !closed {
        return Err("not closed".into());
    }
    if !wait_status(ctx, WITHIN, |v| sum(&v["links"]["closed"]) > before) {
        return Err("closed but not counted".into());
    }
    Ok(format!("closed: {}", status(ctx)["links"]["closed"]))
}

/// 100 MB of zeros inflate to 4.5 million 23-byte TTL-0 Pings: each must be dropped as
/// it comes (ttl-expired), the link kept; holding the stream would show in RSS. The probe
/// Query after them, in the same stream, is answered once they are all handled.
pub fn zero_bomb(ctx: &Ctx) -> Result<String, String> {
    let before = status(ctx);
    let mut link = open_link(ctx, "", true)?;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Whole 23-byte headers, so the probe after them starts a descriptor.
    const PINGS_PER_MB: usize = (1 << 20) / 23;
    const PINGS: u64 = 100 * PINGS_PER_MB as u64;
    let zeros = vec![0u8; PINGS_PER_MB * 23];
    for _ in 0..100 {
        z.write_all(&zeros).unwrap();
    }
    let q = Descriptor::new(
        Guid::new_v4(),
        1,
        0,
        Payload::Query(Query::new(SAMPLE_WORD)),
    );
    z.write_all(&q.to_bytes().unwrap()).unwrap();
    z.flush().unwrap();
    let compressed = std::mem::take(z.get_mut());
    let t = Instant::now();
    let writer = {
        let mut s = link.s.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = s.write_all(&compressed);
        })
    };
    let mut peak = 0;
    let outcome = loop {
        peak = peak.max(rss_kb(ctx.pid));
        match link.recv(Duration::from_millis(200)) {
            Ok(d) if d.guid == q.guid => break "answered the probe after the bomb".to_owned(),
            Ok(_) => {}
            Err(e) if e.contains("in time") && t.elapsed() < Duration::from_secs(30) => {}
            Err(e) => break format!("link ended: {e}"),
        }
    };
    let _ = writer.join();
    let ms = t.elapsed().as_millis();
    let after = status(ctx);
    let changed = |path: &[&str]| {
        let (b, a) = (&before[path[0]][path[1]], &after[path[0]][path[1]]);
        a.as_object()
            .map(|m| {
                m.iter()
                    .filter(|(k, v)| v.as_u64() != b[k.as_str()].as_u64())
                    .map(|(k, v)| {
                        format!(
                            "{k}+{}",
                            v.as_u64().unwrap_or(0) - b[k.as_str()].as_u64().unwrap_or(0)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    };
    let outcome = format!(
        "{outcome} (closed: {}; dropped: {})",
        changed(&["links", "closed"]),
        changed(&["descriptors", "dropped"])
    );
    if peak > RSS_BOUND_KB {
        return Err(format!("{outcome}; RSS peaked at {peak} kB"));
    }
    let expired = counter(&after, &["descriptors", "dropped", "ttl-expired"])
        - counter(&before, &["descriptors", "dropped", "ttl-expired"]);
    if !outcome.starts_with("answered") || expired < PINGS {
        return Err(format!(
            "{outcome} within {ms} ms, {expired} of {PINGS} dropped"
        ));
    }
    Ok(format!("{outcome} in {ms} ms, RSS peak {peak} kB"))
}

pub fn slow_head(ctx: &Ctx) -> Result<String, String> {
    let mut s = connect(ctx.addr);
    let head = b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let t = Instant::now();
    let mut got = Vec::new();
    // One byte, then a read that waits up to a second for the servent's answer or close:
    // the wait paces the bytes.
    for &b in head.iter() {
        if s.write_all(&[b]).is_err() {
            break;
        }
        let (bytes, closed) = read_to_close(&mut s, Duration::from_secs(1));
        got.extend(bytes);
        if closed || t.elapsed() > DEADLINE_BOUND {
            break;
        }
    }
    let (bytes, closed) = read_to_close(&mut s, DEADLINE_BOUND.saturating_sub(t.elapsed()));
    got.extend(bytes);
    let ms = t.elapsed().as_millis();
    let answer = String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    if !closed || t.elapsed() > DEADLINE_BOUND {
        return Err(format!("still open after {ms} ms"));
    }
    if answer.contains(" 200") {
        return Err(format!("answered {answer:?}"));
    }
    Ok(format!("cut after {ms} ms ({answer:?})"))
}

/// A keep-alive request answered in full, leaving the connection idle.
fn idle_request(s: &mut TcpStream) -> Result<u16, String> {
    s.set_read_timeout(Some(WITHIN)).unwrap();
    s.write_all(b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let head = read_head(s, &mut buf, WITHIN).ok_or("no answer")?;
    let code: u16 = head
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or("status line")?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < len {
        let mut chunk = [0u8; 1024];
        match s.read(&mut chunk) {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => break,
        }
    }
    Ok(code)
}

/// An honest `GET /status` from 127.0.0.1, timed.
fn timed_status(ctx: &Ctx) -> Result<Duration, String> {
    let t = Instant::now();
    let (code, _, _) = super::http_get(ctx.addr, "/status", "")?;
    let took = t.elapsed();
    if code != 200 || took > LOCKOUT_BOUND {
        return Err(format!("honest GET: {code} after {} ms", took.as_millis()));
    }
    Ok(took)
}

pub fn idle_keep_alive_lockout(ctx: &Ctx) -> Result<String, String> {
    // 300 clients from 38 addresses (8 each, the per-address cap), each idle after one
    // request: more than the 256 slots.
    let mut held = Vec::new();
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..300u32 {
        let from = Ipv4Addr::new(127, 0, 1, 10 + (i / 8) as u8);
        let mut s = connect_from(from, ctx.addr).map_err(|e| format!("connect {i}: {e}"))?;
        *codes.entry(idle_request(&mut s)?).or_default() += 1;
        held.push(s);
    }
    let took = timed_status(ctx)?;
    let took_again = timed_status(ctx)?;
    drop(held);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "hostile: lock-out case: an honest GET /status with 300 idle keep-alive connections \
         open got 200 in {:.2} ms (again: {:.2} ms)",
        ms(took),
        ms(took_again)
    );
    Ok(format!(
        "300 idle ({codes:?}); honest 200 in {:.2} ms",
        ms(took)
    ))
}

pub fn one_address_flood(ctx: &Ctx) -> Result<String, String> {
    let from = Ipv4Addr::new(127, 0, 2, 2);
    let mut held = Vec::new();
    let mut codes = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..300 {
        let mut s = connect_from(from, ctx.addr).map_err(|e| format!("connect {i}: {e}"))?;
        let code = idle_request(&mut s).unwrap_or(0);
        *codes.entry(code).or_default() += 1;
        held.push(s);
    }
    let took = timed_status(ctx)?;
    drop(held);
    let served = codes.get(&404).copied().unwrap_or(0);
    if served > 8 {
        return Err(format!("one address got {served} slots: {codes:?}"));
    }
    Ok(format!(
        "{codes:?}; honest 200 in {:.2} ms",
        took.as_secs_f64() * 1e3
    ))
}

pub fn reset_after_connect(ctx: &Ctx) -> Result<String, String> {
    const RESETS: u64 = 50;
    let path = ["connections", "unclassified", "closed"];
    let before = counter(&status(ctx), &path);
    for _ in 0..RESETS {
        reset(TcpStream::connect(ctx.addr).map_err(|e| e.to_string())?);
    }
    if !wait_status(ctx, WITHIN, |v| counter(v, &path) >= before + RESETS) {
        let now = counter(&status(ctx), &path);
        return Err(format!("{} of {RESETS} resets counted", now - before));
    }
    Ok(format!("{RESETS} resets, each counted once"))
}

pub fn pipelined(ctx: &Ctx) -> Result<String, String> {
    const N: usize = 100;
    let mut s = connect(ctx.addr);
    let mut reqs = Vec::new();
    for i in 0..N {
        let close = if i == N - 1 {
            "Connection: close\r\n"
        } else {
            ""
        };
        reqs.extend(
            format!(
                "GET /get/{}/{SAMPLE_NAME} HTTP/1.1\r\nHost: x\r\nRange: bytes={i}-{i}\r\n{close}\r\n",
                ctx.sample_index
            )
            .into_bytes(),
        );
    }
    s.write_all(&reqs).map_err(|e| e.to_string())?;
    let (got, closed) = read_to_close(&mut s, WITHIN);
    if !closed {
        return Err("not closed after the last request".into());
    }
    let mut answers = 0;
    let mut at = 0;
    while let Some(i) = find(&got[at..], b"HTTP/1.1 206") {
        answers += 1;
        at += i + 1;
    }
    if answers != N {
        return Err(format!("{answers} of {N} answered 206"));
    }
    Ok(format!("{N} answered 206"))
}
