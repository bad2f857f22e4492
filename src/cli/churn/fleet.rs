//! The servents of a churn run: separate `servent serve` processes on 127.0.0.1, each with
//! its own data directory and shared files, their `/status` read over HTTP, SIGKILL, and
//! the guard that kills every child when the run ends, however it ends.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use serde_json::Value;

use super::Stop;

/// How long a starting servent may take to print its address: it scans two small files
/// and binds a port, far less on any machine that can run the experiment.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Connect, write and each read of one `/status` request: the servent answers from memory.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);
/// Largest `/status` document read: 40 neighbours and 64 queries are ~60 KiB.
const MAX_STATUS_BYTES: u64 = 4 << 20;
/// Words that make each shared file's name unique and searchable (with the servent's index).
const WORDS: [&str; 16] = [
    "amber", "birch", "cobalt", "dune", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
    "kelp", "lumen", "mist", "nectar", "onyx", "pine",
];

/// One `servent serve` process.
pub struct Servent {
    pub index: usize,
    pub addr: SocketAddr,
    /// Names of the files it shares (unique across the fleet).
    pub files: Vec<String>,
    /// `None` once killed.
    child: Option<Child>,
    dir: PathBuf,
}

impl Servent {
    pub fn is_live(&self) -> bool {
        self.child.is_some()
    }
}

/// What one servent's `/status` says about its overlay links.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub index: usize,
    /// Neighbours (links open now); 0 when `/status` did not answer.
    pub degree: usize,
    /// Entries in its host cache, when `/status` lists it.
    pub host_cache: Option<usize>,
    /// Descriptors dropped, by reason (cumulative since it started).
    pub dropped: Vec<(String, u64)>,
    /// Its neighbours' listening addresses (as they gave them, else the link's address).
    pub neighbours: Vec<SocketAddr>,
}

/// Every servent started, live or killed; dropping it kills the live ones and removes the
/// work directory (unless asked to keep it).
pub struct Fleet {
    pub servents: Vec<Servent>,
    root: PathBuf,
    keep: bool,
}

impl Fleet {
    /// A fresh work directory under the system's temp dir.
    pub fn create(keep: bool) -> anyhow::Result<Fleet> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let root =
            std::env::temp_dir().join(format!("servent-churn-{}-{nanos:09}", std::process::id()));
        std::fs::create_dir(&root).with_context(|| format!("creating {}", root.display()))?;
        Ok(Fleet {
            servents: Vec::new(),
            root,
            keep,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts servent `index` linked to `peers` and waits for the address it prints.
    pub fn start(
        &mut self,
        bin: &Path,
        peers: &[SocketAddr],
        min_peers: usize,
        max_peers: usize,
        stop: &Stop,
    ) -> anyhow::Result<SocketAddr> {
        let index = self.servents.len();
        let dir = self.root.join(format!("servent-{index}"));
        let share = dir.join("share");
        std::fs::create_dir_all(&share)?;
        let files: Vec<String> = [2 * index, 2 * index + 1]
            .iter()
            .map(|w| format!("track-{index}-{}.ogg", WORDS[w % WORDS.len()]))
            .collect();
        for name in &files {
            // Distinct contents, so distinct SHA-1s.
            std::fs::write(share.join(name), format!("churn file {name}\n").repeat(64))?;
        }
        let log = File::create(dir.join("serve.log"))?;
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("data"))
            .arg("--share")
            .arg(&share)
            // A flat mesh of ultrapeers: what the churn test measures is how links heal.
            .args(["--role", "ultrapeer"])
            .args(["--min-peers", &min_peers.to_string()])
            .args(["--max-peers", &max_peers.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        for p in peers {
            cmd.args(["--peer", &p.to_string()]);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {} serve", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        self.servents.push(Servent {
            index,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            files,
            child: Some(child),
            dir,
        });
        let addr = self.read_address(index, stdout, stop)?;
        self.servents[index].addr = addr;
        Ok(addr)
    }

    /// Reads "servent <id> listening on ADDR (status: ...)" on a thread (which then keeps
    /// draining stdout), bounded by [`START_TIMEOUT`].
    fn read_address(
        &mut self,
        index: usize,
        stdout: std::process::ChildStdout,
        stop: &Stop,
    ) -> anyhow::Result<SocketAddr> {
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
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            stop.check()?;
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(text) => {
                    return text
                        .parse()
                        .with_context(|| format!("servent {index} printed address {text:?}"))
                }
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {
                    self.check_running()?
                }
                Err(_) => bail!(
                    "servent {index} printed no address within {START_TIMEOUT:?}{}",
                    self.log_tail(index)
                ),
            }
        }
    }

    /// Fails when a servent we did not kill has exited (a crash is a finding, not noise).
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        for i in 0..self.servents.len() {
            let exited = match self.servents[i].child.as_mut() {
                Some(c) => c.try_wait()?,
                None => None,
            };
            if let Some(status) = exited {
                self.servents[i].child = None;
                bail!(
                    "servent {i} exited on its own ({status}){}",
                    self.log_tail(i)
                );
            }
        }
        Ok(())
    }

    /// The last lines of a servent's log, for an error message.
    fn log_tail(&self, index: usize) -> String {
        let path = self.servents[index].dir.join("serve.log");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n  ");
        format!("; last lines of {}:\n  {tail}", path.display())
    }

    /// SIGKILLs servent `index` and reaps it.
    pub fn kill(&mut self, index: usize) -> anyhow::Result<()> {
        if let Some(mut c) = self.servents[index].child.take() {
            c.kill()
                .with_context(|| format!("killing servent {index}"))?;
            c.wait()?;
        }
        Ok(())
    }

    pub fn live(&self) -> impl Iterator<Item = &Servent> {
        self.servents.iter().filter(|s| s.is_live())
    }

    /// Every live servent's `/status`, one after another.
    pub fn snapshots(&self) -> Vec<Snapshot> {
        self.live()
            .map(|s| match status(s.addr) {
                Ok(v) => snapshot_of(s.index, &v),
                Err(_) => Snapshot {
                    index: s.index,
                    degree: 0,
                    host_cache: None,
                    dropped: Vec::new(),
                    neighbours: Vec::new(),
                },
            })
            .collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for s in &mut self.servents {
            if let Some(mut c) = s.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn snapshot_of(index: usize, v: &Value) -> Snapshot {
    let dropped = v
        .pointer("/descriptors/dropped")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, n)| Some((k.clone(), n.as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    let links = v.get("neighbours").and_then(Value::as_array);
    let neighbours = links
        .into_iter()
        .flatten()
        .filter_map(|n| {
            let listen = n.get("listen").and_then(Value::as_str);
            listen
                .or_else(|| n.get("address").and_then(Value::as_str))?
                .parse()
                .ok()
        })
        .collect();
    Snapshot {
        index,
        degree: links.map_or(0, Vec::len),
        host_cache: v
            .get("host_cache")
            .and_then(Value::as_u64)
            .map(|n| n as usize),
        dropped,
        neighbours,
    }
}

/// `GET /status` over HTTP/1.0 (so the reply is not chunked and the servent closes).
pub fn status(addr: SocketAddr) -> anyhow::Result<Value> {
    let mut s = TcpStream::connect_timeout(&addr, STATUS_TIMEOUT)?;
    s.set_read_timeout(Some(STATUS_TIMEOUT))?;
    s.set_write_timeout(Some(STATUS_TIMEOUT))?;
    write!(s, "GET /status HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut reply = Vec::new();
    s.take(MAX_STATUS_BYTES).read_to_end(&mut reply)?;
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no end of the reply head")?;
    let head = String::from_utf8_lossy(&reply[..split]);
    let status_line = head.lines().next().unwrap_or("");
    if status_line.split_whitespace().nth(1) != Some("200") {
        bail!("/status of {addr}: {status_line}");
    }
    Ok(serde_json::from_slice(&reply[split + 4..])?)
}
