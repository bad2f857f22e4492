//! The web interface's JSON API and its security rules, over TCP on a servent's one port:
//! a search over a 3-servent loopback mesh returns the right SHA-1 groups (and streams
//! them as events), a download through the API lands byte-identical and verified in the
//! download directory, pause/resume/cancel leave nothing half-written, and each rule is
//! enforced: a foreign `Host` (DNS rebinding), a foreign `Origin` on a POST (cross-site),
//! a form-encoded POST, and a download name escaping the download directory are refused.
//! (Remote clients and the token are unit tests of `ui::security`: a loopback test cannot
//! present a non-loopback peer.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use servent::library::{hash, Library, LibraryConfig};
use servent::net::mesh::Mesh;
use servent::net::{NodeConfig, NodeShare};
use servent::rt;
use servent::topology::Graph;
use servent::ui::{Ui, UiConfig};

/// Longest wait for anything over the loopback mesh.
const WAIT: Duration = Duration::from_secs(20);
const FILE_NAME: &str = "linux-6.1-x86_64.iso";

fn content() -> Vec<u8> {
    (0..700_000u32).map(|i| (i * 13 % 251) as u8).collect()
}

/// A 3-servent triangle: servent 0 runs the interface and shares nothing; 1 and 2 share
/// the same file (one group, two sources) and each a file of its own.
struct UiMesh {
    _base: tempfile::TempDir,
    downloads: PathBuf,
    mesh: Mesh,
    /// Held: the HTTP side holds the interface only weakly.
    _ui: Arc<Ui>,
}

impl UiMesh {
    fn start() -> UiMesh {
        let base = tempfile::tempdir().unwrap();
        let mut libs = Vec::new();
        for i in 1..=2 {
            let dir = base.path().join(format!("share{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(FILE_NAME), content()).unwrap();
            std::fs::write(dir.join(format!("notes {i}.txt")), b"other things").unwrap();
            let lib = Library::open(LibraryConfig {
                roots: vec![dir],
                data_dir: None,
                include_hidden: false,
                progress: None,
            })
            .unwrap();
            assert!(lib.wait_hashed(WAIT));
            libs.push(lib);
        }
        let downloads = base.path().join("downloads");
        let graph = Graph::from_edges(3, vec![(0, 1), (0, 2), (1, 2)]);
        let mesh = rt::block_on(async {
            let mut libs = libs.into_iter();
            let mesh = Mesh::start_sharing(
                graph,
                |i| NodeConfig {
                    min_peers: 0,
                    seed: Some(i as u64 + 100),
                    ..NodeConfig::default()
                },
                |i| match i {
                    0 => NodeShare::Nothing,
                    _ => NodeShare::Library(libs.next().unwrap()),
                },
            )
            .await
            .unwrap();
            assert!(mesh.wait_linked(WAIT).await);
            mesh
        });
        let ui = Ui::start(
            &mesh.nodes[0],
            None,
            UiConfig {
                download_dir: downloads.clone(),
                ..UiConfig::default()
            },
        );
        UiMesh {
            _base: base,
            downloads,
            mesh,
            _ui: ui,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.mesh.nodes[0].listen_addr()
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr().port())
    }

    fn get(&self, path: &str) -> Answer {
        request(self.addr(), "GET", path, &[("Host", &self.host())], None)
    }

    fn post(&self, path: &str, body: &Value) -> Answer {
        let host = self.host();
        let headers = [
            ("Host", host.as_str()),
            ("Content-Type", "application/json"),
        ];
        request(self.addr(), "POST", path, &headers, Some(body.to_string()))
    }

    /// Polls `GET path` until `done` holds for its JSON, at most [`WAIT`].
    fn poll(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let end = Instant::now() + WAIT;
        loop {
            let a = self.get(path);
            assert_eq!(a.status, 200, "{path}: {}", a.body);
            let v = a.json();
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < end, "{path} never got there: {v}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Searches and waits until the file's group has both sources.
    fn search_both_sources(&self) -> (u64, Value) {
        let a = self.post(
            "/api/v1/searches",
            &json!({"pattern": "linux*iso", "strategy": "flood"}),
        );
        assert_eq!(a.status, 201, "{}", a.body);
        let id = a.json()["id"].as_u64().unwrap();
        let s = self.poll(&format!("/api/v1/searches/{id}"), |s| {
            s["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g["sources"] == 2)
        });
        (id, s)
    }
}

/// An HTTP answer: status, headers (lower-case names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request on its own connection (`Connection: close`), read to the end.
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.unwrap_or_default();
    if method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn sha1_of(bytes: &[u8]) -> String {
    let d = hash::sha1_reader(bytes, |_| {}).unwrap();
    hash::urn(&d)[9..].to_owned()
}

/// Files in `dir` (names), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn the_page_and_its_assets_are_served_and_browse_host_stays() {
    let m = UiMesh::start();
    let page = m.get("/");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    for id in [
        "tab-search",
        "search-pattern",
        "results",
        "download-list",
        "neighbours",
        "compare-go",
        "error",
    ] {
        assert!(page.body.contains(&format!("id=\"{id}\"")), "{id} missing");
    }
    assert!(page
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'self'"));
    for external in ["=\"http", "=\"//", "url(", "@import"] {
        assert!(
            !page.body.contains(external),
            "nothing loaded from elsewhere: {external}"
        );
    }
    let js = m.get("/ui/app.js");
    assert_eq!(js.status, 200);
    assert!(js
        .header("content-type")
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.body.contains("EventSource"));
    assert_eq!(m.get("/ui/app.css").status, 200);
    assert_eq!(m.get("/ui/nothing.js").status, 404);
    // A browse-host request to `/` still gets QueryHits, not the page.
    let host = m.host();
    let browse = request(
        m.addr(),
        "GET",
        "/",
        &[
            ("Host", &host),
            ("Accept", "application/x-gnutella-packets"),
        ],
        None,
    );
    assert_eq!(browse.status, 200);
    assert_eq!(
        browse.header("content-type"),
        Some("application/x-gnutella-packets")
    );
    let status = m.get("/api/v1/status");
    assert_eq!(status.json()["listen"], m.addr().to_string());
}

#[test]
fn a_search_over_the_mesh_returns_the_right_groups_and_streams_them() {
    let m = UiMesh::start();
    let mut events = TcpStream::connect(m.addr()).unwrap();
    events.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        events,
        "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\n\r\n",
        m.host()
    )
    .unwrap();
    let mut events = BufReader::new(events);
    let mut first = String::new();
    events.read_line(&mut first).unwrap();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");

    let (id, s) = m.search_both_sources();
    let groups = s["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "only the file matching linux*iso: {s}");
    let g = &groups[0];
    assert_eq!(g["name"], FILE_NAME);
    assert_eq!(g["size"], content().len());
    assert_eq!(g["sha1"], sha1_of(&content()));
    assert_eq!(g["hops"], 1, "both sources are neighbours");
    assert!(g["magnet"].as_str().unwrap().starts_with("magnet:?"));
    assert_eq!(s["pattern"], "linux*iso");
    assert_eq!(s["strategy"], "flood");
    assert!(s["cost"]["messages"].as_u64().unwrap() >= 2, "{s}");
    let list = m.get("/api/v1/searches").json();
    assert_eq!(list[0]["id"], id);
    assert_eq!(list[0]["groups"], 1);

    // The event stream carried the group as `hit` events for this search.
    let mut seen = None;
    let mut line = String::new();
    let mut kind = String::new();
    while seen.is_none() {
        line.clear();
        assert!(events.read_line(&mut line).unwrap() > 0, "stream ended");
        if let Some(k) = line.strip_prefix("event: ") {
            kind = k.trim().to_owned();
        } else if let Some(data) = line.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(data.trim()).unwrap();
            if kind == "hit" && v["search"] == id && v["group"]["sources"] == 2 {
                seen = Some(v);
            }
        }
    }
    assert_eq!(seen.unwrap()["group"]["sha1"], g["sha1"]);

    let bad = m.post(
        "/api/v1/searches",
        &json!({"pattern": "linux", "strategy": "teleport"}),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"].as_str().unwrap().contains("strategy"));
    assert_eq!(m.get("/api/v1/searches/999").status, 404);
}

#[test]
fn a_look_ahead_search_from_the_page_finds_the_file_without_a_walker() {
    // Both sources are neighbours: the page's servent looks ahead through their query
    // routing tables, hands them the Query, and sends no walker.
    let m = UiMesh::start();
    let a = m.post(
        "/api/v1/searches",
        &json!({"pattern": "linux*iso", "strategy": "look"}),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.json()["id"].as_u64().unwrap();
    let s = m.poll(&format!("/api/v1/searches/{id}"), |s| s["state"] == "done");
    let groups = s["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{s}");
    assert_eq!(groups[0]["name"], FILE_NAME);
    assert_eq!(s["cost"]["first_hit_steps"], 1, "found one step away: {s}");
    assert_eq!(
        s["cost"]["messages"], 2,
        "one Query to each of the two matching neighbours, no walker: {s}"
    );
    assert_eq!(s["cost"]["hops"], 1);
}

#[test]
fn a_download_through_the_api_lands_verified_and_byte_identical() {
    let m = UiMesh::start();
    let (id, s) = m.search_both_sources();
    let sha1 = s["groups"][0]["sha1"].as_str().unwrap().to_owned();
    let a = m.post("/api/v1/downloads", &json!({"search": id, "sha1": sha1}));
    assert_eq!(a.status, 201, "{}", a.body);
    let dl = a.json()["id"].as_u64().unwrap();
    let list = m.poll("/api/v1/downloads", |l| {
        let state = l[0]["state"].as_str().unwrap();
        assert!(state != "failed", "{l}");
        state == "done"
    });
    let d = &list[0];
    assert_eq!(d["id"], dl);
    assert_eq!(d["verdict"], "verified");
    assert_eq!(d["name"], FILE_NAME);
    assert_eq!(d["done"], content().len());
    assert_eq!(d["size"], content().len());
    assert_eq!(d["error"], Value::Null);
    let got = std::fs::read(m.downloads.join(FILE_NAME)).unwrap();
    assert!(got == content(), "byte-identical");
    assert_eq!(
        listing(&m.downloads),
        vec![FILE_NAME.to_owned()],
        "no .part left"
    );
    // A finished download can be neither paused nor cancelled.
    assert_eq!(
        m.post(&format!("/api/v1/downloads/{dl}/cancel"), &json!({}))
            .status,
        409
    );
    assert!(m.downloads.join(FILE_NAME).exists());
}

/// A source that accepts connections and never answers: a download from it stays
/// running (probing) until it is paused or cancelled.
fn silent_source() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

#[test]
fn pause_resume_and_cancel_leave_nothing_half_written() {
    let m = UiMesh::start();
    let (_listener, addr) = silent_source();
    let magnet = format!("magnet:?dn=stuck.bin&xl=1000&xs=http://{addr}/get/1/stuck.bin");
    let a = m.post("/api/v1/downloads", &json!({"magnet": magnet}));
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.json()["id"].as_u64().unwrap();
    let path = format!("/api/v1/downloads/{id}");
    assert_eq!(m.get(&path).json()["state"], "running");
    let paused = m.post(&format!("{path}/pause"), &json!({}));
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(paused.json()["state"], "paused");
    assert_eq!(m.post(&format!("{path}/pause"), &json!({})).status, 409);
    let resumed = m.post(&format!("{path}/resume"), &json!({}));
    assert_eq!(resumed.json()["state"], "running");
    let cancelled = m.post(&format!("{path}/cancel"), &json!({}));
    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.json()["state"], "cancelled");
    assert!(
        listing(&m.downloads).is_empty(),
        "nothing left: {:?}",
        listing(&m.downloads)
    );
    assert_eq!(m.post(&format!("{path}/resume"), &json!({})).status, 409);
    assert_eq!(m.post("/api/v1/downloads/77/pause", &json!({})).status, 404);
}

#[test]
fn a_foreign_host_is_refused() {
    let m = UiMesh::start();
    let port = m.addr().port();
    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.1:{}", port ^ 1),
        "localhost".into(),
    ] {
        for path in ["/", "/api/v1/status", "/ui/app.js"] {
            let a = request(m.addr(), "GET", path, &[("Host", &host)], None);
            assert_eq!(a.status, 403, "{host} {path}");
        }
    }
    let a = request(
        m.addr(),
        "GET",
        "/api/v1/status",
        &[("Host", &format!("localhost:{port}"))],
        None,
    );
    assert_eq!(a.status, 200);
    let refused = request(
        m.addr(),
        "GET",
        "/api/v1/downloads",
        &[("Host", "evil.example")],
        None,
    );
    assert!(refused.json()["error"].as_str().unwrap().contains("Host"));
    // The file routes do not look at Host: other servents fetch by any name.
    assert_eq!(
        request(
            m.addr(),
            "GET",
            "/get/1/x",
            &[("Host", "evil.example")],
            None
        )
        .status,
        404
    );
}

#[test]
fn a_post_with_a_foreign_origin_is_refused() {
    let m = UiMesh::start();
    let host = m.host();
    let body = json!({"pattern": "linux*iso", "strategy": "flood"}).to_string();
    for origin in [
        "http://evil.example",
        "null",
        &format!("http://evil.example:{}", m.addr().port()),
    ] {
        let headers = [
            ("Host", host.as_str()),
            ("Content-Type", "application/json"),
            ("Origin", origin),
        ];
        let a = request(
            m.addr(),
            "POST",
            "/api/v1/searches",
            &headers,
            Some(body.clone()),
        );
        assert_eq!(a.status, 403, "{origin}");
    }
    assert!(
        m.get("/api/v1/searches")
            .json()
            .as_array()
            .unwrap()
            .is_empty(),
        "no search started"
    );
    let own = format!("http://{host}");
    let headers = [
        ("Host", host.as_str()),
        ("Content-Type", "application/json"),
        ("Origin", own.as_str()),
    ];
    let a = request(m.addr(), "POST", "/api/v1/searches", &headers, Some(body));
    assert_eq!(a.status, 201, "our own page's Origin");
}

#[test]
fn a_form_post_is_refused() {
    let m = UiMesh::start();
    let host = m.host();
    for ct in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        let headers = [("Host", host.as_str()), ("Content-Type", ct)];
        let a = request(
            m.addr(),
            "POST",
            "/api/v1/searches",
            &headers,
            Some("pattern=linux".into()),
        );
        assert_eq!(a.status, 415, "{ct}");
    }
    let a = request(
        m.addr(),
        "POST",
        "/api/v1/searches",
        &[("Host", &host)],
        Some("{}".into()),
    );
    assert_eq!(a.status, 415, "no content type");
    assert!(m
        .get("/api/v1/searches")
        .json()
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn a_download_name_escaping_the_download_dir_is_refused() {
    let m = UiMesh::start();
    let (_listener, addr) = silent_source();
    let xs = format!("xs=http://{addr}/get/1/f");
    let escape = m._base.path().join("escaped");
    let attempts = [
        json!({"magnet": format!("magnet:?dn=..%2F..%2Fescaped&{xs}")}),
        json!({"magnet": format!("magnet:?dn=..&{xs}")}),
        json!({"magnet": format!("magnet:?dn=%2Fetc%2Fescaped&{xs}")}),
        json!({"magnet": format!("magnet:?{xs}"), "name": "../escaped"}),
        json!({"magnet": format!("magnet:?{xs}"), "name": escape.to_str().unwrap()}),
        json!({"magnet": format!("magnet:?{xs}"), "name": "a\u{0}b"}),
        json!({"magnet": format!("magnet:?{xs}"), "name": "sub/escaped"}),
    ];
    for body in attempts {
        let a = m.post("/api/v1/downloads", &body);
        assert_eq!(a.status, 400, "{body}: {}", a.body);
        assert!(
            a.json()["error"].as_str().unwrap().contains("file name"),
            "{}",
            a.body
        );
    }
    assert!(!escape.exists());
    assert!(m
        .get("/api/v1/downloads")
        .json()
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn overlay_library_and_compare_endpoints_answer() {
    let m = UiMesh::start();
    let n = m.poll("/api/v1/neighbours", |v| v.as_array().unwrap().len() == 2);
    let mut addrs: Vec<String> = n
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["addr"].as_str().unwrap().to_owned())
        .collect();
    addrs.sort();
    let mut want: Vec<String> = m.mesh.nodes[1..]
        .iter()
        .map(|x| x.listen_addr().to_string())
        .collect();
    want.sort();
    assert_eq!(addrs, want);
    assert!(n[0]["user_agent"].as_str().unwrap().starts_with("servent"));
    let rates = m.get("/api/v1/rates").json();
    assert_eq!(rates["interval_s"], 10);
    assert!(rates["query_hit"].is_array());
    assert!(m.get("/api/v1/hosts").json().is_array());
    let lib = m.get("/api/v1/library").json();
    assert_eq!(lib["files"], 0, "servent 0 shares nothing");
    assert_eq!(m.post("/api/v1/library/rescan", &json!({})).status, 404);
    let c = m.post(
        "/api/v1/compare",
        &json!({"topology": "random:n=300,degree=4", "strategies": "flood:ttl=3,walk:k=8", "queries": 10}),
    );
    assert_eq!(c.status, 200, "{}", c.body);
    let c = c.json();
    assert_eq!(c["rows"].as_array().unwrap().len(), 2);
    assert!(c["svg"].as_str().unwrap().starts_with("<svg"));
    let big = m.post(
        "/api/v1/compare",
        &json!({"topology": "plrg:n=20001", "strategies": "flood", "queries": 10}),
    );
    assert_eq!(big.status, 400);
    let file = m.post(
        "/api/v1/compare",
        &json!({"topology": "file:/etc/passwd", "strategies": "flood", "queries": 10}),
    );
    assert_eq!(file.status, 400);
    assert_eq!(m.get("/api/v1/nothing").status, 404);
}

#[test]
fn remote_access_without_a_token_is_refused_at_the_command_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_servent"))
        .args(["serve", "--listen", "127.0.0.1:0", "--ui-remote"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ui-token"));
    let short = std::process::Command::new(env!("CARGO_BIN_EXE_servent"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--ui-remote",
            "--ui-token",
            "short",
        ])
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least"));
}

/// A source that serves `data` with every byte flipped and advertises no hash (HEAD and
/// ranged GETs, keep-alive), as a corrupt servent would.
fn corrupt_source(data: Vec<u8>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let data = Arc::new(data);
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let data = Arc::clone(&data);
            std::thread::spawn(move || serve_corrupt(conn, &data));
        }
    });
    addr
}

fn serve_corrupt(conn: TcpStream, data: &[u8]) {
    let mut out = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            head.push(line);
        }
        let range = head
            .iter()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("range: bytes=")
                    .map(str::to_owned)
            })
            .and_then(|v| {
                let (a, b) = v.trim().split_once('-')?;
                Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?))
            });
        let len = data.len();
        let answer = if head[0].starts_with("HEAD") {
            format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nAccept-Ranges: bytes\r\n\r\n")
                .into_bytes()
        } else {
            let (a, b) = range.unwrap_or((0, len - 1));
            let b = b.min(len - 1);
            let mut v = format!(
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {a}-{b}/{len}\r\nContent-Length: {}\r\n\r\n",
                b + 1 - a
            )
            .into_bytes();
            v.extend(data[a..=b].iter().map(|x| x ^ 0x5A));
            v
        };
        if out.write_all(&answer).is_err() {
            return;
        }
    }
}

#[test]
fn a_hash_that_does_not_match_is_reported_as_a_mismatch_and_nothing_is_put_in_place() {
    let m = UiMesh::start();
    let data = content();
    let source = corrupt_source(data.clone());
    let magnet = format!(
        "magnet:?xt=urn:sha1:{}&dn=corrupt.iso&xs=http://{source}/get/1/corrupt.iso",
        sha1_of(&data)
    );
    let a = m.post("/api/v1/downloads", &json!({"magnet": magnet}));
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.json()["id"].as_u64().unwrap();
    let d = m.poll(&format!("/api/v1/downloads/{id}"), |d| {
        d["state"] != "running"
    });
    assert_eq!(d["state"], "failed", "{d}");
    assert_eq!(d["verdict"], "mismatch", "{d}");
    assert!(
        d["error"].as_str().unwrap().contains("SHA-1 mismatch"),
        "{d}"
    );
    assert!(
        !m.downloads.join("corrupt.iso").exists(),
        "never put in place"
    );
    assert!(
        m.downloads.join("corrupt.iso.part").exists(),
        "what was fetched is kept"
    );
}

#[test]
fn a_firewalled_source_is_downloaded_by_push() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("share");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(FILE_NAME), content()).unwrap();
    let lib = Library::open(LibraryConfig {
        roots: vec![dir],
        data_dir: None,
        include_hidden: false,
        progress: None,
    })
    .unwrap();
    assert!(lib.wait_hashed(WAIT));
    let (a, _b) = rt::block_on(async {
        let a = servent::net::Node::start_plain(NodeConfig {
            min_peers: 0,
            ..NodeConfig::default()
        })
        .await
        .unwrap();
        let b = servent::net::Node::start_shared(
            NodeConfig {
                role: servent::core::RolePolicy::Leaf,
                peers: vec![a.listen_addr()],
                min_peers: 0,
                leaf_ultrapeers: 1,
                firewalled: true,
                ..NodeConfig::default()
            },
            NodeShare::Library(lib),
        )
        .await
        .unwrap();
        (a, b)
    });
    let downloads = base.path().join("downloads");
    let ui = Ui::start(
        &a,
        None,
        UiConfig {
            download_dir: downloads.clone(),
            ..UiConfig::default()
        },
    );
    let host = format!("127.0.0.1:{}", a.listen_addr().port());
    let post = |path: &str, body: Value| {
        let h = [
            ("Host", host.as_str()),
            ("Content-Type", "application/json"),
        ];
        request(a.listen_addr(), "POST", path, &h, Some(body.to_string()))
    };
    let get = |path: &str| request(a.listen_addr(), "GET", path, &[("Host", &host)], None).json();
    // The leaf's routing table reaches the ultrapeer shortly after the link: search
    // again until the hit comes.
    let end = Instant::now() + WAIT;
    let (search, sha1) = loop {
        assert!(Instant::now() < end, "the firewalled leaf never answered");
        let id = post("/api/v1/searches", json!({"pattern": "linux*iso"})).json()["id"]
            .as_u64()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500));
        let s = get(&format!("/api/v1/searches/{id}"));
        if let Some(sha1) = s["groups"][0]["sha1"].as_str() {
            break (id, sha1.to_owned());
        }
    };
    let d = post("/api/v1/downloads", json!({"search": search, "sha1": sha1}));
    assert_eq!(d.status, 201, "{}", d.body);
    let id = d.json()["id"].as_u64().unwrap();
    let end = Instant::now() + WAIT;
    let d = loop {
        let d = get(&format!("/api/v1/downloads/{id}"));
        if d["state"] != "running" {
            break d;
        }
        assert!(Instant::now() < end, "{d}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(d["state"], "done", "{d}");
    assert_eq!(d["verdict"], "verified");
    assert!(std::fs::read(downloads.join(FILE_NAME)).unwrap() == content());
    drop(ui);
}
