//! Issue 12's speed, bandwidth and access-log items: large bodies sent on the fast path
//! (sendfile) carry the file's exact bytes, on keep-alive connections that switch between
//! the fast path and hyper and with pipelined requests; an upload limit holds for every
//! upload together (a lower bound on the time, whatever path serves them); a download
//! limit holds for `servent get`; `servent serve` shows its limits in /status and logs one
//! line per request on stderr (none with `--quiet`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use servent::http::rate::RateLimit;
use servent::http::HttpContext;
use servent::library::{Library, LibraryConfig};

use crate::http::{bytes, start};

const WITHIN: Duration = Duration::from_secs(20);

/// Shares `files` on a loopback listener with an upload limit.
fn serve(
    files: &[(&str, &[u8])],
    upload: Option<u64>,
) -> (tempfile::TempDir, Arc<HttpContext>, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in files {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    let lib = Library::open(LibraryConfig {
        roots: vec![dir.path().to_owned()],
        ..LibraryConfig::default()
    })
    .unwrap();
    assert!(lib.wait_hashed(WITHIN));
    let ctx = Arc::new(
        HttpContext::new("servent-test", || "{}".to_owned())
            .with_library(lib)
            .with_upload_limit(Arc::new(RateLimit::new(upload))),
    );
    let handle = start(Arc::clone(&ctx), "127.0.0.1:0".parse().unwrap());
    (dir, ctx, handle.local_addr())
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WITHIN)).unwrap();
    s
}

struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response (body by Content-Length; none for HEAD).
fn read_response(r: &mut BufReader<TcpStream>, head_only: bool) -> Resp {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "closed before a whole head"
        );
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut resp = Resp {
        status,
        head,
        body: Vec::new(),
    };
    let len: usize = resp.header("content-length").unwrap().parse().unwrap();
    if !head_only {
        resp.body = vec![0; len];
        r.read_exact(&mut resp.body).unwrap();
    }
    resp
}

fn get(path: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n")
}

#[test]
fn large_bodies_carry_the_files_bytes_on_connections_that_switch_paths() {
    let data = bytes(3 * 1024 * 1024 + 17, 5);
    let (_dir, ctx, addr) = serve(&[("big.bin", &data)], None);
    let s = connect(addr);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let path = "/get/0/big.bin";
    // The fast path: the whole file, a large range, a HEAD.
    w.write_all(get(path, "").as_bytes()).unwrap();
    let whole = read_response(&mut r, false);
    assert_eq!((whole.status, whole.body == data), (200, true));
    assert_eq!(whole.header("server"), Some("servent-test"));
    assert!(whole.header("date").is_some_and(|d| d.ends_with("GMT")));
    w.write_all(get(path, "Range: bytes=100-2500099\r\n").as_bytes())
        .unwrap();
    let part = read_response(&mut r, false);
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-2500099/{}", data.len()).as_str())
    );
    assert!(part.body == data[100..2_500_100]);
    w.write_all(format!("HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    let head = read_response(&mut r, true);
    assert_eq!(
        head.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    // /status is hyper's; the same connection then gets its files from hyper's path.
    w.write_all(get("/status", "").as_bytes()).unwrap();
    assert_eq!(read_response(&mut r, false).status, 200);
    w.write_all(get(path, "Range: bytes=-1048576\r\n").as_bytes())
        .unwrap();
    let tail = read_response(&mut r, false);
    assert_eq!(tail.status, 206);
    assert!(tail.body == data[data.len() - 1_048_576..]);
    let requests = ctx
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(requests, 5);
}

#[test]
fn pipelined_requests_are_answered_in_order_and_close_is_honoured() {
    let data = bytes(200_000, 9);
    let (_dir, _ctx, addr) = serve(&[("a.bin", &data)], None);
    let s = connect(addr);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut batch = String::new();
    batch.push_str(&get("/get/0/a.bin", "Range: bytes=0-4095\r\n"));
    batch.push_str(&get("/get/0/a.bin", "Range: bytes=0-9,100000-199999\r\n"));
    batch.push_str(&get("/get/0/nothing", ""));
    batch.push_str(&get(
        "/get/0/a.bin",
        "Range: bytes=150000-\r\nConnection: close\r\n",
    ));
    w.write_all(batch.as_bytes()).unwrap();
    let small = read_response(&mut r, false);
    assert_eq!(small.status, 206);
    assert!(small.body == data[..4096]);
    let multi = read_response(&mut r, false);
    assert_eq!(multi.status, 206);
    assert!(multi
        .header("content-type")
        .is_some_and(|t| t.starts_with("multipart/byteranges")));
    let b = &multi.body;
    let has = |needle: &[u8]| b.windows(needle.len()).any(|w| w == needle);
    assert!(has(&data[..10]) && has(&data[100_000..200_000]));
    assert_eq!(read_response(&mut r, false).status, 404);
    let last = read_response(&mut r, false);
    assert_eq!(last.header("connection"), Some("close"));
    assert!(last.body == data[150_000..]);
    let mut rest = Vec::new();
    assert_eq!(
        r.read_to_end(&mut rest).unwrap(),
        0,
        "closed after the answer"
    );
}

/// Fetches `path` whole on a new connection, first asking `/status` when `via_hyper`
/// (so hyper's path serves the file); returns the body.
fn fetch(addr: SocketAddr, path: &str, via_hyper: bool) -> Vec<u8> {
    let s = connect(addr);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    if via_hyper {
        w.write_all(get("/status", "").as_bytes()).unwrap();
        assert_eq!(read_response(&mut r, false).status, 200);
    }
    w.write_all(get(path, "").as_bytes()).unwrap();
    read_response(&mut r, false).body
}

#[test]
fn an_upload_limit_holds_for_every_upload_together() {
    const RATE: u64 = 512 * 1024;
    let data = bytes(256 * 1024, 3);
    let (_dir, ctx, addr) = serve(&[("a.bin", &data)], Some(RATE));
    let began = Instant::now();
    let fast = std::thread::spawn(move || fetch(addr, "/get/0/a.bin", false));
    let hyper = std::thread::spawn(move || fetch(addr, "/get/0/a.bin", true));
    let (a, b) = (fast.join().unwrap(), hyper.join().unwrap());
    let took = began.elapsed();
    assert!(a == data && b == data);
    // Both bodies went through one bucket: 2 x 256 KiB at 512 KiB/s, less one burst.
    let total = 2 * data.len() as u64;
    let burst = ctx.upload_rate.burst();
    let at_least = Duration::from_secs_f64((total - burst) as f64 / RATE as f64);
    assert!(
        took >= at_least,
        "took {took:?}, the limit implies {at_least:?}"
    );
    assert_eq!(ctx.upload_rate.total(), total);
    assert_eq!(ctx.upload_rate.rate(), Some(RATE));
}

/// A `servent serve` process; killed when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `servent serve` sharing `share` with `extra` options; its address and a channel
/// of its stderr lines.
fn run_serve(
    share: &std::path::Path,
    data: &std::path::Path,
    extra: &[&str],
) -> (Serve, SocketAddr, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_servent"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--share")
        .arg(share)
        .args(extra)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let serve = Serve(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split(" listening on ").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
            }
        }
    });
    let addr = rx.recv_timeout(WITHIN).expect("serve printed its address");
    let (etx, erx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = etx.send(line);
        }
    });
    (serve, addr.parse().unwrap(), erx)
}

/// Waits for a stderr line containing every one of `parts`.
fn line_with(lines: &mpsc::Receiver<String>, parts: &[&str]) -> Option<String> {
    let deadline = Instant::now() + WITHIN;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(l) if parts.iter().all(|p| l.contains(p)) => return Some(l),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
    None
}

/// Waits until a sharing servent serves its first file.
fn wait_serving(addr: SocketAddr, path: &str) -> Vec<u8> {
    let deadline = Instant::now() + WITHIN;
    loop {
        let s = connect(addr);
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        w.write_all(get(path, "").as_bytes()).unwrap();
        let resp = read_response(&mut r, false);
        if resp.status == 200 {
            return resp.body;
        }
        assert!(
            Instant::now() < deadline,
            "never served {path}: {}",
            resp.status
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_logs_each_request_shows_its_limits_and_is_quiet_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let data = bytes(70_000, 11);
    std::fs::write(share.join("song.mp3"), &data).unwrap();
    let (_serve, addr, lines) = run_serve(
        &share,
        &dir.path().join("data"),
        &["--max-upload-rate", "1M", "--max-download-rate", "500K"],
    );
    assert!(wait_serving(addr, "/get/0/song.mp3") == data);
    let line = line_with(&lines, &["\"GET /get/0/song.mp3\"", " 200 70000 "]);
    let line = line.expect("an access log line on stderr");
    assert!(
        line.contains("INFO") && line.contains("127.0.0.1:"),
        "{line}"
    );
    // /status (hyper's path) is logged too, and shows the limits.
    let s = connect(addr);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    w.write_all(get("/status", "").as_bytes()).unwrap();
    let status: serde_json::Value =
        serde_json::from_slice(&read_response(&mut r, false).body).unwrap();
    let bw = &status["bandwidth"];
    assert_eq!(bw["upload"]["limit_bytes_per_sec"], 1024 * 1024);
    assert_eq!(bw["download"]["limit_bytes_per_sec"], 500 * 1024);
    assert!(bw["upload"]["bytes"].as_u64().unwrap() >= 70_000);
    assert!(line_with(&lines, &["\"GET /status\"", " 200 "]).is_some());
    // A head hyper refuses before any route (a header line without a colon) is logged
    // too, with the status hyper answered.
    let s = connect(addr);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    w.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\nno colon here\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r, false).status, 400);
    assert!(line_with(&lines, &["\"- -\" 400 0 "]).is_some());

    let quiet_data = dir.path().join("quiet-data");
    let (_quiet, qaddr, qlines) = run_serve(&share, &quiet_data, &["--quiet"]);
    assert!(wait_serving(qaddr, "/get/0/song.mp3") == data);
    let s = connect(qaddr);
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    w.write_all(get("/status", "").as_bytes()).unwrap();
    let status: serde_json::Value =
        serde_json::from_slice(&read_response(&mut r, false).body).unwrap();
    assert!(status["bandwidth"]["upload"]["limit_bytes_per_sec"].is_null());
    drop(_quiet);
    let logged: Vec<String> = qlines.iter().filter(|l| l.contains("\"GET ")).collect();
    assert!(logged.is_empty(), "--quiet logged {logged:?}");
}

#[test]
fn get_with_a_download_limit_takes_the_time_it_implies() {
    const RATE: u64 = 256 * 1024;
    let data = bytes(512 * 1024, 21);
    let (_dir, _ctx, addr) = serve(&[("a.bin", &data)], None);
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("a.bin");
    let began = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_servent"))
        .args([
            "get",
            &format!("http://{addr}/get/0/a.bin"),
            "--json",
            "--max-download-rate",
            "256K",
            "-o",
        ])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let took = began.elapsed();
    assert!(status.success());
    assert!(std::fs::read(&file).unwrap() == data);
    let burst = RateLimit::new(Some(RATE)).burst();
    let at_least = Duration::from_secs_f64((data.len() as u64 - burst) as f64 / RATE as f64);
    assert!(
        took >= at_least,
        "took {took:?}, the limit implies {at_least:?}"
    );
}
