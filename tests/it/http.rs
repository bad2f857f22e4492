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
