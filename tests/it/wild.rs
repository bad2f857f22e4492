//! servent run the way users run it: separate processes of the real binary, default
//! options, one command after another. A raw test peer on the other end of the link reads
//! the descriptor IDs the processes send.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The Query ID every `servent search` sent while the RNG defaulted to seed 0.
const SEED_ZERO_QUERY_ID: &str = "6C3B9AA767F745B5FFC0D8BA5FA54600";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_servent"))
}

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `servent serve` with default options on a port the OS picks; returns it with
/// the address it printed.
fn serve(dir: &Path, share: Option<&Path>, peer: Option<SocketAddr>) -> (Running, SocketAddr) {
    let mut cmd = bin();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(s) = share {
        cmd.arg("--share").arg(s);
    }
    if let Some(p) = peer {
        cmd.args(["--peer", &p.to_string()]);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    // "servent <id> listening on 127.0.0.1:PORT (status: ...)", read on a thread so a
    // servent that never prints cannot hang the test.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.split(" listening on ").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("").to_owned();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("servent serve printed its address");
    (running, addr.parse().unwrap())
}

/// Accepts one Gnutella 0.6 connection on `listener` as a plain (uncompressed) servent
/// and returns the first descriptor of `payload_type` the other side sends: its 16-byte
/// descriptor ID in hex.
fn first_descriptor_id(listener: &TcpListener, payload_type: u8, within: Duration) -> String {
    let (s, _) = listener.accept().unwrap();
    first_descriptor_on(s, payload_type, within)
}

/// Handshakes on an accepted connection and returns the first descriptor ID of
/// `payload_type` it carries.
fn first_descriptor_on(mut s: TcpStream, payload_type: u8, within: Duration) -> String {
    let deadline = Instant::now() + within;
    s.set_read_timeout(Some(within)).unwrap();
    read_block(&mut s);
    s.write_all(b"GNUTELLA/0.6 200 OK\r\nUser-Agent: wild-test/1\r\nX-Ultrapeer: True\r\n\r\n")
        .unwrap();
    read_block(&mut s);
    loop {
        assert!(
            Instant::now() < deadline,
            "no descriptor of type {payload_type:#04x}"
        );
        let mut header = [0u8; 23];
        s.read_exact(&mut header).unwrap();
        let len = u32::from_le_bytes([header[19], header[20], header[21], header[22]]);
        assert!(len <= 65_536, "payload length {len}");
        let mut payload = vec![0u8; len as usize];
        s.read_exact(&mut payload).unwrap();
        if header[16] == payload_type {
            return header[..16].iter().map(|b| format!("{b:02X}")).collect();
        }
    }
}

/// Reads one handshake block (up to the blank line), at most 4 KiB.
fn read_block(s: &mut TcpStream) {
    let mut block = Vec::new();
    let mut byte = [0u8; 1];
    while !block.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        block.push(byte[0]);
        assert!(block.len() < 4096, "handshake block too long");
    }
}

#[test]
fn servents_started_with_default_options_send_different_descriptor_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let peer = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = peer.local_addr().unwrap();

    // Two searches, each its own process with default options: two Query IDs.
    let mut query_ids = Vec::new();
    for _ in 0..2 {
        let search = bin()
            .args([
                "search",
                "beatles",
                "--peer",
                &addr.to_string(),
                "--timeout",
                "1s",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let _search = Running(search);
        query_ids.push(first_descriptor_id(&peer, 0x80, Duration::from_secs(20)));
    }
    assert_ne!(query_ids[0], query_ids[1], "two searches, one Query ID");
    assert!(!query_ids.contains(&SEED_ZERO_QUERY_ID.to_owned()));

    // Two servents, each its own process: their keep-alive Pings carry different IDs.
    // Both links are handshaken at once (each servent gives up on a silent handshake).
    let (_a, _) = serve(&tmp.path().join("a"), None, Some(addr));
    let (_b, _) = serve(&tmp.path().join("b"), None, Some(addr));
    let (tx, rx) = mpsc::channel();
    for _ in 0..2 {
        let (s, _) = peer.accept().unwrap();
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(first_descriptor_on(s, 0x00, Duration::from_secs(60)));
        });
    }
    let wait = Duration::from_secs(70);
    let ping_a = rx
        .recv_timeout(wait)
        .expect("a keep-alive Ping from one servent");
    let ping_b = rx
        .recv_timeout(wait)
        .expect("a keep-alive Ping from the other");
    assert_ne!(ping_a, ping_b, "two servents, one Ping ID");
}

#[test]
fn ten_searches_in_a_row_through_one_servent_all_find_their_files() {
    let tmp = tempfile::tempdir().unwrap();
    let share = tmp.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    for (name, len) in [
        ("The Beatles - Help.mp3", 40_000),
        ("linux-6.1-amd64.iso", 90_000),
        ("quarterly report 2026.pdf", 10_000),
    ] {
        std::fs::write(share.join(name), vec![7u8; len]).unwrap();
    }
    let (_servent, addr) = serve(&tmp.path().join("data"), Some(&share), None);
    // Different keywords and the same ones again, as a user types them.
    let searches = [
        ("beatles", "The Beatles - Help.mp3"),
        ("linux*.iso", "linux-6.1-amd64.iso"),
        ("beatles", "The Beatles - Help.mp3"),
        ("report", "quarterly report 2026.pdf"),
        ("beat?es", "The Beatles - Help.mp3"),
        ("linux", "linux-6.1-amd64.iso"),
        ("*.mp3", "The Beatles - Help.mp3"),
        ("beatles", "The Beatles - Help.mp3"),
        ("report", "quarterly report 2026.pdf"),
        ("linux*.iso", "linux-6.1-amd64.iso"),
    ];
    for (n, (pattern, want)) in searches.iter().enumerate() {
        let out = bin()
            .args([
                "search",
                pattern,
                "--peer",
                &addr.to_string(),
                "--json",
                "--timeout",
                "3s",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_owned))
            .collect();
        assert!(
            names.iter().any(|got| got == want),
            "search {} ({pattern:?}) found {names:?}",
            n + 1
        );
    }
}
