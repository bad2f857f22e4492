//! The web page in a real browser: headless Chromium driven over WebDriver opens the page
//! of one of four separate `servent serve` processes (default options), and what a person
//! does there (type a wildcard search, click download, open the overlay) is checked against
//! what the servents really share and hold; screenshots go to `target/ui-screenshots/`.
//! Also `servent demo --stay`: its mesh stays up and serves the page it prints.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use servent::library::hash;

use super::magnet::{bin, wait_served};
use super::webdriver::{http_json, http_request, Browser, Session};

/// A child process, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `child`'s stdout on a thread; the first line `pick` accepts comes back through
/// the channel (later lines are drained so the child never blocks on a full pipe), and
/// every line is kept for an error message.
fn watch_stdout(
    child: &mut Child,
    pick: impl Fn(&str) -> Option<String> + Send + 'static,
) -> (
    mpsc::Receiver<String>,
    std::sync::Arc<std::sync::Mutex<String>>,
) {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let log = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(v) = pick(&line) {
                let _ = tx.send(v);
            }
            let mut l = log.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    (rx, seen)
}

/// `servent serve --listen 127.0.0.1:0` with its own data directory and `extra` options;
/// returns it with the address it printed.
fn serve(data: &Path, extra: &[&std::ffi::OsStr]) -> (Running, SocketAddr) {
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (rx, _) = watch_stdout(&mut child, |line| {
        let rest = line.split(" listening on ").nth(1)?;
        Some(rest.split_whitespace().next()?.to_owned())
    });
    let running = Running(child);
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("servent serve printed its address");
    (running, addr.parse().unwrap())
}

/// Where the screenshots go: `target/ui-screenshots/` of this build (CARGO_TARGET_DIR
/// when set, else the target folder the test binary runs from).
fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            // target/<profile>/deps/it-<hash>
            let exe = std::env::current_exe().ok()?;
            Some(exe.ancestors().nth(3)?.to_path_buf())
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("ui-screenshots")
}

/// Bytes that differ all along, different per `seed` (a wrong chunk cannot pass unnoticed).
fn content(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| ((i ^ seed).wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// The SHA-1 as the page may write it (`urn:sha1:BASE32` or bare BASE32), bare, upper case.
fn bare_sha1(text: &str) -> String {
    let t = text.trim();
    t.strip_prefix("urn:sha1:")
        .unwrap_or(t)
        .to_ascii_uppercase()
}

/// The number a cell starts with (`"2"`, `"1 hop"`), if any.
fn leading_number(text: &str) -> Option<u64> {
    let digits: String = text
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The browser, or `None` with the reason printed (a developer's machine without it). In
/// CI (`CI` set) a missing browser fails the test instead: the page must be tested there.
fn browser_or_skip(test: &str) -> Option<Browser> {
    match Browser::find() {
        Ok(b) => Some(b),
        Err(why) if std::env::var_os("CI").is_some() => panic!("{test}: {why}"),
        Err(why) => {
            eprintln!("skipping {test}: {why}");
            None
        }
    }
}

/// Serves `page` as text/html to every request on a loopback port, from a thread.
fn serve_page(page: &'static str) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { break };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    addr
}

const HARNESS_PAGE: &str = r#"<!doctype html><title>harness</title>
<input id="q"><select id="s"><option value="a">A</option><option value="b">B</option></select>
<button id="go">go</button><ul id="out"></ul>
<script>
document.getElementById('go').onclick = () => {
  const li = document.createElement('li');
  li.className = 'row';
  li.textContent = document.getElementById('q').value + '/' + document.getElementById('s').value;
  setTimeout(() => document.getElementById('out').appendChild(li), 200);
};
</script>"#;

/// The WebDriver client itself: types, picks an option, clicks, waits for a change the
/// page makes later (200 ms after the click), and takes a screenshot that is a real PNG.
#[test]
fn webdriver_client_drives_headless_chromium() {
    let Some(browser) = browser_or_skip("webdriver_client_drives_headless_chromium") else {
        return;
    };
    let addr = serve_page(HARNESS_PAGE);
    let s = Session::start(&browser).expect("a headless chromium session");
    s.goto(&format!("http://{addr}/")).unwrap();
    let q = s.find("#q", Duration::from_secs(10));
    s.type_into(&q, "ubuntu*iso").unwrap();
    s.select_value(&s.find("#s", Duration::from_secs(1)), "b")
        .unwrap();
    assert!(s.find_all("li.row").unwrap().is_empty());
    s.click(&s.find("#go", Duration::from_secs(1))).unwrap();
    let row = s.find("li.row", Duration::from_secs(10));
    assert_eq!(s.text(&row).unwrap(), "ubuntu*iso/b");
    assert_eq!(s.property(&q, "value").unwrap(), "ubuntu*iso");
    assert_eq!(s.attribute(&q, "id").unwrap().as_deref(), Some("q"));
    assert_eq!(
        s.execute("return document.title + arguments[0]", vec![1.into()])
            .unwrap(),
        "harness1"
    );
    let shot = tempfile::tempdir().unwrap();
    let png = shot.path().join("harness.png");
    s.screenshot(&png).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 1000);
    assert!(s.find_all("#missing").unwrap().is_empty());
}

/// A script returning the rows of a table as the page renders them: for every element
/// matching `arguments[0]`, its `data-*` attributes and the rendered text of the cells
/// named in `arguments[1]` (class names). One call, so one consistent snapshot while the
/// page redraws.
const ROWS_SCRIPT: &str = r#"
const [rows, cells] = arguments;
return Array.from(document.querySelectorAll(rows)).map(r => {
  const o = {data: Object.assign({}, r.dataset)};
  for (const c of cells) {
    const e = r.querySelector('.' + c);
    o[c] = e ? e.innerText.trim() : null;
  }
  const p = r.querySelector('progress');
  o.progress = p ? [p.value, p.max] : null;
  o.download_button = !!r.querySelector('button.download');
  return o;
});
"#;

fn rows(s: &Session, css: &str, cells: &[&str]) -> Result<Vec<Value>, super::webdriver::WdError> {
    let v = s.execute(ROWS_SCRIPT, vec![css.into(), serde_json::json!(cells)])?;
    Ok(v.as_array().cloned().unwrap_or_default())
}

const DESKTOP: &str = "ubuntu-24.04-desktop-amd64.iso";
const SERVER: &str = "ubuntu-22.04-live-server-amd64.iso";

/// Four separate `servent serve` processes: `a` with the page, and three that join it
/// (as its leaves, roles left to `auto`) sharing the ubuntu images and decoys.
struct Fixture {
    _servents: Vec<Running>,
    /// The servent whose page the browser opens.
    a: SocketAddr,
    /// The others' listening addresses.
    neighbours: BTreeSet<String>,
    /// `a`'s `--download-dir`.
    downloads: PathBuf,
    desktop_data: Vec<u8>,
    /// SHA-1 URNs of the desktop and the server image.
    urns: [String; 2],
    _tmp: tempfile::TempDir,
}

/// Starts the four servents and waits until every file is hashed and served and `a` has
/// its three neighbours with their QRP tables.
fn four_servents() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let desktop_data = content(4 << 20, 1);
    let server_data = content(300_000, 2);
    // Who shares what: the desktop image twice (two sources), the server image once, and
    // decoys that the search must not list (a keyword match with another extension, and
    // another .iso).
    let shares: [&[(&str, &[u8])]; 4] = [
        &[("readme.txt", b"the servent with the page")],
        &[
            (DESKTOP, &desktop_data),
            ("ubuntu-notes.txt", b"not an iso"),
        ],
        &[
            (DESKTOP, &desktop_data),
            ("debian-12.5.0-amd64-netinst.iso", b"decoy"),
        ],
        &[(SERVER, &server_data), ("ubuntu.iso.torrent", b"decoy too")],
    ];
    let mut dirs = Vec::new();
    for (i, files) in shares.iter().enumerate() {
        let dir = tmp.path().join(format!("share{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, data) in *files {
            std::fs::write(dir.join(name), data).unwrap();
        }
        dirs.push(dir);
    }
    let downloads = tmp.path().join("downloads");
    let (first, a) = serve(
        &tmp.path().join("data0"),
        &[
            "--share".as_ref(),
            dirs[0].as_os_str(),
            "--download-dir".as_ref(),
            downloads.as_os_str(),
        ],
    );
    let a_text = a.to_string();
    let mut servents = vec![first];
    let mut addrs = Vec::new();
    for (i, dir) in dirs.iter().enumerate().skip(1) {
        let peer = [
            "--share".as_ref(),
            dir.as_os_str(),
            "--peer".as_ref(),
            a_text.as_ref(),
        ];
        let (running, addr) = serve(&tmp.path().join(format!("data{i}")), &peer);
        servents.push(running);
        addrs.push(addr);
    }
    let urn = |d: &[u8]| hash::urn(&hash::sha1_reader(d, |_| {}).unwrap());
    let urns = [urn(&desktop_data), urn(&server_data)];
    wait_served(addrs[0], &urns[0]);
    wait_served(addrs[1], &urns[0]);
    wait_served(addrs[2], &urns[1]);
    wait_linked_with_tables(a, addrs.len());
    Fixture {
        _servents: servents,
        a,
        neighbours: addrs.iter().map(SocketAddr::to_string).collect(),
        downloads,
        desktop_data,
        urns,
        _tmp: tmp,
    }
}

/// The whole user's path in one browser session, so the test stays well under a minute:
/// search, results, download to 100% verified and byte-identical on disk, neighbours.
#[test]
fn browser_searches_downloads_and_sees_the_neighbours() {
    let Some(browser) = browser_or_skip("browser_searches_downloads_and_sees_the_neighbours")
    else {
        return;
    };
    let started = Instant::now();
    let f = four_servents();
    let mut s = Session::start(&browser).expect("a headless chromium session");
    let shots = screenshot_dir();
    let _ = std::fs::remove_file(shots.join("failed-main.png"));
    s.screenshot_on_failure(shots.join("failed-main.png"));
    s.goto(&format!("http://{}/", f.a)).unwrap();
    let sha1 = search_ubuntu_images(&s, &f);
    s.screenshot(&shots.join("search.png")).unwrap();
    download_desktop_image(&s, &f, &sha1);
    s.screenshot(&shots.join("download.png")).unwrap();
    see_the_neighbours(&s, &f);
    s.screenshot(&shots.join("overlay.png")).unwrap();
    assert_eq!(s.page_error(), None, "no failure shown");
    eprintln!(
        "browser test took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
}

/// Types the wildcard, picks flood, goes; waits for exactly the two ubuntu images (the
/// desktop one from 2 sources) and checks their cells. Returns the desktop row's
/// `data-sha1`.
fn search_ubuntu_images(s: &Session, f: &Fixture) -> String {
    let pattern = s.find("#search-pattern", Duration::from_secs(10));
    s.type_into(&pattern, "ubuntu*iso").unwrap();
    s.select_value(&s.find("#search-strategy", Duration::from_secs(1)), "flood")
        .unwrap();
    s.click(&s.find("#search-go", Duration::from_secs(1)))
        .unwrap();
    let want: BTreeSet<&str> = [DESKTOP, SERVER].into();
    let results = s.wait(
        Duration::from_secs(30),
        "the two ubuntu images as results, the desktop one from 2 sources",
        |s| {
            let r = rows(s, "tr.result", &["name", "size", "sources", "hops"])?;
            let names: BTreeSet<&str> = r.iter().filter_map(|r| r["name"].as_str()).collect();
            let sources = |n: &str| {
                r.iter()
                    .find(|r| r["name"] == n)
                    .and_then(|r| leading_number(r["sources"].as_str()?))
            };
            let done = names == want && sources(DESKTOP) == Some(2) && sources(SERVER) == Some(1);
            Ok(if done {
                Ok(r)
            } else {
                Err(Value::from(r).to_string())
            })
        },
    );
    for (name, urn) in [(DESKTOP, &f.urns[0]), (SERVER, &f.urns[1])] {
        let row = results.iter().find(|r| r["name"] == name).unwrap();
        let shown = row["data"]["sha1"].as_str().unwrap_or_default();
        assert_eq!(bare_sha1(shown), bare_sha1(urn), "{row}");
        let hops = leading_number(row["hops"].as_str().unwrap_or_default());
        assert_eq!(hops, Some(1), "{row}");
        assert!(
            !row["size"].as_str().unwrap_or_default().is_empty(),
            "{row}"
        );
        assert_eq!(row["download_button"], true, "{row}");
    }
    // A person must be able to read the button: its label drawn in another colour than
    // its background.
    let look = s
        .execute(
            "const b = document.querySelector('tr.result button.download'); \
             const st = getComputedStyle(b); \
             return [b.innerText.trim(), st.color, st.backgroundColor];",
            vec![],
        )
        .unwrap();
    assert!(
        look[0].as_str().is_some_and(|t| !t.is_empty()) && look[1] != look[2],
        "the download button's label is readable (text, colour, background): {look}"
    );
    let cost = s
        .text(&s.find("#search-cost", Duration::from_secs(1)))
        .unwrap();
    assert!(
        cost.chars().any(|c| c.is_ascii_digit()),
        "cost shown: {cost:?}"
    );
    let desktop = results.iter().find(|r| r["name"] == DESKTOP).unwrap();
    desktop["data"]["sha1"].as_str().unwrap().to_owned()
}

/// Clicks the desktop row's download button, opens the Downloads tab and waits for 100%
/// verified; then the file in the download directory must be the shared one, byte for
/// byte.
fn download_desktop_image(s: &Session, f: &Fixture, sha1: &str) {
    let button = s.find(
        &format!("tr.result[data-sha1={sha1:?}] button.download"),
        Duration::from_secs(1),
    );
    s.click(&button).unwrap();
    s.click(&s.find("#tab-downloads", Duration::from_secs(1)))
        .unwrap();
    assert!(s
        .displayed(&s.find("#downloads", Duration::from_secs(1)))
        .unwrap());
    let done = s.wait(
        Duration::from_secs(30),
        "the download at 100%, verified",
        |s| {
            let r = rows(
                s,
                "#download-list .download[data-id]",
                &["name", "percent", "state", "verdict"],
            )?;
            let done = r.iter().find(|d| {
                d["name"] == DESKTOP && d["percent"] == "100%" && d["verdict"] == "verified"
            });
            Ok(done.cloned().ok_or_else(|| Value::from(r).to_string()))
        },
    );
    let progress = done["progress"].as_array().expect("a progress bar").clone();
    assert_eq!(progress[0], progress[1], "the bar full: {done}");
    let saved = f.downloads.join(DESKTOP);
    assert!(
        std::fs::read(&saved).is_ok_and(|b| b == f.desktop_data),
        "{} byte-identical to the shared file",
        saved.display()
    );
}

/// Opens the Overlay tab: the three neighbours listed by their listening address, the
/// drawing shown.
fn see_the_neighbours(s: &Session, f: &Fixture) {
    s.click(&s.find("#tab-overlay", Duration::from_secs(1)))
        .unwrap();
    assert!(s
        .displayed(&s.find("#overlay", Duration::from_secs(1)))
        .unwrap());
    assert!(!s
        .displayed(&s.find("#search", Duration::from_secs(1)))
        .unwrap());
    s.wait(
        Duration::from_secs(15),
        "the 3 neighbours in #neighbours",
        |s| {
            let r = rows(s, "#neighbours tr.neighbour", &["addr"])?;
            let shown: BTreeSet<String> = r
                .iter()
                .filter_map(|r| r["addr"].as_str().map(str::to_owned))
                .collect();
            Ok(if shown == f.neighbours {
                Ok(())
            } else {
                Err(format!("{shown:?}"))
            })
        },
    );
    let graph = s.find("#overlay-graph", Duration::from_secs(5));
    assert!(s.displayed(&graph).unwrap());
}

/// Waits until the servent at `addr` lists `n` neighbours, each with its QRP table
/// received (so a search through them is answered by every one of them).
fn wait_linked_with_tables(addr: SocketAddr, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = http_json(addr, "GET", "/status", None).map(|(_, v)| v);
        let ready = status.as_ref().is_ok_and(|st| {
            st["neighbours"].as_array().is_some_and(|ns| {
                ns.len() == n && ns.iter().all(|x| x["qrp_table"]["set"].as_u64() > Some(0))
            })
        });
        if ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{addr}: not {n} neighbours with QRP tables within 30 s: {status:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `servent demo --stay` (default options): after its tour the mesh stays up, it prints
/// the address of servent 0's page, the page and the API answer there with the mesh's
/// links, and SIGTERM ends it cleanly (every servent says Bye).
#[test]
fn demo_stay_keeps_the_mesh_up_and_serves_the_page() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["demo", "--stay", "--dir"])
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (rx, seen) = watch_stdout(&mut child, |line| {
        let addr = line.trim().strip_prefix("http://")?.strip_suffix('/')?;
        Some(addr.to_owned())
    });
    let mut running = Running(child);
    let printed = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| {
            panic!(
                "no page address within 120 s; printed:\n{}",
                seen.lock().unwrap()
            )
        });
    let addr: SocketAddr = printed.parse().unwrap();
    assert!(addr.ip().is_loopback(), "{addr}");

    let (status, head, page) =
        http_request(addr, "GET", "/", "Accept: text/html\r\n", b"").unwrap();
    let page = String::from_utf8_lossy(&page);
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(page.contains("id=\"search-pattern\""), "{page}");

    let (status, st) = http_json(addr, "GET", "/api/v1/status", None).unwrap();
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["listen"], addr.to_string(), "{st}");
    let links = st["neighbours"].as_array().map_or(0, Vec::len);
    assert!(links >= 2, "servent 0 still linked into the mesh: {st}");

    let pid = running.0.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(st) = running.0.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "demo still running 30 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit}");
    // The reader thread sees EOF once the process is gone; its log then holds everything.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen.lock().unwrap().contains("all servents said Bye") {
        assert!(
            Instant::now() < deadline,
            "no goodbye printed:\n{}",
            seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A source that lies: it serves `bytes` for any path (HEAD: their length, GET: the range
/// asked, 206) without naming a SHA-1, one request per connection.
fn lying_source(bytes: Vec<u8>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let bytes = std::sync::Arc::new(bytes);
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { break };
            let bytes = std::sync::Arc::clone(&bytes);
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut head = String::new();
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                    head.push_str(&line.to_ascii_lowercase());
                    line.clear();
                }
                let len = bytes.len();
                let (start, end) = head
                    .lines()
                    .find_map(|l| l.strip_prefix("range: bytes="))
                    .and_then(|r| {
                        let (a, b) = r.trim().split_once('-')?;
                        let a: usize = a.parse().ok()?;
                        let b: usize = b.parse().map_or(len - 1, |b: usize| b.min(len - 1));
                        (a <= b).then_some((a, b + 1))
                    })
                    .unwrap_or((0, len));
                let _ = if head.starts_with("head ") {
                    write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                    )
                } else {
                    write!(
                        conn,
                        "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{len}\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        end - 1,
                        end - start
                    )
                    .and_then(|()| conn.write_all(&bytes[start..end]))
                };
            });
        }
    });
    addr
}

/// The page is honest about a failure: a magnet pasted into the Downloads tab whose only
/// source serves other bytes ends `failed` with the verdict `mismatch` and a reason shown,
/// and nothing appears under the file's name in the download directory.
#[test]
fn browser_shows_a_sha1_mismatch_as_a_failed_download() {
    let Some(browser) = browser_or_skip("browser_shows_a_sha1_mismatch_as_a_failed_download")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let downloads = tmp.path().join("downloads");
    let (_a, a) = serve(
        &tmp.path().join("data"),
        &["--download-dir".as_ref(), downloads.as_os_str()],
    );
    let wanted = content(200_000, 7);
    let served = content(200_000, 8);
    let liar = lying_source(served);
    let name = "fedora-40-x86_64.iso";
    let urn = hash::urn(&hash::sha1_reader(&wanted[..], |_| {}).unwrap());
    let magnet = format!(
        "magnet:?xt={urn}&dn={name}&xl={}&xs=http://{liar}/uri-res/N2R%3F{urn}",
        wanted.len()
    );

    let mut s = Session::start(&browser).expect("a headless chromium session");
    let _ = std::fs::remove_file(screenshot_dir().join("failed-mismatch.png"));
    s.screenshot_on_failure(screenshot_dir().join("failed-mismatch.png"));
    s.goto(&format!("http://{a}/")).unwrap();
    s.click(&s.find("#tab-downloads", Duration::from_secs(10)))
        .unwrap();
    s.type_into(&s.find("#magnet-input", Duration::from_secs(1)), &magnet)
        .unwrap();
    s.click(&s.find("#magnet-go", Duration::from_secs(1)))
        .unwrap();
    let failed = s.wait(
        Duration::from_secs(30),
        "the download failed with the verdict mismatch",
        |s| {
            let r = rows(
                s,
                "#download-list .download[data-id]",
                &["name", "state", "verdict", "error"],
            )?;
            let failed = r
                .iter()
                .find(|d| d["name"] == name && d["verdict"] == "mismatch");
            Ok(failed.cloned().ok_or_else(|| Value::from(r).to_string()))
        },
    );
    assert_eq!(failed["state"], "failed", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("mismatch")),
        "the reason shown: {failed}"
    );
    s.screenshot(&screenshot_dir().join("mismatch.png"))
        .unwrap();
    assert!(
        !downloads.join(name).exists(),
        "nothing put in place under the file's name"
    );
}
