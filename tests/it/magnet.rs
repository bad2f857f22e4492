//! Magnet links the way users run them: separate `servent serve --share` processes share a
//! file, `servent search` prints its magnet, and `servent get 'magnet:?...'` downloads it
//! from the magnet's sources, verified by the magnet's SHA-1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use servent::download::magnet::{n2r_url, Magnet};
use servent::library::hash;

pub(crate) fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_servent"))
}

/// A child process killed when the test ends, however it ends.
pub(crate) struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `servent serve --share <share>` with default options on a port the OS picks;
/// returns it with the address it printed.
pub(crate) fn serve_sharing(data: &Path, share: &Path) -> (Running, SocketAddr) {
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--share")
        .arg(share)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
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

/// Waits until `addr` serves `urn` by hash (its hasher got to the file): the status of
/// `HEAD /uri-res/N2R?<urn>` turns 200. Panics after 30 s.
pub(crate) fn wait_served(addr: SocketAddr, urn: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "HEAD /uri-res/N2R?{urn} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut head = String::new();
        let _ = s.read_to_string(&mut head);
        if head.starts_with("HTTP/1.1 200") {
            return;
        }
        assert!(Instant::now() < deadline, "{addr} never served {urn}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Bytes that differ all along (a wrong chunk cannot pass unnoticed).
fn content(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

#[test]
fn get_a_magnet_from_its_sources_verified_by_its_sha1() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "Live at the BBC (1963) – take 2.ogg";
    let data = content(1_500_000);
    let digest = hash::sha1_reader(&data[..], |_| {}).unwrap();
    let urn = hash::urn(&digest);
    // Two servents share the file.
    let mut servents = Vec::new();
    for n in ["a", "b"] {
        let share = tmp.path().join(format!("share-{n}"));
        std::fs::create_dir_all(&share).unwrap();
        std::fs::write(share.join(name), &data).unwrap();
        servents.push(serve_sharing(&tmp.path().join(format!("data-{n}")), &share));
    }
    for (_, addr) in &servents {
        wait_served(*addr, &urn);
    }
    // The magnet as gtk-gnutella writes it (xt after dn and xl, a bitprint, `?` escaped),
    // with both sources, one as `as` by bitprint (asked by its SHA-1: servent serves no
    // bitprint), and a push:// source we cannot use.
    let tiger = "A".repeat(39);
    let (a, b) = (servents[0].1, servents[1].1);
    let b32 = &urn[9..];
    let link = format!(
        "magnet:?dn={}&xl={}&xt=urn:bitprint:{b32}.{tiger}\
         &xs=http://{a}/uri-res/N2R%3F{urn}&as=http://{b}/uri-res/N2R%3Furn:bitprint:{b32}.{tiger}\
         &xs=push://0123456789ABCDEF0123456789ABCDEF:{a}/uri-res/N2R%3F{urn}",
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC),
        data.len()
    );
    let out_dir = tmp.path().join("downloads");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = bin()
        .args(["get", &link, "--chunk-size", "262144"])
        .current_dir(&out_dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // Saved under the magnet's display name, every byte right, verified by its SHA-1.
    assert_eq!(std::fs::read(out_dir.join(name)).unwrap(), data);
    assert!(
        stdout.contains(&format!("SHA-1 verified, {urn}")),
        "{stdout}"
    );
    for addr in [a, b] {
        assert!(
            stdout.contains(&format!("http://{addr}/uri-res/N2R?{urn}")),
            "{stdout}"
        );
    }
    assert!(
        stderr.contains("push://"),
        "the unusable source is named: {stderr}"
    );

    // A magnet naming another SHA-1 for the same source is refused, nothing put in place.
    let wrong = Magnet::new(
        Some([7u8; 20]),
        Some("wrong.ogg"),
        None,
        vec![format!(
            "http://{a}/get/0/{}",
            percent_encoding::utf8_percent_encode(name, servent::library::hits::PATH_SEGMENT)
        )],
    );
    let out = bin()
        .args(["get", &wrong.to_string()])
        .current_dir(&out_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("serves another file"), "{err}");
    assert!(!out_dir.join("wrong.ogg").exists());
    // Hostile input is a clear error, not a panic.
    let out = bin()
        .args(["get", "magnet:?xt=urn:sha1:%zz"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("percent-encoding"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn search_prints_a_magnet_per_result_that_get_downloads() {
    let tmp = tempfile::tempdir().unwrap();
    let share = tmp.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let data = content(200_000);
    std::fs::write(share.join("quarterly report 2026.pdf"), &data).unwrap();
    let urn = hash::urn(&hash::sha1_reader(&data[..], |_| {}).unwrap());
    let (_servent, addr) = serve_sharing(&tmp.path().join("data"), &share);
    wait_served(addr, &urn);
    let search = |json: bool| {
        let mut cmd = bin();
        cmd.args([
            "search",
            "report",
            "--peer",
            &addr.to_string(),
            "--timeout",
            "3s",
        ]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The table, then the group's magnet under its number.
    let text = search(false);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("1  magnet:?"))
        .unwrap_or_else(|| panic!("no magnet line in:\n{text}"));
    let printed = Magnet::parse(line.trim_start()[1..].trim()).unwrap();
    let want = Magnet::new(
        hash::parse_urn(&urn),
        Some("quarterly report 2026.pdf"),
        Some(data.len() as u64),
        vec![n2r_url(addr, &hash::parse_urn(&urn).unwrap())],
    );
    assert_eq!(printed, want);
    // --json: each hit carries its group's magnet.
    let json = search(true);
    let hit: serde_json::Value = json
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .find(|v: &serde_json::Value| v.get("name").is_some())
        .unwrap_or_else(|| panic!("no hit in:\n{json}"));
    let magnet = hit["magnet"].as_str().expect("a magnet in the hit");
    assert_eq!(Magnet::parse(magnet).unwrap(), want);
    // And that magnet downloads the file.
    let out = bin()
        .args(["get", magnet, "-o"])
        .arg(tmp.path().join("got.pdf"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(tmp.path().join("got.pdf")).unwrap(), data);
}
