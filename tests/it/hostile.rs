//! The hostile-input suite (issue 10): one table of inputs no honest peer sends, across
//! the handshake, descriptors, GGEP, deflate and HTTP, each with what the servent must do.
//! The servent is the real binary run as users run it (`servent serve`, default options);
//! after every case an honest client must still handshake, get a Pong and a QueryHit and
//! a correct ranged GET, and the servent's RSS must stay under [`RSS_BOUND_KB`].

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use servent::proto::limits::{MAX_HANDSHAKE_LEN, MAX_PAYLOAD_LEN, MAX_QUERY_LEN};
use servent::proto::payload::{Ping, Query};
use servent::proto::{check, parse, Check, Descriptor, Guid, Payload};

mod cases;
mod scripts;

use cases::CASES;

/// The servent's resident set must stay under this through the whole suite (kB): the
/// bomb cases send 100 MB that inflate; holding any of it would show here.
const RSS_BOUND_KB: u64 = 200 * 1024;
/// How long a case may take to get its answer or its close (beyond deadline cases).
const WITHIN: Duration = Duration::from_secs(5);
/// The file the honest client searches for and fetches a range of.
const SAMPLE_NAME: &str = "hostile-sample.bin";
const SAMPLE_LEN: usize = 100_000;
/// The word of [`SAMPLE_NAME`] the honest Query carries.
const SAMPLE_WORD: &str = "sample";

/// The five families of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Handshake,
    Descriptors,
    Ggep,
    Deflate,
    Http,
}

/// What a case sends.
pub enum Input {
    /// These bytes as the first (and only) thing on a fresh connection.
    Raw(fn(&Ctx) -> Vec<u8>),
    /// These bytes, then our write side closed (the servent reads EOF after them).
    RawThenEof(fn(&Ctx) -> Vec<u8>),
    /// These bytes on a link after an honest 0.6 handshake without compression.
    Link(fn() -> Vec<u8>),
    /// These bytes after the handshake, then our write side closed.
    LinkThenEof(fn() -> Vec<u8>),
    /// These bytes as our whole side of a link after a deflate handshake (they are the
    /// compressed stream, written as they are).
    Deflated(fn() -> Vec<u8>),
    /// These plain bytes, compressed by an honest zlib stream on a deflate link.
    Compressed(fn() -> Vec<u8>),
    /// A script driving its own sockets; it checks the outcome itself.
    Script(fn(&Ctx) -> Result<String, String>),
}

/// What the servent must do with it.
pub enum Must {
    /// Close the connection within [`WITHIN`] without sending one byte.
    Silent,
    /// Close the connection within [`WITHIN`] without accepting it (no `200`).
    Refuse,
    /// Answer a block whose first line starts with this (the connection may stay open).
    Answer(&'static str),
    /// Answer as [`Must::Answer`] with this header (name, value prefix) in the block.
    AnswerWith(&'static str, &'static str, &'static str),
    /// Drop the descriptor, counted under `descriptors.dropped.<reason>`, and keep the
    /// link: a Query sent after it on the same link still gets its QueryHit.
    Drop(&'static str),
    /// Keep the link (the probe Query is answered) and count no drop as malformed.
    Keep,
    /// Answer the Query sent with a QueryHit (what it does not understand is kept as
    /// bytes, not a reason to drop it), and keep the link.
    Hit,
    /// Close the link, counted under `links.closed.<reason>`.
    Cut(&'static str),
    /// What the script checked.
    Script,
}

/// One hostile input.
pub struct Case {
    pub family: Family,
    pub name: &'static str,
    pub input: Input,
    pub must: Must,
    /// Runs beside the other cases (it waits for a deadline of several seconds).
    pub slow: bool,
    /// A defect this case shows that is not fixed here: the case must still fail.
    pub known_defect: Option<&'static str>,
}

/// The servent under test.
pub struct Ctx {
    pub addr: SocketAddr,
    pub pid: u32,
    pub sample: Vec<u8>,
    /// The sample's index, as the servent's QueryHit gives it.
    pub sample_index: u32,
    pub servent_id: String,
}

/// A child process killed when the suite ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path) -> (Running, Ctx) {
    use std::io::BufRead;
    let share = dir.join("share");
    std::fs::create_dir_all(&share).unwrap();
    // Bytes that differ at every offset, so a wrong range cannot compare equal.
    let sample: Vec<u8> = (0..SAMPLE_LEN as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(share.join(SAMPLE_NAME), &sample).unwrap();
    std::fs::write(share.join("The Beatles - Help.mp3"), vec![7u8; 40_000]).unwrap();
    std::fs::write(share.join("linux-6.1-amd64.iso"), vec![9u8; 30_000]).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_servent"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .arg("--share")
        .arg(&share)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split(" listening on ").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                let _ = tx.send(addr);
            }
        }
    });
    let addr: SocketAddr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("servent serve printed its address")
        .parse()
        .unwrap();
    let mut ctx = Ctx {
        addr,
        pid,
        sample,
        sample_index: 0,
        servent_id: String::new(),
    };
    ctx.servent_id = status(&ctx)["servent_id"].as_str().unwrap().to_owned();
    ctx.sample_index = open_link(&ctx, "", false)
        .and_then(|mut l| l.probe_query(WITHIN))
        .expect("the sample is found");
    (running, ctx)
}

// ---------------------------------------------------------------------------------------
// Sockets.

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WITHIN)).unwrap();
    s.set_write_timeout(Some(WITHIN)).unwrap();
    s
}

/// Writes what it can: the servent may close (or reset) in the middle of a hostile write.
pub fn write_lossy(s: &mut TcpStream, bytes: &[u8]) {
    let _ = s.write_all(bytes);
}

/// Reads until EOF (or a reset) within `within`; the bytes and whether it was closed.
pub fn read_to_close(s: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (got, false);
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut chunk) {
            Ok(0) => return (got, true),
            Ok(n) => {
                if got.len() < (1 << 20) {
                    got.extend_from_slice(&chunk[..n]);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (got, false)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (got, true),
        }
    }
}

/// Reads one head (up to a blank line, CRLF or bare LF) within `within`: its text, or
/// None when the connection closed or went quiet first.
pub fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    let mut chunk = [0u8; 4096];
    loop {
        let end = find(buf, b"\r\n\r\n")
            .map(|i| i + 4)
            .or_else(|| find(buf, b"\n\n").map(|i| i + 2));
        if let Some(end) = end {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end);
            return Some(head);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || buf.len() > 64 * 1024 {
            return None;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut chunk) {
            Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `GET path` with `Connection: close`: status code, head and body.
pub fn http_get(
    addr: SocketAddr,
    path: &str,
    extra: &str,
) -> Result<(u16, String, Vec<u8>), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(WITHIN)).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let (got, closed) = read_to_close(&mut s, WITHIN);
    if !closed {
        return Err(format!("GET {path}: not closed within {WITHIN:?}"));
    }
    let end = find(&got, b"\r\n\r\n").ok_or_else(|| format!("GET {path}: no head in {got:?}"))?;
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    let code = head
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("GET {path}: status line {head:?}"))?;
    Ok((code, head, got[end + 4..].to_vec()))
}

pub fn status(ctx: &Ctx) -> Value {
    let (code, _, body) = http_get(ctx.addr, "/status", "").expect("/status");
    assert_eq!(code, 200, "/status from loopback");
    serde_json::from_slice(&body).expect("/status is JSON")
}

pub fn counter(v: &Value, path: &[&str]) -> u64 {
    path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or(0)
}

/// Polls `/status` until `pred` holds, within `within` (a wait for an event, bounded).
pub fn wait_status(ctx: &Ctx, within: Duration, pred: impl Fn(&Value) -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if pred(&status(ctx)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// A Gnutella link as a raw peer.

pub struct Link {
    pub s: TcpStream,
    buf: Vec<u8>,
    inflate: Option<flate2::Decompress>,
    deflate: Option<flate2::write::ZlibEncoder<Vec<u8>>>,
}

/// The answer to our CONNECT: the status line and the head.
pub fn open_link(ctx: &Ctx, headers: &str, deflate: bool) -> Result<Link, String> {
    let mut s = connect(ctx.addr);
    let enc = if deflate {
        "Accept-Encoding: deflate\r\n"
    } else {
        ""
    };
    let connect = format!(
        "GNUTELLA CONNECT/0.6\r\nUser-Agent: hostile-test/1\r\nX-Ultrapeer: True\r\n{enc}{headers}\r\n"
    );
    s.write_all(connect.as_bytes()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let head = read_head(&mut s, &mut buf, WITHIN).ok_or("no handshake answer")?;
    if !head.starts_with("GNUTELLA/0.6 200") {
        return Err(format!("handshake answered {:?}", head.lines().next()));
    }
    if deflate && !head.contains("Content-Encoding: deflate") {
        return Err("no Content-Encoding: deflate in the answer".into());
    }
    let fin = if deflate {
        "GNUTELLA/0.6 200 OK\r\nContent-Encoding: deflate\r\n\r\n"
    } else {
        "GNUTELLA/0.6 200 OK\r\n\r\n"
    };
    s.write_all(fin.as_bytes()).map_err(|e| e.to_string())?;
    let mut link = Link {
        s,
        buf: Vec::new(),
        inflate: deflate.then(|| flate2::Decompress::new(true)),
        deflate: deflate
            .then(|| flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default())),
    };
    let rest = std::mem::take(&mut buf);
    link.take_in(&rest)?;
    Ok(link)
}

impl Link {
    /// Sends plain descriptor bytes (compressed first on a deflate link).
    pub fn send(&mut self, plain: &[u8]) {
        match &mut self.deflate {
            Some(z) => {
                z.write_all(plain).unwrap();
                z.flush().unwrap();
                let out = std::mem::take(z.get_mut());
                write_lossy(&mut self.s, &out);
            }
            None => write_lossy(&mut self.s, plain),
        }
    }

    fn take_in(&mut self, bytes: &[u8]) -> Result<(), String> {
        match &mut self.inflate {
            None => self.buf.extend_from_slice(bytes),
            Some(z) => {
                let mut input = bytes;
                while !input.is_empty() {
                    let mut out = vec![0u8; 64 * 1024];
                    let (bi, bo) = (z.total_in(), z.total_out());
                    z.decompress(input, &mut out, flate2::FlushDecompress::Sync)
                        .map_err(|e| format!("servent's zlib stream: {e}"))?;
                    let used = (z.total_in() - bi) as usize;
                    self.buf
                        .extend_from_slice(&out[..(z.total_out() - bo) as usize]);
                    input = &input[used..];
                    if used == 0 && z.total_out() == bo {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// The next descriptor within `within`; Err when the link closed or went quiet.
    pub fn recv(&mut self, within: Duration) -> Result<Descriptor, String> {
        let deadline = Instant::now() + within;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match check(&self.buf) {
                Ok(Check::Complete(n)) => {
                    let d = parse(&self.buf[..n]).map_err(|e| format!("servent sent {e}"))?;
                    self.buf.drain(..n);
                    return Ok(d);
                }
                Ok(_) => {}
                Err(e) => return Err(format!("servent's framing: {e}")),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("no descriptor in time".into());
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            match self.s.read(&mut chunk) {
                Ok(0) => return Err("link closed".into()),
                Ok(n) => self.take_in(&chunk[..n])?,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err("no descriptor in time".into())
                }
                Err(e) => return Err(format!("link: {e}")),
            }
        }
    }

    /// Sends a TTL-1 Query for the sample and waits for its QueryHit; the hit's index.
    pub fn probe_query(&mut self, within: Duration) -> Result<u32, String> {
        let q = Descriptor::new(
            Guid::new_v4(),
            1,
            0,
            Payload::Query(Query::new(SAMPLE_WORD)),
        );
        self.send(&q.to_bytes().unwrap());
        let deadline = Instant::now() + within;
        loop {
            let d = self.recv(deadline.saturating_duration_since(Instant::now()))?;
            if d.guid != q.guid {
                continue;
            }
            let Payload::QueryHit(hit) = &*d.payload else {
                return Err(format!("answered {:?} to a Query", d.payload_type()));
            };
            return hit
                .results
                .iter()
                .find(|r| r.name_lossy() == SAMPLE_NAME)
                .map(|r| r.index)
                .ok_or_else(|| format!("QueryHit without {SAMPLE_NAME}"));
        }
    }

    /// Sends a TTL-1 Ping and waits for the Pong that answers it.
    pub fn probe_ping(&mut self, within: Duration) -> Result<(), String> {
        let p = Descriptor::new(Guid::new_v4(), 1, 0, Payload::Ping(Ping::default()));
        self.send(&p.to_bytes().unwrap());
        let deadline = Instant::now() + within;
        loop {
            let d = self.recv(deadline.saturating_duration_since(Instant::now()))?;
            if d.guid == p.guid {
                return match &*d.payload {
                    Payload::Pong(_) => Ok(()),
                    other => Err(format!("answered {:?} to a Ping", other.payload_type())),
                };
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running the table.

/// The honest client, after every case: a 0.6 handshake, a Pong to a TTL-1 Ping, a
/// QueryHit for the sample, and a ranged GET whose bytes match the file.
fn honest(ctx: &Ctx) -> Result<(), String> {
    let mut link = open_link(ctx, "", false).map_err(|e| format!("honest handshake: {e}"))?;
    link.probe_ping(WITHIN)
        .map_err(|e| format!("honest Ping: {e}"))?;
    let index = link
        .probe_query(WITHIN)
        .map_err(|e| format!("honest Query: {e}"))?;
    drop(link);
    let (code, head, body) = http_get(
        ctx.addr,
        &format!("/get/{index}/{SAMPLE_NAME}"),
        "Range: bytes=1000-4999\r\n",
    )
    .map_err(|e| format!("honest GET: {e}"))?;
    if code != 206 || body != ctx.sample[1000..5000] {
        return Err(format!(
            "honest ranged GET: {code}, {} bytes ({})",
            body.len(),
            head.lines().next().unwrap_or("")
        ));
    }
    Ok(())
}

/// Sends what the case sends and checks what it must; a note for the table.
fn run_case(ctx: &Ctx, case: &Case) -> Result<String, String> {
    let before = status(ctx);
    let mut link = None;
    let mut stream = None;
    let mut sent_guid = None;
    match &case.input {
        Input::Script(f) => return f(ctx),
        Input::Raw(f) | Input::RawThenEof(f) => {
            let mut s = connect(ctx.addr);
            write_lossy(&mut s, &f(ctx));
            if matches!(case.input, Input::RawThenEof(_)) {
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
            stream = Some(s);
        }
        Input::Link(f) | Input::LinkThenEof(f) => {
            let mut l = open_link(ctx, "", false)?;
            let bytes = f();
            sent_guid = bytes.get(..16).map(|g| g.to_vec());
            l.send(&bytes);
            if matches!(case.input, Input::LinkThenEof(_)) {
                let _ = l.s.shutdown(std::net::Shutdown::Write);
            }
            link = Some(l);
        }
        Input::Deflated(f) => {
            let mut l = open_link(ctx, "", true)?;
            write_lossy(&mut l.s, &f());
            link = Some(l);
        }
        Input::Compressed(f) => {
            let mut l = open_link(ctx, "", true)?;
            l.send(&f());
            link = Some(l);
        }
    }
    let mut s = match (&mut link, &mut stream) {
        (Some(l), _) => l.s.try_clone().unwrap(),
        (_, Some(s)) => s.try_clone().unwrap(),
        _ => unreachable!(),
    };
    let first_line = |got: &[u8]| {
        String::from_utf8_lossy(got)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    };
    match &case.must {
        Must::Silent | Must::Refuse => {
            let (got, closed) = read_to_close(&mut s, WITHIN);
            if !closed {
                return Err(format!("still open after {WITHIN:?}"));
            }
            if matches!(case.must, Must::Silent) && !got.is_empty() {
                return Err(format!("answered {:?}", first_line(&got)));
            }
            if matches!(case.must, Must::Refuse) && first_line(&got).contains(" 200") {
                return Err(format!("accepted: {:?}", first_line(&got)));
            }
            Ok(format!("closed; answered {:?}", first_line(&got)))
        }
        Must::Answer(prefix) | Must::AnswerWith(prefix, _, _) => {
            let mut buf = Vec::new();
            let head = read_head(&mut s, &mut buf, WITHIN)
                .ok_or_else(|| format!("no answer within {WITHIN:?}"))?;
            let line = head.lines().next().unwrap_or("").to_owned();
            if !line.starts_with(prefix) {
                return Err(format!("answered {line:?}"));
            }
            if let Must::AnswerWith(_, name, value) = &case.must {
                let found = head.lines().any(|l| {
                    l.split_once(':').is_some_and(|(n, v)| {
                        n.eq_ignore_ascii_case(name) && v.trim().starts_with(value)
                    })
                });
                if !found {
                    return Err(format!("{line:?} without {name}: {value}"));
                }
            }
            Ok(line)
        }
        Must::Drop(reason) => {
            let l = link.as_mut().expect("a link case");
            l.probe_query(WITHIN)
                .map_err(|e| format!("link not kept: {e}"))?;
            let path = ["descriptors", "dropped", reason];
            let (b, a) = (counter(&before, &path), counter(&status(ctx), &path));
            if a <= b {
                return Err(format!(
                    "dropped.{reason} stayed {b}: {}",
                    status(ctx)["descriptors"]["dropped"]
                ));
            }
            Ok(format!("dropped ({reason} +{})", a - b))
        }
        Must::Keep => {
            let l = link.as_mut().expect("a link case");
            l.probe_query(WITHIN)
                .map_err(|e| format!("link not kept: {e}"))?;
            let path = ["descriptors", "dropped", "malformed"];
            if counter(&status(ctx), &path) > counter(&before, &path) {
                return Err("counted as malformed".into());
            }
            Ok("kept".into())
        }
        Must::Hit => {
            let l = link.as_mut().expect("a link case");
            let guid = sent_guid.expect("a descriptor was sent");
            let deadline = Instant::now() + WITHIN;
            loop {
                let d = l
                    .recv(deadline.saturating_duration_since(Instant::now()))
                    .map_err(|e| format!("no QueryHit: {e}"))?;
                if d.guid.0[..] == guid[..] && matches!(*d.payload, Payload::QueryHit(_)) {
                    break;
                }
            }
            l.probe_query(WITHIN)
                .map_err(|e| format!("link not kept: {e}"))?;
            Ok("answered, link kept".into())
        }
        Must::Cut(reason) => {
            let (_, closed) = read_to_close(&mut s, WITHIN);
            if !closed {
                return Err(format!("link still open after {WITHIN:?}"));
            }
            let path = ["links", "closed", reason];
            let b = counter(&before, &path);
            if !wait_status(ctx, WITHIN, |v| counter(v, &path) > b) {
                return Err(format!(
                    "closed, but not as {reason}: {}",
                    status(ctx)["links"]["closed"]
                ));
            }
            Ok(format!("cut ({reason})"))
        }
        Must::Script => unreachable!("scripts check themselves"),
    }
}

struct Row {
    family: Family,
    name: &'static str,
    outcome: String,
    ms: u128,
    failed: Option<String>,
}

/// Runs one case, then the honest client, then the RSS check.
fn run_one(ctx: &Ctx, case: &Case, peak: &std::sync::Mutex<u64>) -> Row {
    let t = Instant::now();
    let result = run_case(ctx, case);
    let ms = t.elapsed().as_millis();
    let rss = rss_kb(ctx.pid);
    {
        let mut p = peak.lock().unwrap();
        *p = (*p).max(rss);
    }
    let after = honest(ctx);
    let (outcome, mut failed) = match (&result, case.known_defect) {
        (Ok(note), None) => (note.clone(), None),
        (Err(e), None) => (format!("FAILED: {e}"), Some(e.clone())),
        (Err(e), Some(d)) => (format!("known defect ({d}): {e}"), None),
        (Ok(note), Some(d)) => (
            format!("FIXED? {note}"),
            Some(format!(
                "known defect {d:?} no longer shows: update the table"
            )),
        ),
    };
    if let Err(e) = after {
        failed = Some(format!(
            "{} / then the honest client: {e}",
            failed.unwrap_or_default()
        ));
    }
    if rss > RSS_BOUND_KB {
        failed = Some(format!(
            "{} / RSS {rss} kB over {RSS_BOUND_KB} kB",
            failed.unwrap_or_default()
        ));
    }
    Row {
        family: case.family,
        name: case.name,
        outcome,
        ms,
        failed,
    }
}

#[test]
fn hostile_inputs_leave_the_servent_serving_honest_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let (_servent, ctx) = start(tmp.path());
    honest(&ctx).expect("the honest client before any case");
    let peak = std::sync::Mutex::new(rss_kb(ctx.pid));
    let started = Instant::now();
    let rows = std::thread::scope(|scope| {
        // Deadline cases wait seconds each: they run beside the others.
        let slow: Vec<_> = CASES
            .iter()
            .filter(|c| c.slow)
            .map(|c| {
                let (ctx, peak) = (&ctx, &peak);
                scope.spawn(move || run_one(ctx, c, peak))
            })
            .collect();
        let mut rows: Vec<Row> = CASES
            .iter()
            .filter(|c| !c.slow)
            .map(|c| run_one(&ctx, c, &peak))
            .collect();
        rows.extend(slow.into_iter().map(|h| h.join().unwrap()));
        rows
    });
    let total = started.elapsed();
    println!("\n{:<12} {:<48} {:>6}  outcome", "family", "case", "ms");
    for r in &rows {
        println!(
            "{:<12} {:<48} {:>6}  {}",
            format!("{:?}", r.family),
            r.name,
            r.ms,
            r.outcome
        );
    }
    let families = [
        Family::Handshake,
        Family::Descriptors,
        Family::Ggep,
        Family::Deflate,
        Family::Http,
    ];
    let counts: Vec<(Family, usize)> = families
        .iter()
        .map(|f| (*f, CASES.iter().filter(|c| c.family == *f).count()))
        .collect();
    let peak = *peak.lock().unwrap();
    println!(
        "{} cases {counts:?} in {:.1} s; peak RSS {peak} kB (bound {RSS_BOUND_KB} kB)",
        CASES.len(),
        total.as_secs_f64()
    );
    let mut names: Vec<_> = CASES.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "case names are distinct");
    for (f, n) in &counts {
        assert!(*n >= 8, "{f:?} has {n} cases, at least 8 wanted");
    }
    assert!(CASES.len() >= 64);
    let failed: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            r.failed
                .as_ref()
                .map(|e| format!("{:?}/{}: {e}", r.family, r.name))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// Building hostile bytes.

/// A descriptor header with whatever fields we like (the length may lie).
pub fn header(ptype: u8, ttl: u8, hops: u8, len: u32) -> Vec<u8> {
    let mut h = Guid::new_v4().0.to_vec();
    h.extend([ptype, ttl, hops]);
    h.extend(len.to_le_bytes());
    h
}

/// A whole descriptor: a header announcing `payload`'s true length, then `payload`.
pub fn desc(ptype: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let mut d = header(ptype, ttl, 0, payload.len() as u32);
    d.extend_from_slice(payload);
    d
}

/// A Query payload: minimum speed 0, `text`, NUL, then `ext` (the extension area).
pub fn query(text: &[u8], ext: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 0];
    p.extend_from_slice(text);
    p.push(0);
    p.extend_from_slice(ext);
    p
}

/// A Pong payload (port, IP, files, kB) followed by `tail` (its GGEP block).
pub fn pong(tail: &[u8]) -> Vec<u8> {
    let mut p = 6346u16.to_le_bytes().to_vec();
    p.extend(Ipv4Addr::new(10, 0, 0, 1).octets());
    p.extend(1u32.to_le_bytes());
    p.extend(1u32.to_le_bytes());
    p.extend_from_slice(tail);
    p
}

/// One GGEP extension: flags (the ID length is added), ID, the length as given, data.
pub fn ggep_ext(flags: u8, id: &[u8], len: &[u8], data: &[u8]) -> Vec<u8> {
    let mut e = vec![flags | id.len() as u8];
    e.extend_from_slice(id);
    e.extend_from_slice(len);
    e.extend_from_slice(data);
    e
}

/// The GGEP length encoding of `n` (one to three bytes, 6 bits each).
pub fn ggep_len(n: usize) -> Vec<u8> {
    match n {
        0..=63 => vec![0x40 | n as u8],
        64..=4095 => vec![0x80 | (n >> 6) as u8, 0x40 | (n & 63) as u8],
        _ => vec![
            0x80 | ((n >> 12) & 63) as u8,
            0x80 | ((n >> 6) & 63) as u8,
            0x40 | (n & 63) as u8,
        ],
    }
}

/// The sample Query with `ggep` as its extension area: answered when the block is
/// accepted (or ignored), dropped as malformed when it is refused.
pub fn sample_query_with(ggep: &[u8]) -> Vec<u8> {
    desc(0x80, 1, &query(SAMPLE_WORD.as_bytes(), ggep))
}

pub fn zlib(plain: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(plain).unwrap();
    z.finish().unwrap()
}

/// Sizes the table's cases refer to, kept in one place.
pub const OVER_PAYLOAD: u32 = MAX_PAYLOAD_LEN as u32 + 1;
pub const OVER_QUERY: usize = MAX_QUERY_LEN + 1;
pub const OVER_HANDSHAKE: usize = MAX_HANDSHAKE_LEN + 1;
