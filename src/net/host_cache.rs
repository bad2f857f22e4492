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

#[derive(Debug, Clone, Copy)]
struct Entry {
    seen: Duration,
    failed_at: Option<Duration>,
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

    pub fn mark_failed(&mut self, addr: SocketAddr, now: Duration) {
        if let Some(e) = self.hosts.get_mut(&addr) {
            e.failed_at = Some(now);
        }
    }

    pub fn mark_ok(&mut self, addr: SocketAddr, now: Duration) {
        if let Some(e) = self.hosts.get_mut(&addr) {
            e.failed_at = None;
            e.seen = now;
        }
    }

    /// Hosts worth a connect attempt now, most recently seen first.
    pub fn candidates(&self, now: Duration, backoff: Duration) -> Vec<SocketAddr> {
        let mut v: Vec<_> = self
            .hosts
            .iter()
            .filter(|(_, e)| e.failed_at.is_none_or(|f| now.saturating_sub(f) >= backoff))
            .map(|(a, e)| (*a, e.seen))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(a, _)| a).collect()
    }

    /// Up to `n` hosts for an `X-Try` header, most recently seen first.
    pub fn sample(&self, n: usize) -> Vec<SocketAddr> {
        let mut v: Vec<_> = self.hosts.iter().map(|(a, e)| (*a, e.seen)).collect();
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
        let text: String = self
            .sample(HOST_CACHE_CAPACITY)
            .iter()
            .map(|a| format!("{a}\n"))
            .collect();
        let tmp = dir.join(format!("{HOST_CACHE_FILE}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, dir.join(HOST_CACHE_FILE))?;
        self.dirty = false;
        Ok(())
    }
}
