//! Known servents to connect to: fed by Pongs, `X-Try` headers and neighbours'
//! `Listen-IP`; bounded; persisted in the data directory so a restarted servent rejoins
//! without `--peer`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Hosts remembered at most; the least recently seen go first.
pub(super) const HOST_CACHE_CAPACITY: usize = 1000;
/// File name of the persisted cache inside the data directory.
pub(super) const HOST_CACHE_FILE: &str = "hosts.txt";

/// Longest back-off of a host that keeps failing: it is still tried now and then (a
/// servent that was down comes back), never hammered.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// Consecutive failed connects after which a host is forgotten (with a 10 s base back-off
/// that is about 10 minutes of trying); a Pong or `X-Try` naming it brings it back.
pub(super) const FORGET_AFTER_FAILURES: u32 = 7;

#[derive(Debug, Clone, Copy)]
struct Entry {
    seen: Duration,
    /// When it last failed or refused us, and how long to leave it alone from then.
    failed_at: Option<(Duration, Duration)>,
    /// Connects that failed in a row (a refusal is not a failure: the host is alive).
    failures: u32,
}

#[derive(Debug, Default)]
pub struct HostCache {
    hosts: HashMap<SocketAddr, Entry>,
    dirty: bool,
}

impl HostCache {
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Records a host seen alive now. Unroutable addresses (port 0, unspecified) are ignored.
    pub fn add(&mut self, addr: SocketAddr, now: Duration) {
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return;
        }
        self.dirty = true;
        let e = self.hosts.entry(addr).or_insert(Entry {
            seen: now,
            failed_at: None,
            failures: 0,
        });
        e.seen = e.seen.max(now);
        if self.hosts.len() > HOST_CACHE_CAPACITY {
            if let Some(oldest) = self
                .hosts
                .iter()
                .min_by_key(|(_, e)| e.seen)
                .map(|(a, _)| *a)
            {
                self.hosts.remove(&oldest);
            }
        }
    }

    /// A connect to `addr` failed (refused at TCP level, timed out, broken handshake):
    /// it waits `backoff`, doubled for each failure in a row up to [`MAX_BACKOFF`], and
    /// is forgotten after [`FORGET_AFTER_FAILURES`].
    pub fn mark_failed(&mut self, addr: SocketAddr, now: Duration, backoff: Duration) {
        let Some(e) = self.hosts.get_mut(&addr) else {
            return;
        };
        e.failures += 1;
        if e.failures >= FORGET_AFTER_FAILURES {
            self.hosts.remove(&addr);
            self.dirty = true;
            return;
        }
        let wait = backoff
            .saturating_mul(1 << (e.failures - 1).min(16))
            .min(MAX_BACKOFF);
        e.failed_at = Some((now, wait));
    }

    /// `addr` answered but refused us (503 full, 409): alive, so no failure is counted;
    /// it waits one `backoff` before the next try.
    pub fn mark_busy(&mut self, addr: SocketAddr, now: Duration, backoff: Duration) {
        if let Some(e) = self.hosts.get_mut(&addr) {
            e.failures = 0;
            e.seen = e.seen.max(now);
            e.failed_at = Some((now, backoff));
        }
    }

    pub fn mark_ok(&mut self, addr: SocketAddr, now: Duration) {
        if let Some(e) = self.hosts.get_mut(&addr) {
            e.failed_at = None;
            e.failures = 0;
            e.seen = now;
        }
    }

    /// Hosts worth a connect attempt now (not waiting out a back-off), most recently seen
    /// first.
    pub fn candidates(&self, now: Duration) -> Vec<SocketAddr> {
        let mut v: Vec<_> = self
            .hosts
            .iter()
            .filter(|(_, e)| {
                e.failed_at
                    .is_none_or(|(at, wait)| now.saturating_sub(at) >= wait)
            })
            .map(|(a, e)| (*a, e.seen))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(a, _)| a).collect()
    }

    /// Up to `n` hosts for an `X-Try` header, most recently seen first; hosts that
    /// failed their last connect are left out.
    pub fn sample(&self, n: usize) -> Vec<SocketAddr> {
        let mut v: Vec<_> = self
            .hosts
            .iter()
            .filter(|(_, e)| e.failures == 0)
            .map(|(a, e)| (*a, e.seen))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().take(n).map(|(a, _)| a).collect()
    }

    /// Loads `hosts.txt` (one `ip:port` per line); unreadable lines are skipped.
    pub fn load(dir: &Path, now: Duration) -> HostCache {
        let mut cache = HostCache::default();
        if let Ok(text) = std::fs::read_to_string(dir.join(HOST_CACHE_FILE)) {
            for line in text.lines().take(HOST_CACHE_CAPACITY) {
                if let Ok(addr) = line.trim().parse() {
                    cache.add(addr, now);
                }
            }
        }
        cache.dirty = false;
        cache
    }

    /// Writes the cache if it changed: to a temporary file, then renamed into place.
    pub fn save(&mut self, dir: &Path) -> std::io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        std::fs::create_dir_all(dir)?;
        let mut all: Vec<_> = self.hosts.iter().map(|(a, e)| (*a, e.seen)).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let text: String = all.iter().map(|(a, _)| format!("{a}\n")).collect();
        let tmp = dir.join(format!("{HOST_CACHE_FILE}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(HOST_CACHE_FILE))?;
        self.dirty = false;
        Ok(())
    }
}
