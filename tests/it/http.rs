//! The HTTP file server driven by a real client (curl): every Range form against the
//! bytes of the file, status codes and headers, HEAD, If-Range, multipart/byteranges,
//! keep-alive reuse, upload slots (503 + Retry-After), the rescan endpoint, and path
//! traversal attempts (all refused, nothing outside the share served).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use servent::http::HttpContext;
use servent::http::{serve_listener, ServerHandle};
use servent::library::{hash, Library, LibraryConfig};
use servent::rt;

pub struct Server {
    pub dir: tempfile::TempDir,
    pub lib: Arc<Library>,
    pub ctx: Arc<HttpContext>,
    pub handle: ServerHandle,
}

impl Server {
    pub fn addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr(), path)
    }

    /// `/get/<index>/<name>` of the shared file called `name`.
    pub fn get_path(&self, name: &str) -> String {
        let f = self
            .lib
            .snapshot()
            .files()
            .iter()
            .find(|f| f.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not shared"));
        format!(
            "/get/{}/{}",
            f.index,
            percent_encoding::utf8_percent_encode(&f.name, servent::library::hits::PATH_SEGMENT)
        )
    }
}

/// Deterministic pseudo-random bytes.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Shares `files` from a new directory on a new loopback listener.
pub fn serve_files(files: &[(&str, &[u8])], max_uploads: usize) -> Server {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in files {
        std::fs::write(dir.path().join(name), data).unwrap();
    }
    serve_dir(dir, max_uploads)
}

pub fn serve_dir(dir: tempfile::TempDir, max_uploads: usize) -> Server {
    let lib = Library::open(LibraryConfig {
        roots: vec![dir.path().to_owned()],
        ..LibraryConfig::default()
    })
    .unwrap();
    assert!(lib.wait_hashed(Duration::from_secs(30)));
    let ctx = Arc::new(
        HttpContext::new("servent-test", || "{}".to_owned())
            .with_library(Arc::clone(&lib))
            .with_max_uploads(max_uploads),
    );
    let handle = start(Arc::clone(&ctx), "127.0.0.1:0".parse().unwrap());
    Server {
        dir,
        lib,
        ctx,
        handle,
    }
}

/// Starts a listener for `ctx` on `addr`.
pub fn start(ctx: Arc<HttpContext>, addr: SocketAddr) -> ServerHandle {
    rt::block_on(async {
        let l = rt::bind(addr).await.unwrap();
        serve_listener(l, ctx).unwrap()
    })
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Splits curl `-i` output into responses (bodies delimited by Content-Length).
fn parse_responses(mut raw: &[u8], head_only: bool) -> Vec<Resp> {
    let mut out = Vec::new();
    while !raw.is_empty() {
        let end = find(raw, b"\r\n\r\n").expect("header end");
        let head = std::str::from_utf8(&raw[..end]).unwrap();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        raw = &raw[end + 4..];
        let len = if head_only {
            0
        } else {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map_or(raw.len(), |(_, v)| v.parse().unwrap())
        };
        out.push(Resp {
            status,
            headers,
            body: raw[..len].to_vec(),
        });
        raw = &raw[len..];
    }
    out
}

fn curl_all(args: &[&str]) -> Vec<Resp> {
    let out = Command::new("curl")
        .args([
            "-s",
            "-S",
            "-i",
            "--http1.1",
            "--path-as-is",
            "--max-time",
            "30",
        ])
        .args(args)
        .output()
        .expect("curl runs (apt-get install curl)");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_responses(&out.stdout, args.contains(&"-I"))
}

fn curl(args: &[&str]) -> Resp {
    let mut all = curl_all(args);
    assert_eq!(all.len(), 1, "one response to {args:?}");
    all.remove(0)
}

const LEN: usize = 700_000;

fn fixture() -> (Server, Vec<u8>) {
    let data = bytes(LEN, 1);
    let s = serve_files(
        &[
            ("Beatles - Help.mp3", &data),
            ("empty.bin", b""),
            ("other.txt", b"other file"),
        ],
        8,
    );
    (s, data)
}

#[test]
fn every_range_form_against_curl() {
    let (s, data) = fixture();
    let url = s.url(&s.get_path("Beatles - Help.mp3"));
    let urn = hash::urn(&hash::sha1_reader(&data[..], |_| {}).unwrap());

    // Whole file.
    let r = curl(&[&url]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data);
    assert_eq!(r.header("content-length"), Some(LEN.to_string().as_str()));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-type"), Some("audio/mpeg"));
    assert_eq!(r.header("x-gnutella-content-urn"), Some(urn.as_str()));
    assert_eq!(r.header("etag"), Some(format!("\"{urn}\"").as_str()));
    assert!(r.header("last-modified").is_some());
    assert_eq!(r.header("server"), Some("servent-test"));

    let partial = |range: &str, from: usize, to: usize| {
        let r = curl(&["-H", &format!("Range: {range}"), &url]);
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {}-{}/{LEN}", from, to - 1).as_str()),
            "{range}"
        );
        assert_eq!(r.body, &data[from..to], "{range}");
    };
    partial("bytes=0-0", 0, 1);
    partial("bytes=100-4195", 100, 4196);
    partial("bytes=1000-600000", 1000, 600_001); // streamed in chunks
    partial(&format!("bytes={}-", LEN - 10), LEN - 10, LEN);
    partial("bytes=300000-", 300_000, LEN);
    partial("bytes=-500", LEN - 500, LEN);
    partial(&format!("bytes=-{}", LEN * 2), 0, LEN);
    partial(&format!("bytes=10-{}", LEN * 5), 10, LEN); // clamped to the end
    partial("bytes=0-9,5-19", 0, 20); // overlapping: coalesced into one

    // Past the end: 416 with the length.
    for range in [
        format!("bytes={LEN}-"),
        format!("bytes={}-{}", LEN + 5, LEN + 9),
        "bytes=-0".into(),
    ] {
        let r = curl(&["-H", &format!("Range: {range}"), &url]);
        assert_eq!(r.status, 416, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{LEN}").as_str())
        );
        assert!(r.body.is_empty());
    }
    // Reversed and malformed: ignored, the whole file.
    for range in [
        "bytes=500-100",
        "bytes=abc",
        "bytes=1-2-3",
        "pages=1-2",
        "bytes=",
        "bytes=--5",
    ] {
        let r = curl(&["-H", &format!("Range: {range}"), &url]);
        assert_eq!(r.status, 200, "{range}");
        assert_eq!(r.body, data, "{range}");
    }

    // Several ranges: 206 multipart/byteranges, one part per range.
    let r = curl(&["-H", "Range: bytes=0-9,100-199,-5", &url]);
    assert_eq!(r.status, 206);
    let ct = r.header("content-type").unwrap();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{ct}"));
    let parts = multipart_parts(&r.body, boundary);
    let want = [(0, 10), (100, 200), (LEN - 5, LEN)];
    assert_eq!(parts.len(), want.len());
    for ((range, body), (from, to)) in parts.iter().zip(want) {
        assert_eq!(range, &format!("bytes {}-{}/{LEN}", from, to - 1));
        assert_eq!(body, &data[from..to]);
    }

    // Zero-length file: 200 and an empty body, with or without a range.
    let empty = s.url(&s.get_path("empty.bin"));
    for args in [
        vec![empty.as_str()],
        vec!["-H", "Range: bytes=0-", empty.as_str()],
    ] {
        let r = curl(&args);
        assert_eq!(r.status, 200, "{args:?}");
        assert_eq!(r.header("content-length"), Some("0"));
        assert!(r.body.is_empty());
    }

    // If-Range: a matching ETag or date honours the range, anything else gets it all.
    let lm = curl(&["-I", &url])
        .header("last-modified")
        .unwrap()
        .to_owned();
    for (validator, honoured) in [
        (format!("\"{urn}\""), true),
        (lm.clone(), true),
        ("\"something-else\"".to_owned(), false),
        (format!("W/\"{urn}\""), false),
        ("Thu, 01 Jan 1970 00:00:00 GMT".to_owned(), false),
    ] {
        let r = curl(&[
            "-H",
            "Range: bytes=10-19",
            "-H",
            &format!("If-Range: {validator}"),
            &url,
        ]);
        if honoured {
            assert_eq!(
                (r.status, r.body.as_slice()),
                (206, &data[10..20]),
                "{validator}"
            );
        } else {
            assert_eq!((r.status, r.body.len()), (200, LEN), "{validator}");
        }
    }

    // By hash.
    let r = curl(&[
        "-H",
        "Range: bytes=5-9",
        &s.url(&format!("/uri-res/N2R?{urn}")),
    ]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[5..10]));
    let r = curl(&[&s.url(&format!("/uri-res/N2R?{}", hash::urn(&[3; 20])))]);
    assert_eq!(r.status, 404);
}

/// (Content-Range, body) of each part.
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delim = format!("\r\n--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    loop {
        let at = find(rest, delim.as_bytes()).expect("boundary");
        rest = &rest[at + delim.len()..];
        if rest.starts_with(b"--") {
            assert_eq!(rest, b"--\r\n");
            return parts;
        }
        let head_end = find(rest, b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&rest[..head_end]).unwrap();
        let range = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Range: "))
            .unwrap()
            .to_owned();
        rest = &rest[head_end + 4..];
        let next = find(rest, delim.as_bytes()).unwrap();
        parts.push((range, rest[..next].to_vec()));
        rest = &rest[next..];
    }
}

#[test]
fn head_and_keep_alive() {
    let (s, data) = fixture();
    let path = s.get_path("Beatles - Help.mp3");
    let url = s.url(&path);
    let r = curl(&["-I", &url]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(LEN.to_string().as_str()));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    let r = curl(&["-I", "-H", "Range: bytes=0-99", &url]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-length"), Some("100"));

    // Two requests on one curl run: answered on one connection.
    let before = s.handle.connections_accepted();
    let all = curl_all(&[
        "-H",
        "Range: bytes=0-99",
        &url,
        &s.url(&s.get_path("other.txt")),
    ]);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].body, &data[..100]);
    assert_eq!(all[1].body, b"other file");
    assert_eq!(
        s.handle.connections_accepted() - before,
        1,
        "keep-alive reused"
    );
}

fn wait_until(what: &str, within: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

#[test]
fn busy_slots_answer_503_with_retry_after() {
    let big = bytes(24 << 20, 2);
    let s = serve_files(&[("big.bin", &big), ("small.txt", b"small")], 1);
    // A client that asks for a big file and does not read holds the only slot.
    let mut hog = TcpStream::connect(s.addr()).unwrap();
    write!(
        hog,
        "GET {} HTTP/1.1\r\nHost: x\r\n\r\n",
        s.get_path("big.bin")
    )
    .unwrap();
    wait_until("the slot to be taken", Duration::from_secs(10), || {
        s.ctx.uploads.active() == 1
    });
    let r = curl(&[&s.url(&s.get_path("small.txt"))]);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("30"));
    // HEAD needs no slot.
    assert_eq!(curl(&["-I", &s.url(&s.get_path("small.txt"))]).status, 200);
    drop(hog);
    wait_until("the slot to be freed", Duration::from_secs(10), || {
        s.ctx.uploads.active() == 0
    });
    let r = curl(&[&s.url(&s.get_path("small.txt"))]);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"small"[..]));
}

#[test]
fn path_traversal_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), b"TOP SECRET").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shared.txt"), b"shared").unwrap();
    std::fs::write(dir.path().join(".hidden.txt"), b"TOP SECRET").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("link.txt"),
    )
    .unwrap();
    let s = serve_dir(dir, 8);
    let shared = s.get_path("shared.txt");
    let index = shared.split('/').nth(2).unwrap().to_owned();
    let secret = outside.path().join("secret.txt");
    let secret = secret.to_str().unwrap();
    let enc = |p: &str| p.replace('/', "%2F");
    let attempts = [
        format!("/get/{index}/../../../../../../etc/passwd"),
        format!("/get/{index}/..%2F..%2F..%2F..%2Fetc%2Fpasswd"),
        format!("/get/{index}/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
        format!("/get/{index}/%252e%252e%252f%252e%252e%252fetc%252fpasswd"),
        format!("/get/{index}/%25252e%25252e%25252fetc%25252fpasswd"),
        format!("/get/{index}/{}", enc(secret)),
        format!("/get/{index}/{secret}"),
        format!("/get/{index}//etc/passwd"),
        format!("/get/{index}/shared.txt/../../etc/passwd"),
        format!("/get/{index}/link.txt"),
        format!("/get/{index}/.hidden.txt"),
        format!("/get/{index}/other.txt"),
        "/get/../../etc/passwd".to_owned(),
        "/get/0/..".to_owned(),
        "/get//etc/passwd".to_owned(),
        "/get/-1/shared.txt".to_owned(),
        "/get/99999999999999999999/shared.txt".to_owned(),
        "/get/4294967296/shared.txt".to_owned(),
        "/etc/passwd".to_owned(),
        secret.to_owned(),
        "/uri-res/N2R?../../etc/passwd".to_owned(),
        "/uri-res/N2R?urn:sha1:..%2F..%2Fetc%2Fpasswd".to_owned(),
        "/status/../get/0/shared.txt".to_owned(),
    ];
    for path in &attempts {
        let r = curl(&[&s.url(path)]);
        assert!(matches!(r.status, 400 | 404), "{path}: status {}", r.status);
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("root:") && !body.contains("TOP SECRET"),
            "{path}: {body}"
        );
    }
    // Absolute-form request targets name no file either.
    for target in [
        format!("http://127.0.0.1{secret}"),
        "http://127.0.0.1/etc/passwd".into(),
    ] {
        let r = curl(&["--request-target", &target, &s.url("/")]);
        assert!(matches!(r.status, 400 | 404), "{target}: {}", r.status);
        assert!(!String::from_utf8_lossy(&r.body).contains("TOP SECRET"));
    }
    // A raw request with bytes curl would not send.
    let mut raw = TcpStream::connect(s.addr()).unwrap();
    raw.write_all(
        format!(
            "GET /get/{index}/..\\..\\etc\\passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let mut answer = String::new();
    raw.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.1 404"),
        "{answer}"
    );
    // The real file, for contrast.
    let r = curl(&[&s.url(&shared)]);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"shared"[..]));
}

#[test]
fn rescan_endpoint_adds_files_and_keeps_indexes() {
    let s = serve_files(&[("first.txt", b"first")], 8);
    let first = s.get_path("first.txt");
    std::fs::write(s.dir.path().join("second.txt"), b"second").unwrap();
    assert_eq!(curl(&["-X", "POST", &s.url("/library/rescan")]).status, 200);
    assert_eq!(
        s.get_path("first.txt"),
        first,
        "index unchanged by a rescan"
    );
    let r = curl(&[&s.url(&s.get_path("second.txt"))]);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"second"[..]));
    assert_eq!(
        curl(&["-X", "POST", &s.url("/get/0/first.txt")]).status,
        405
    );
}

/// Evicts a file from the page cache, so serving it takes the blocking-pool read path.
fn evict(path: &std::path::Path) {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).unwrap();
    f.sync_all().unwrap();
    // SAFETY: plain syscall on an open descriptor.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0);
}

#[test]
fn files_not_in_the_page_cache_are_served_too() {
    let (s, data) = fixture();
    let url = s.url(&s.get_path("Beatles - Help.mp3"));
    let path = s.dir.path().join("Beatles - Help.mp3");
    evict(&path);
    assert_eq!(curl(&[&url]).body, data);
    evict(&path);
    let r = curl(&["-H", "Range: bytes=1000-2999", &url]);
    assert_eq!((r.status, r.body.as_slice()), (206, &data[1000..3000]));
}

// ---- Lock-out resistance (issue 10): caps per address, deadlines, eviction, counters ----

/// A TCP connection to `to` from the loopback address `from` (any of 127.0.0.0/8): lets
/// one test play many client addresses.
pub fn connect_from(from: std::net::Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to) = to else {
        panic!("connect_from takes an IPv4 target");
    };
    let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor we own; it is wrapped (and so closed)
    // before any early return after its creation.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::from_raw_fd(fd);
        let local = sockaddr(from, 0);
        if libc::bind(fd, &local as *const _ as *const libc::sockaddr, len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let remote = sockaddr(*to.ip(), to.port());
        if libc::connect(fd, &remote as *const _ as *const libc::sockaddr, len) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(stream)
    }
}

/// Closes `s` with a reset (SO_LINGER 0) instead of a FIN.
pub fn reset(s: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a live descriptor with a correctly sized option.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER");
    drop(s);
}

/// The `i`-th attacker address: 127.0.0.2 upwards, `per` connections each.
fn attacker(i: usize, per: usize) -> std::net::Ipv4Addr {
    let n = 2 + (i / per) as u32;
    std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(127, 0, 0, 0)) + n)
}

/// Reads one response (head and `Content-Length` body) from a keep-alive connection.
fn read_response(s: &mut TcpStream) -> Resp {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&raw, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).expect("response head");
        assert!(n > 0, "closed before a response: {raw:?}");
        raw.extend_from_slice(&buf[..n]);
    };
    let len: usize = parse_responses(&raw[..head_end], true)[0]
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    while raw.len() < head_end + len {
        let n = s.read(&mut buf).expect("response body");
        assert!(n > 0, "closed mid-body");
        raw.extend_from_slice(&buf[..n]);
    }
    parse_responses(&raw[..head_end + len], false).remove(0)
}

/// Sends `GET path` (keep-alive) on `s` and reads the answer.
fn get_on(s: &mut TcpStream, path: &str) -> Resp {
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_response(s)
}

/// Waits (bounded) for the peer to close `s`; returns when it did, after `since`.
fn closed_after(s: &mut TcpStream, since: Instant, within: Duration) -> Duration {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return since.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return since.elapsed(),
            Err(e) => panic!("not closed within {within:?}: {e}"),
        }
    }
}

fn ended(ctx: &HttpContext, end: servent::http::HttpEnd) -> u64 {
    ctx.stats.ended.get(end)
}

/// A server sharing nothing, with these limits.
fn serve_limited(limits: servent::http::HttpLimits) -> (Arc<HttpContext>, ServerHandle) {
    let ctx = Arc::new(HttpContext::new("servent-test", || "{}".to_owned()).with_limits(limits));
    let handle = start(Arc::clone(&ctx), "127.0.0.1:0".parse().unwrap());
    (ctx, handle)
}

/// Attacker connections open at once in the lock-out test: more than every HTTP slot.
const IDLE_ATTACKERS: usize = 300;
/// An honest request must be answered within this while the attackers sit idle.
const HONEST_WITHIN: Duration = Duration::from_secs(1);

#[test]
fn idle_keep_alive_connections_cannot_lock_out_an_honest_client() {
    use servent::http::limits::{MAX_HTTP_CONNECTIONS, MAX_HTTP_PER_ADDRESS};
    use servent::http::{HttpEnd, HttpLimits};
    // Default limits: the attackers' connections stay open for the whole test (15 s idle).
    let (ctx, handle) = serve_limited(HttpLimits::default());
    let started = Instant::now();
    let mut idle = Vec::with_capacity(IDLE_ATTACKERS);
    for i in 0..IDLE_ATTACKERS {
        let mut s = connect_from(attacker(i, MAX_HTTP_PER_ADDRESS), handle.local_addr()).unwrap();
        assert_eq!(get_on(&mut s, "/nothing").status, 404);
        idle.push(s);
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "attack too slow"
        );
    }
    assert_eq!(ctx.gate.open(), MAX_HTTP_CONNECTIONS);
    // The oldest idle ones made room for the last attackers (counted as their tasks end).
    let evicted = (IDLE_ATTACKERS - MAX_HTTP_CONNECTIONS) as u64;
    wait_until("evictions counted", Duration::from_secs(10), || {
        ended(&ctx, HttpEnd::EvictedIdle) == evicted
    });
    // Every slot is held by an idle keep-alive connection: the honest client still gets in.
    let t = Instant::now();
    let mut honest = connect_from(std::net::Ipv4Addr::LOCALHOST, handle.local_addr()).unwrap();
    let r = get_on(&mut honest, "/status");
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    assert!(took < HONEST_WITHIN, "honest GET took {took:?}");
    eprintln!("honest GET under {IDLE_ATTACKERS} idle connections: {took:?}");
    wait_until("honest eviction counted", Duration::from_secs(10), || {
        ended(&ctx, HttpEnd::EvictedIdle) == evicted + 1
    });
    assert_eq!(ended(&ctx, HttpEnd::OverGlobalCap), 0);
    // The evicted attackers were closed: the first one reads EOF.
    closed_after(&mut idle[0], Instant::now(), Duration::from_secs(5));
    handle.stop();
}

#[test]
fn one_address_holds_at_most_its_share_of_connections() {
    use servent::http::limits::MAX_HTTP_PER_ADDRESS;
    use servent::http::{HttpEnd, HttpLimits};
    let (ctx, handle) = serve_limited(HttpLimits::default());
    let from = std::net::Ipv4Addr::new(127, 0, 0, 2);
    let mut held = Vec::new();
    for _ in 0..MAX_HTTP_PER_ADDRESS {
        // Half a head: held open, not idle (so never evicted).
        let mut s = connect_from(from, handle.local_addr()).unwrap();
        s.write_all(b"GET /status HTTP/1.1\r\n").unwrap();
        held.push(s);
    }
    wait_until("slots held", Duration::from_secs(10), || {
        ctx.gate.open() == MAX_HTTP_PER_ADDRESS
    });
    let mut over = connect_from(from, handle.local_addr()).unwrap();
    let r = get_on(&mut over, "/status");
    assert_eq!(r.status, 503);
    assert_eq!(
        r.header("retry-after"),
        Some(
            servent::http::admission::REFUSAL_RETRY_AFTER_S
                .to_string()
                .as_str()
        )
    );
    closed_after(&mut over, Instant::now(), Duration::from_secs(5));
    assert_eq!(ended(&ctx, HttpEnd::OverAddressCap), 1);
    // Another address (the honest client on 127.0.0.1) is served.
    let mut honest = TcpStream::connect(handle.local_addr()).unwrap();
    assert_eq!(get_on(&mut honest, "/status").status, 200);
    handle.stop();
}

/// Short deadlines for the slow-client tests.
const SHORT_HEAD: Duration = Duration::from_millis(400);
const SHORT_IDLE: Duration = Duration::from_millis(400);
/// The slow-loris pace: far under the head deadline, so a per-byte timeout never fires.
const LORIS_BYTE_EVERY: Duration = Duration::from_millis(40);
/// How late a deadline may fire on a loaded machine.
const DEADLINE_SLACK: Duration = Duration::from_secs(2);
/// How much earlier than the client's clock the server's idle clock may start: it starts
/// when the server has written the answer, the client's when it has read it (a debug run
/// once measured the close 0.14 ms short of the idle timeout by the client's clock).
const ANSWER_READ_LEAD: Duration = Duration::from_millis(50);

#[test]
fn a_slow_loris_head_is_cut_at_one_deadline_and_frees_its_slot() {
    use servent::http::{HttpEnd, HttpLimits};
    let (ctx, handle) = serve_limited(HttpLimits {
        max_connections: 1,
        head_timeout: SHORT_HEAD,
        idle_timeout: SHORT_IDLE,
        ..HttpLimits::default()
    });
    let mut loris =
        connect_from(std::net::Ipv4Addr::new(127, 0, 0, 2), handle.local_addr()).unwrap();
    let began = Instant::now();
    let reader = {
        let mut r = loris.try_clone().unwrap();
        std::thread::spawn(move || closed_after(&mut r, began, SHORT_HEAD + DEADLINE_SLACK * 2))
    };
    // One byte at a time, a head that never ends: bounded by count and by the close.
    let head = b"GET /status HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (i, b) in head.iter().enumerate() {
        if i == 2 {
            // The loris holds the only slot: an honest client is refused meanwhile.
            let mut honest = TcpStream::connect(handle.local_addr()).unwrap();
            assert_eq!(get_on(&mut honest, "/status").status, 503);
        }
        if reader.is_finished() || loris.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(LORIS_BYTE_EVERY); // the attacker's pace, not synchronisation
    }
    let cut = reader.join().unwrap();
    assert!(
        cut >= SHORT_HEAD && cut < SHORT_HEAD + DEADLINE_SLACK,
        "head deadline {SHORT_HEAD:?}, cut after {cut:?}"
    );
    wait_until("slot freed", Duration::from_secs(5), || {
        ctx.gate.open() == 0
    });
    assert_eq!(ended(&ctx, HttpEnd::HeadTimeout), 1);
    let mut honest = TcpStream::connect(handle.local_addr()).unwrap();
    assert_eq!(get_on(&mut honest, "/status").status, 200);
    handle.stop();
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    use servent::http::{HttpEnd, HttpLimits};
    let (ctx, handle) = serve_limited(HttpLimits {
        head_timeout: SHORT_HEAD,
        idle_timeout: SHORT_IDLE,
        ..HttpLimits::default()
    });
    let mut s = TcpStream::connect(handle.local_addr()).unwrap();
    // Requests closer together than the idle timeout keep the connection.
    for _ in 0..3 {
        assert_eq!(get_on(&mut s, "/status").status, 200);
    }
    let answered = Instant::now();
    let idle = closed_after(&mut s, answered, SHORT_IDLE + DEADLINE_SLACK * 2);
    assert!(
        idle + ANSWER_READ_LEAD >= SHORT_IDLE && idle < SHORT_IDLE + DEADLINE_SLACK,
        "idle timeout {SHORT_IDLE:?}, closed after {idle:?}"
    );
    wait_until("counted", Duration::from_secs(5), || {
        ended(&ctx, HttpEnd::IdleTimeout) == 1
    });
    assert_eq!(ctx.gate.open(), 0);
    handle.stop();
}

/// A servent (one port: Gnutella, HTTP, GIV) with a short classification deadline.
fn node(handshake_timeout: Duration) -> servent::net::Node {
    rt::block_on(servent::net::Node::start_plain(servent::net::NodeConfig {
        min_peers: 0,
        timing: servent::net::Timing {
            handshake_timeout,
            ..servent::net::Timing::default()
        },
        ..servent::net::NodeConfig::default()
    }))
    .unwrap()
}

/// The pace of the slow first block: 17 bytes of it take four times the deadline.
const CLASSIFY_BYTE_EVERY: Duration = Duration::from_millis(100);

#[test]
fn classification_has_one_deadline_for_the_whole_first_block() {
    let n = node(SHORT_HEAD);
    let mut s = TcpStream::connect(n.listen_addr()).unwrap();
    let began = Instant::now();
    let reader = {
        let mut r = s.try_clone().unwrap();
        std::thread::spawn(move || closed_after(&mut r, began, SHORT_HEAD + DEADLINE_SLACK * 2))
    };
    // "GNUTELLA CONNECT/" stays undecided until its last byte: each byte far sooner than
    // the deadline, the whole block far later (17 x 100 ms against 400 ms).
    let block = b"GNUTELLA CONNECT/";
    let mut sent = 0;
    for b in block {
        if reader.is_finished() || s.write_all(&[*b]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(CLASSIFY_BYTE_EVERY); // the attacker's pace, not synchronisation
    }
    let cut = reader.join().unwrap();
    assert!(
        sent < block.len(),
        "the whole block was sent before the cut"
    );
    assert!(
        cut >= SHORT_HEAD && cut < SHORT_HEAD + DEADLINE_SLACK,
        "classification deadline {SHORT_HEAD:?}, cut after {cut:?}"
    );
    wait_until("counted", Duration::from_secs(5), || {
        n.status()["connections"]["unclassified"]["timeout"] == 1
    });
    rt::block_on(n.shutdown());
}

#[test]
fn methods_we_do_not_serve_get_405_with_allow() {
    let n = node(Duration::from_secs(10));
    for method in ["OPTIONS", "PUT", "DELETE", "TRACE", "PATCH", "POST"] {
        let mut s = TcpStream::connect(n.listen_addr()).unwrap();
        write!(
            s,
            "{method} /status HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        )
        .unwrap();
        let r = read_response(&mut s);
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method}");
    }
    // The rescan endpoint is POST's.
    let mut s = TcpStream::connect(n.listen_addr()).unwrap();
    let r = get_on(&mut s, "/library/rescan");
    assert_eq!((r.status, r.header("allow")), (405, Some("POST")));
    rt::block_on(n.shutdown());
}

#[test]
fn status_answers_an_ipv4_mapped_loopback_client() {
    let ctx = Arc::new(HttpContext::new("servent-test", || "{\"ok\":1}".to_owned()));
    let Ok(listener) = rt::block_on(rt::bind("[::]:0".parse().unwrap())) else {
        eprintln!("skipped: no IPv6 listener here");
        return;
    };
    let handle = serve_listener(listener, ctx).unwrap();
    let port = handle.local_addr().port();
    // An IPv4 client of a dual-stack `[::]` listener is seen as ::ffff:127.0.0.1.
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        eprintln!("skipped: the [::] listener is IPv6-only here");
        handle.stop();
        return;
    };
    let r = get_on(&mut s, "/status");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"{\"ok\":1}");
    handle.stop();
}

/// Connections reset right after connecting in the counting test.
const RESETS: u64 = 1_000;
/// Connections left waiting for `accept` at most: well under the listen backlog (128).
const IN_BACKLOG: u64 = 32;

#[test]
fn every_connection_reset_before_classification_is_counted() {
    let n = node(Duration::from_secs(10));
    let c = |k: &str| n.status()["connections"][k].clone();
    let began = Instant::now();
    for i in 0..RESETS {
        // At most IN_BACKLOG connections wait for `accept` at once: beyond the listen
        // backlog the kernel drops the handshake's last ACK and the reset connection
        // never reaches us (CI saw 999 of 1,000 accepted on a loaded machine, with the
        // kernel's ListenOverflows counting the rest).
        if i % IN_BACKLOG == 0 {
            let want = i.saturating_sub(IN_BACKLOG);
            wait_until("accepts to catch up", Duration::from_secs(20), || {
                c("accepted").as_u64().unwrap_or(0) >= want
            });
        }
        reset(TcpStream::connect(n.listen_addr()).unwrap());
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "connects too slow"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(c("accepted") == RESETS && c("unclassified")["closed"] == RESETS) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for every reset counted: {}",
            n.status()["connections"]
        );
        std::thread::yield_now();
    }
    assert_eq!(c("http"), 0);
    assert_eq!(c("unknown"), 0);
    rt::block_on(n.shutdown());
}

/// Bigger than what loopback socket buffers hold, so a client that reads nothing blocks
/// the server's writes.
const STALL_FILE_BYTES: usize = 48 << 20;
const SHORT_STALL: Duration = Duration::from_millis(500);

#[test]
fn a_client_that_stops_reading_is_cut_at_the_write_stall_timeout() {
    use servent::http::{HttpEnd, HttpLimits};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.bin"), vec![7u8; STALL_FILE_BYTES]).unwrap();
    let mut server = serve_dir(dir, 1);
    let ctx = Arc::new(
        HttpContext::new("servent-test", || "{}".to_owned())
            .with_library(Arc::clone(&server.lib))
            .with_max_uploads(1)
            .with_limits(HttpLimits {
                write_stall_timeout: SHORT_STALL,
                ..HttpLimits::default()
            }),
    );
    server.handle.stop();
    server.handle = start(Arc::clone(&ctx), "127.0.0.1:0".parse().unwrap());
    let path = server.get_path("big.bin");
    // The stalled client takes the only upload slot, then reads nothing.
    let mut stalled = TcpStream::connect(server.addr()).unwrap();
    write!(stalled, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let began = Instant::now();
    wait_until("the stalled answer cut", Duration::from_secs(15), || {
        ended(&ctx, HttpEnd::WriteStalled) == 1
    });
    let cut = began.elapsed();
    assert!(
        cut >= SHORT_STALL && cut < SHORT_STALL + DEADLINE_SLACK * 3,
        "write-stall timeout {SHORT_STALL:?}, cut after {cut:?}"
    );
    // What it had buffered ends short of the file: the connection was closed under it.
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match stalled.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(got < STALL_FILE_BYTES, "read {got} bytes of a cut answer");
    // Its upload slot is free again: an honest client gets the file's first bytes.
    let mut honest = TcpStream::connect(server.addr()).unwrap();
    write!(
        honest,
        "GET {path} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n"
    )
    .unwrap();
    let resp = read_response(&mut honest);
    assert_eq!(resp.status, 206);
    server.handle.stop();
}
