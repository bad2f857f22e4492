//! The web page in a real browser: headless Chromium driven over WebDriver opens a
//! servent's page, and what a person does there (type a search, click, watch) is checked
//! against what the servents really did.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use super::webdriver::{Browser, Session};

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
