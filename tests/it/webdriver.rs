//! A small W3C WebDriver client for the browser tests: starts chromedriver on a loopback
//! port it picks itself (`--port=0`, read back from what it prints) with headless Chromium
//! behind it, and speaks WebDriver's JSON over
//! HTTP/1.1 (std TcpStream, one connection per command, every call bounded by a timeout).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key W3C WebDriver names an element reference by (fixed by the specification).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One WebDriver command may take this long: a navigation waits for the page's load event,
/// and a first session start on a busy 2-core machine takes a few seconds.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// How long chromedriver may take to answer `/status` after it is spawned.
const DRIVER_START: Duration = Duration::from_secs(20);

/// Between two looks at the page while waiting for a condition: short enough that a wait
/// ends soon after the page changes, long enough not to keep a core busy.
const POLL_EVERY: Duration = Duration::from_millis(100);

/// What a WebDriver command can fail with.
#[derive(Debug)]
pub enum WdError {
    /// The connection or the HTTP exchange failed.
    Io(String),
    /// chromedriver answered with a WebDriver error (`no such element`, ...).
    Driver {
        /// The WebDriver error code.
        error: String,
        /// Its message.
        message: String,
    },
}

impl std::fmt::Display for WdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WdError::Io(e) => write!(f, "webdriver i/o: {e}"),
            WdError::Driver { error, message } => write!(f, "webdriver {error}: {message}"),
        }
    }
}

/// The browser's binaries, found on PATH (or named by `CHROMIUM` / `CHROMEDRIVER`).
pub struct Browser {
    /// The chromium executable.
    pub chromium: PathBuf,
    /// The chromedriver executable.
    pub chromedriver: PathBuf,
}

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

impl Browser {
    /// Finds chromium and chromedriver; `Err` names what is missing.
    pub fn find() -> Result<Browser, String> {
        let pick = |var: &str, names: &[&str]| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_file())
                .or_else(|| on_path(names))
        };
        let chromium = pick(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let chromedriver = pick("CHROMEDRIVER", &["chromedriver"]);
        match (chromium, chromedriver) {
            (Some(chromium), Some(chromedriver)) => Ok(Browser {
                chromium,
                chromedriver,
            }),
            (c, d) => Err(format!(
                "headless browser test needs chromium and chromedriver on PATH \
                 (Debian: apt-get install chromium chromium-driver); missing:{}{}",
                if c.is_none() { " chromium" } else { "" },
                if d.is_none() { " chromedriver" } else { "" },
            )),
        }
    }
}

/// What one look at the page found: `Ok(Ok(value))` the thing waited for, `Ok(Err(seen))`
/// not yet (what was there instead, for the message if time runs out).
pub type Look<T> = Result<Result<T, String>, WdError>;

/// A running chromedriver with one headless Chromium session; both end when dropped.
pub struct Session {
    driver: Child,
    addr: SocketAddr,
    id: String,
    /// Where a wait that runs out saves the page as it was (a CI artifact).
    failure_shot: Option<PathBuf>,
    _profile: tempfile::TempDir,
}

/// An element of the current page, as WebDriver refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element(String);

/// What chromedriver prints once it listens, followed by the port and a full stop.
const STARTED_ON_PORT: &str = "started successfully on port ";

/// Spawns chromedriver on a port of its own choosing and returns it with that port. A
/// port found free by binding and releasing it could be taken by another test's servent
/// before chromedriver binds it (it then exits 1); `--port=0` leaves the choice to the
/// kernel. What chromedriver printed is in the error when it exits or stays silent.
fn spawn_driver(chromedriver: &Path) -> Result<(Child, u16), WdError> {
    let mut driver = Command::new(chromedriver)
        .arg("--port=0")
        .arg("--allowed-ips=127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| WdError::Io(format!("spawning chromedriver: {e}")))?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for out in [
        driver
            .stdout
            .take()
            .map(|o| Box::new(o) as Box<dyn Read + Send>),
        driver
            .stderr
            .take()
            .map(|e| Box::new(e) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        // Drains the pipe for the driver's whole life so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let deadline = Instant::now() + DRIVER_START;
    let mut said = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.split(STARTED_ON_PORT).nth(1) {
                    if let Ok(port) = rest.trim_end_matches('.').trim().parse::<u16>() {
                        return Ok((driver, port));
                    }
                }
                said.push(line);
            }
            Err(_) => {
                let st = driver.try_wait().ok().flatten();
                let _ = driver.kill();
                let _ = driver.wait();
                return Err(WdError::Io(format!(
                    "chromedriver {} without saying its port; it said: {}",
                    st.map_or(format!("silent for {DRIVER_START:?}"), |s| format!(
                        "exited ({s})"
                    )),
                    said.join(" | ")
                )));
            }
        }
    }
}

/// One HTTP/1.1 request with `Connection: close` and `headers` (lines ending in CRLF);
/// returns the status, the head (lower-cased) and the body. Bounded by [`CALL_TIMEOUT`].
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    body: &[u8],
) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, CALL_TIMEOUT)?;
    s.set_read_timeout(Some(CALL_TIMEOUT))?;
    s.set_write_timeout(Some(CALL_TIMEOUT))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    s.write_all(&req)?;
    read_response(&mut s)
}

/// One HTTP/1.1 exchange (a JSON body, if any, sent as `application/json`); returns the
/// status and the JSON body (`null` when empty).
pub fn http_json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), WdError> {
    let payload = body.map(Value::to_string).unwrap_or_default();
    let headers = if body.is_some() {
        "Content-Type: application/json; charset=utf-8\r\n"
    } else {
        ""
    };
    let (status, _, body) = http_request(addr, method, path, headers, payload.as_bytes())
        .map_err(|e| WdError::Io(format!("{method} {path}: {e}")))?;
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            WdError::Io(format!(
                "{method} {path}: not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            ))
        })?
    };
    Ok((status, value))
}

/// Reads a response: head, then a body of `Content-Length` bytes, chunks, or up to EOF.
fn read_response(s: &mut TcpStream) -> std::io::Result<(u16, String, Vec<u8>)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(bad("connection closed before the response head"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
    };
    let mut body = buf.split_off(head_end);
    if let Some(len) = header("content-length:").and_then(|v| v.parse::<usize>().ok()) {
        while body.len() < len {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err(bad("connection closed inside the body"));
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len);
        return Ok((status, head, body));
    }
    s.read_to_end(&mut body)?;
    if header("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
        body = dechunk(&body).ok_or_else(|| bad("bad chunked body"))?;
    }
    Ok((status, head, body))
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = body.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&body[..end]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        body = body.get(end + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

impl Session {
    /// Starts chromedriver on a loopback port and a headless Chromium session with a
    /// fresh profile, a 1280x900 window.
    pub fn start(browser: &Browser) -> Result<Session, WdError> {
        let profile = tempfile::tempdir().map_err(|e| WdError::Io(e.to_string()))?;
        let (driver, port) = spawn_driver(&browser.chromedriver)?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut session = Session {
            driver,
            addr,
            id: String::new(),
            failure_shot: None,
            _profile: profile,
        };
        session.wait_ready()?;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser.chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", session._profile.path().display()),
                ],
            },
        }}});
        let v = session.raw("POST", "/session", Some(&caps))?;
        session.id = v["sessionId"]
            .as_str()
            .ok_or_else(|| WdError::Io(format!("no sessionId in {v}")))?
            .to_owned();
        Ok(session)
    }

    /// Polls chromedriver's `/status` until it says ready (it takes a moment to bind).
    fn wait_ready(&mut self) -> Result<(), WdError> {
        let deadline = Instant::now() + DRIVER_START;
        loop {
            if let Ok((200, v)) = http_json(self.addr, "GET", "/status", None) {
                if v["value"]["ready"] == true {
                    return Ok(());
                }
            }
            if let Ok(Some(st)) = self.driver.try_wait() {
                return Err(WdError::Io(format!("chromedriver exited: {st}")));
            }
            if Instant::now() > deadline {
                return Err(WdError::Io(format!(
                    "chromedriver not ready on {} within {DRIVER_START:?}",
                    self.addr
                )));
            }
            std::thread::sleep(POLL_EVERY);
        }
    }

    /// One command; a WebDriver error (`{"value": {"error": ...}}`) becomes `Err`.
    fn raw(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, WdError> {
        let (status, v) = http_json(self.addr, method, path, body)?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if status >= 400 || value.get("error").is_some_and(Value::is_string) {
            return Err(WdError::Driver {
                error: value["error"].as_str().unwrap_or("?").to_owned(),
                message: value["message"]
                    .as_str()
                    .unwrap_or(&v.to_string())
                    .chars()
                    .take(500)
                    .collect(),
            });
        }
        Ok(if path == "/session" {
            v["value"].clone()
        } else {
            value
        })
    }

    /// A command of this session: `path` is relative to `/session/{id}`.
    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        self.raw(
            method,
            &format!("/session/{}{path}", self.id),
            body.as_ref(),
        )
    }

    /// Opens `url` and waits for its load event.
    pub fn goto(&self, url: &str) -> Result<(), WdError> {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .map(drop)
    }

    /// The elements matching a CSS selector now (maybe none).
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>, WdError> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The first element matching a CSS selector inside `within` now, if any.
    pub fn find_in(&self, within: &Element, css: &str) -> Result<Option<Element>, WdError> {
        let v = self.cmd(
            "POST",
            &format!("/element/{}/elements", within.0),
            Some(json!({"using": "css selector", "value": css})),
        )?;
        Ok(v.as_array()
            .and_then(|a| a.first())
            .and_then(|e| e[ELEMENT_KEY].as_str())
            .map(|s| Element(s.to_owned())))
    }

    /// The first element matching a CSS selector; waits up to `within` for it to exist.
    pub fn find(&self, css: &str, within: Duration) -> Element {
        self.wait(within, &format!("an element {css:?}"), |s| {
            Ok(s.find_all(css)?
                .into_iter()
                .next()
                .ok_or_else(|| "none".to_owned()))
        })
    }

    /// From now on a wait that runs out first saves a screenshot to `path`.
    pub fn screenshot_on_failure(&mut self, path: PathBuf) {
        self.failure_shot = Some(path);
    }

    /// Clicks an element (WebDriver scrolls it into view first).
    pub fn click(&self, e: &Element) -> Result<(), WdError> {
        self.cmd("POST", &format!("/element/{}/click", e.0), Some(json!({})))
            .map(drop)
    }

    /// Clears a text input, then types `text` into it.
    pub fn type_into(&self, e: &Element, text: &str) -> Result<(), WdError> {
        self.cmd("POST", &format!("/element/{}/clear", e.0), Some(json!({})))?;
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )
        .map(drop)
    }

    /// The element's rendered text (as a person sees it).
    pub fn text(&self, e: &Element) -> Result<String, WdError> {
        let v = self.cmd("GET", &format!("/element/{}/text", e.0), None)?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// A DOM property of the element (`value`, `max`, ...), as JSON.
    pub fn property(&self, e: &Element, name: &str) -> Result<Value, WdError> {
        self.cmd("GET", &format!("/element/{}/property/{name}", e.0), None)
    }

    /// An HTML attribute of the element, if present.
    pub fn attribute(&self, e: &Element, name: &str) -> Result<Option<String>, WdError> {
        let v = self.cmd("GET", &format!("/element/{}/attribute/{name}", e.0), None)?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// Whether the element is shown (not `display: none`, not hidden by an ancestor).
    pub fn displayed(&self, e: &Element) -> Result<bool, WdError> {
        let v = self.cmd("GET", &format!("/element/{}/displayed", e.0), None)?;
        Ok(v == true)
    }

    /// Picks the `<option>` of a `<select>` whose value is `value`, as a person would (a
    /// click on it), so the page sees a change event.
    pub fn select_value(&self, select: &Element, value: &str) -> Result<(), WdError> {
        let css = format!("option[value={value:?}]");
        let option = self.find_in(select, &css)?.ok_or_else(|| WdError::Driver {
            error: "no such element".into(),
            message: format!("no {css} in the select"),
        })?;
        self.click(select)?;
        self.click(&option)
    }

    /// Runs a synchronous script in the page and returns its result.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, WdError> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Saves a PNG of the viewport to `path` (its folder made if needed).
    pub fn screenshot(&self, path: &Path) -> Result<(), WdError> {
        let v = self.cmd("GET", "/screenshot", None)?;
        let png = data_encoding::BASE64
            .decode(v.as_str().unwrap_or_default().as_bytes())
            .map_err(|e| WdError::Io(format!("screenshot not base64: {e}")))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| WdError::Io(e.to_string()))?;
        }
        std::fs::write(path, png).map_err(|e| WdError::Io(e.to_string()))
    }

    /// Polls `look` until it finds what it waits for, up to `within`; when time runs out,
    /// saves the failure screenshot (if set) and panics naming `what`, what the last look
    /// saw, the last WebDriver error and the last `#error` banner the page showed. An element that went stale while the page redrew
    /// counts as "not yet".
    pub fn wait<T>(
        &self,
        within: Duration,
        what: &str,
        mut look: impl FnMut(&Session) -> Look<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        let mut last_error = None;
        let mut seen = String::from("nothing yet");
        // The page hides its banner after a while: keep the last one shown meanwhile.
        let mut banner = None;
        loop {
            match look(self) {
                Ok(Ok(v)) => return v,
                Ok(Err(s)) => seen = s,
                Err(e) => last_error = Some(e),
            }
            banner = self.page_error().or(banner);
            if Instant::now() > deadline {
                let banner = banner.unwrap_or_default();
                let shot = match &self.failure_shot {
                    Some(p) => match self.screenshot(p) {
                        Ok(()) => format!("page saved to {}", p.display()),
                        Err(e) => format!("no screenshot: {e}"),
                    },
                    None => String::new(),
                };
                panic!(
                    "waited {within:?} for {what}; last seen: {seen}; last error: {}; \
                     #error banner: {banner:?}; {shot}",
                    last_error.map_or("none".into(), |e| e.to_string())
                );
            }
            std::thread::sleep(POLL_EVERY);
        }
    }

    /// The text of the page's `#error` banner, when it shows one.
    pub fn page_error(&self) -> Option<String> {
        let e = self.find_all("#error").ok()?.into_iter().next()?;
        if !self.displayed(&e).ok()? {
            return None;
        }
        Some(self.text(&e).ok()?).filter(|t| !t.trim().is_empty())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.id.is_empty() {
            let _ = self.raw("DELETE", &format!("/session/{}", self.id), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
