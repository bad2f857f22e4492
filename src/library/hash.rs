//! SHA-1 of shared files as `urn:sha1:<base32>` (HUGE): the hash of one file, URN
//! formatting and parsing, the cache in the data directory (keyed by path, size and
//! modification time, so a restart does not rehash), and the background hasher thread
//! that works through new files, reporting its progress to a [`HashHook`].

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::SharedFile;

/// What the hasher thread is doing, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashProgress<'a> {
    /// Hashing `file`: `done` of `total` bytes queued since the hasher was last idle.
    Hashing {
        /// The file's shared name.
        file: &'a str,
        /// Bytes hashed so far (at most `total`).
        done: u64,
        /// Bytes of every file queued since the hasher was last idle.
        total: u64,
    },
    /// Nothing left to hash.
    Idle,
}

/// Receives the hasher's progress (on the hasher thread: keep it quick).
pub type HashHook = Arc<dyn Fn(HashProgress<'_>) + Send + Sync>;

/// A SHA-1 digest.
pub type Sha1Digest = [u8; 20];

/// Read size while hashing: large enough that syscalls are noise next to hashing.
const HASH_BUF_LEN: usize = 1 << 20;

/// How often the hasher saves the cache while it works: a crash loses at most this much
/// hashing, and a big library is not rewritten after every small file.
const CACHE_SAVE_INTERVAL: Duration = Duration::from_secs(5);

/// File name of the hash cache inside the data directory.
pub const CACHE_FILE: &str = "sha1-cache.jsonl";

/// `urn:sha1:` + 32 base32 characters.
pub fn urn(digest: &Sha1Digest) -> String {
    format!("urn:sha1:{}", BASE32_NOPAD.encode(digest))
}

/// Parses `urn:sha1:<32 base32>` (prefix case-insensitive, base32 upper or lower case).
pub fn parse_urn(text: &str) -> Option<Sha1Digest> {
    let text = text.trim();
    if text.len() != 41 || !text.is_char_boundary(9) || !text[..9].eq_ignore_ascii_case("urn:sha1:")
    {
        return None;
    }
    parse_base32(&text[9..])
}

/// Parses the 32 base32 characters of a SHA-1.
pub fn parse_base32(text: &str) -> Option<Sha1Digest> {
    let upper = text.to_ascii_uppercase();
    let bytes = BASE32_NOPAD.decode(upper.as_bytes()).ok()?;
    bytes.try_into().ok()
}

/// Hashes a reader to the end.
pub fn sha1_reader(mut r: impl Read, mut on_bytes: impl FnMut(u64)) -> io::Result<Sha1Digest> {
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; HASH_BUF_LEN];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        on_bytes(n as u64);
    }
    Ok(hasher.finalize().into())
}

/// Hashes a whole file.
pub fn sha1_file(path: &Path) -> io::Result<Sha1Digest> {
    sha1_reader(File::open(path)?, |_| {})
}

fn mtime_ns(t: SystemTime) -> i128 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheLine {
    path: PathBuf,
    size: u64,
    mtime_ns: i128,
    sha1: String,
}

/// Hashes known from earlier runs, keyed by path; valid only for the same size and mtime.
#[derive(Debug, Default)]
pub struct HashCache {
    file: Option<PathBuf>,
    entries: HashMap<PathBuf, (u64, i128, Sha1Digest)>,
    dirty: bool,
}

impl HashCache {
    /// Loads `<data_dir>/sha1-cache.jsonl` (missing or unreadable lines are ignored: the
    /// cache only saves work). `None` keeps the cache in memory only.
    pub fn load(data_dir: Option<&Path>) -> HashCache {
        let mut cache = HashCache {
            file: data_dir.map(|d| d.join(CACHE_FILE)),
            ..HashCache::default()
        };
        let Some(path) = &cache.file else {
            return cache;
        };
        let Ok(f) = File::open(path) else {
            return cache;
        };
        for line in BufReader::new(f).lines() {
            let Ok(line) = line else { break };
            let Ok(l) = serde_json::from_str::<CacheLine>(&line) else {
                continue;
            };
            if let Some(d) = parse_base32(&l.sha1) {
                cache.entries.insert(l.path, (l.size, l.mtime_ns, d));
            }
        }
        cache
    }

    /// The cached SHA-1 of the file at `path`, if it was hashed at this size and
    /// modification time (to the nanosecond).
    pub fn get(&self, path: &Path, size: u64, mtime: SystemTime) -> Option<Sha1Digest> {
        match self.entries.get(path) {
            Some(&(s, m, d)) if s == size && m == mtime_ns(mtime) => Some(d),
            _ => None,
        }
    }

    /// Records the SHA-1 of the file at `path` with its size and modification time,
    /// replacing any older entry; written to disk at the next save.
    pub fn put(&mut self, path: &Path, size: u64, mtime: SystemTime, digest: Sha1Digest) {
        self.entries
            .insert(path.to_owned(), (size, mtime_ns(mtime), digest));
        self.dirty = true;
    }

    /// Drops entries for paths not in `keep` (files gone from the library).
    pub fn retain_paths(&mut self, keep: &std::collections::HashSet<&Path>) {
        let before = self.entries.len();
        self.entries.retain(|p, _| keep.contains(p.as_path()));
        self.dirty |= self.entries.len() != before;
    }

    /// Writes the cache (to a temporary name, then renamed) if it changed.
    pub fn save(&mut self) -> io::Result<()> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("jsonl.tmp");
        let mut out = io::BufWriter::new(File::create(&tmp)?);
        for (p, &(size, mtime_ns, d)) in &self.entries {
            let line = CacheLine {
                path: p.clone(),
                size,
                mtime_ns,
                sha1: BASE32_NOPAD.encode(&d),
            };
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, path)?;
        self.dirty = false;
        Ok(())
    }
}

/// Work shared between the library and its hasher thread.
pub(crate) struct HashQueue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

#[derive(Default)]
struct QueueState {
    pending: VecDeque<Arc<SharedFile>>,
    pending_bytes: u64,
    busy: bool,
    closed: bool,
}

/// Called with each file once its hash is known.
pub(crate) type OnHashed = Box<dyn Fn(&Arc<SharedFile>) + Send + Sync>;

impl HashQueue {
    pub(crate) fn new() -> Arc<HashQueue> {
        Arc::new(HashQueue {
            state: Mutex::new(QueueState::default()),
            changed: Condvar::new(),
        })
    }

    pub(crate) fn push(&self, files: impl IntoIterator<Item = Arc<SharedFile>>) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for f in files {
            s.pending_bytes += f.size;
            s.pending.push_back(f);
        }
        self.changed.notify_all();
    }

    pub(crate) fn close(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.closed = true;
        self.changed.notify_all();
    }

    /// Files waiting or being hashed.
    pub(crate) fn outstanding(&self) -> usize {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.pending.len() + usize::from(s.busy)
    }

    /// Blocks until nothing is waiting or being hashed, at most `within`.
    pub(crate) fn wait_idle(&self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if s.pending.is_empty() && !s.busy {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The hasher thread's loop: hashes queued files one by one, records each in the
    /// cache, and reports progress (bytes) to `progress`.
    pub(crate) fn run(
        self: Arc<Self>,
        cache: Arc<Mutex<HashCache>>,
        on_hashed: OnHashed,
        progress: Option<HashHook>,
    ) {
        let report = |p: HashProgress<'_>| {
            if let Some(hook) = &progress {
                hook(p);
            }
        };
        // Bytes hashed and queued in this busy period (since the hasher was last idle).
        let (mut done, mut total) = (0u64, 0u64);
        let mut last_save = Instant::now();
        loop {
            let file = {
                let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                s.busy = false;
                self.changed.notify_all();
                loop {
                    if s.closed {
                        break None;
                    }
                    if let Some(f) = s.pending.pop_front() {
                        s.busy = true;
                        total = done + s.pending_bytes;
                        s.pending_bytes -= f.size;
                        break Some(f);
                    }
                    if total > 0 {
                        report(HashProgress::Idle);
                        (done, total) = (0, 0);
                    }
                    save_cache(&cache);
                    last_save = Instant::now();
                    s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
                }
            };
            let Some(file) = file else {
                save_cache(&cache);
                return;
            };
            if file.sha1().is_some() {
                continue;
            }
            let before = done;
            let mut hashed = 0u64;
            report(HashProgress::Hashing {
                file: &file.name,
                done,
                total,
            });
            let result = File::open(&file.path).and_then(|f| {
                sha1_reader(f, |n| {
                    hashed += n;
                    report(HashProgress::Hashing {
                        file: &file.name,
                        done: (before + hashed).min(total),
                        total,
                    });
                })
            });
            done = before + file.size;
            match result {
                Ok(digest) if file.unchanged_on_disk() => {
                    file.set_sha1(digest);
                    cache
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .put(&file.path, file.size, file.mtime, digest);
                    on_hashed(&file);
                }
                Ok(_) => log::info!(
                    "{} changed while hashing; rescan to share it",
                    file.path.display()
                ),
                Err(e) => log::warn!("cannot hash {}: {e}", file.path.display()),
            }
            if last_save.elapsed() >= CACHE_SAVE_INTERVAL {
                save_cache(&cache);
                last_save = Instant::now();
            }
        }
    }
}

fn save_cache(cache: &Mutex<HashCache>) {
    if let Err(e) = cache.lock().unwrap_or_else(|e| e.into_inner()).save() {
        log::warn!("cannot save the hash cache: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urn_round_trip() {
        // SHA-1 of the empty string.
        let d = sha1_reader(&b""[..], |_| {}).unwrap();
        let u = urn(&d);
        assert_eq!(u, "urn:sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ");
        assert_eq!(parse_urn(&u), Some(d));
        assert_eq!(parse_urn(&u.to_lowercase()), Some(d));
        assert_eq!(parse_urn("urn:sha1:short"), None);
    }
}
