//! The churn run's searches: each one a separate `servent search --json` process joined
//! through a live origin, found when a QueryHit for the wanted file comes back within the
//! search timeout; a few run at once on worker threads.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Stop;

/// Beyond the search's own timeout, how long a `servent search` process may take to start,
/// join and print before it is killed and counted as failed.
const SEARCH_GRACE: Duration = Duration::from_secs(15);
/// Most output read from one search: a few JSON lines are expected.
const MAX_SEARCH_OUTPUT: u64 = 1 << 20;
/// How often a running search is checked for its exit.
const POLL: Duration = Duration::from_millis(20);

/// One search: from which servent, for which file (held by another servent).
#[derive(Debug, Clone)]
pub struct Plan {
    pub origin: usize,
    pub origin_addr: SocketAddr,
    pub holder: usize,
    pub file: String,
}

/// How one search ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A QueryHit for the file arrived in time.
    Found,
    /// The search ran but no hit for the file came back.
    NoHit,
    /// The search process failed (could not join, crashed, hung): its first stderr line.
    Failed(String),
}

/// A search process, killed if still running when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs every plan, `parallel` at a time; `on_done(done, found)` after each one.
pub fn run_all(
    bin: &Path,
    plans: &[Plan],
    timeout: Duration,
    parallel: usize,
    stop: &Stop,
    mut on_done: impl FnMut(usize, usize),
) -> anyhow::Result<Vec<Outcome>> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; plans.len()];
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, plans.len().max(1)) {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || loop {
                if stop.is_set() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(plan) = plans.get(i) else { break };
                if tx.send((i, run_one(bin, plan, timeout, stop))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let (mut done, mut found) = (0, 0);
        for (i, outcome) in rx {
            done += 1;
            found += usize::from(outcome == Outcome::Found);
            outcomes[i] = Some(outcome);
            on_done(done, found);
        }
    });
    stop.check()?;
    Ok(outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Outcome::Failed("not run".into())))
        .collect())
}

/// Runs one `servent search` process to its end (bounded) and reads its hits.
fn run_one(bin: &Path, plan: &Plan, timeout: Duration, stop: &Stop) -> Outcome {
    let spawned = Command::new(bin)
        .arg("search")
        .arg(&plan.file)
        .args(["--peer", &plan.origin_addr.to_string()])
        .args(["--timeout", &format!("{}ms", timeout.as_millis())])
        .arg("--json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => Running(c),
        Err(e) => return Outcome::Failed(format!("starting servent search: {e}")),
    };
    let out = reader(child.0.stdout.take());
    let err = reader(child.0.stderr.take());
    let deadline = Instant::now() + timeout + SEARCH_GRACE;
    let status = loop {
        match child.0.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline && !stop.is_set() => std::thread::sleep(POLL),
            _ => break None,
        }
    };
    drop(child); // kills it if it is still running, which ends the readers
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    let Some(status) = status else {
        return Outcome::Failed(format!("no exit within {:?}", timeout + SEARCH_GRACE));
    };
    if !status.success() {
        // anyhow's "Error: ..." line (a backtrace may follow it), else the last line.
        let why = err
            .lines()
            .find(|l| l.starts_with("Error:"))
            .or_else(|| err.lines().rfind(|l| !l.trim().is_empty()))
            .unwrap_or("");
        return Outcome::Failed(format!("{status}: {why}"));
    }
    let found = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .any(|v| v.get("name").and_then(Value::as_str) == Some(plan.file.as_str()));
    if found {
        Outcome::Found
    } else {
        Outcome::NoHit
    }
}

/// Reads a pipe to its end (bounded) on a thread.
fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(p) = pipe {
            let mut bytes = Vec::new();
            let _ = p.take(MAX_SEARCH_OUTPUT).read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}
