//! The shared library: the files under the `--share` roots, each with a file index
//! stable for the life of the servent, its SHA-1 (hashed in the background, cached in
//! the data directory) and a keyword index over the names. It answers Queries for the
//! core ([`crate::core::QueryMatcher`]) and resolves HTTP requests to files: only files
//! in the index are ever served, so no path from a request reaches the file system.
//!
//! - `scan`: walking the roots safely.
//! - [`hash`]: SHA-1 URNs, the hash cache, the background hasher.
//! - [`matching`]: query text to a [`matching::Pattern`]; folding and the refusal rules.
//! - [`index`]: the keyword index a query runs against.
//! - [`hits`]: the searching side: grouping received hits by SHA-1 and the results table.
//! - [`qrp`]: the words of our query routing table and a Query's routing keys, folded.
//! - [`part_state`]: the format of a download's sidecar; [`partial`]: files being
//!   downloaded into a shared folder, shared for the ranges they hold.

pub mod browse;
pub mod hash;
pub mod hits;
pub mod index;
pub mod matching;
pub mod part_state;
pub mod partial;
pub mod qrp;
mod scan;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, SystemTime};

use crate::core::{LocalFile, QueryMatcher, SharedFiles};
use crate::proto::payload::Query;

use hash::{HashCache, HashQueue, Sha1Digest};
pub use hash::{HashHook, HashProgress};
use index::Index;
use matching::Pattern;
use partial::PartialFile;

/// Why a library could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// A share root could not be resolved (missing, unreadable); the message names it.
    #[error("{0}")]
    Root(io::Error),
    /// The background hasher thread could not be spawned.
    #[error("cannot start the hasher thread: {0}")]
    Thread(io::Error),
}

/// How to build a [`Library`].
#[derive(Clone, Default)]
pub struct LibraryConfig {
    /// Directories (or single files) to share, recursively.
    pub roots: Vec<PathBuf>,
    /// Where the hash cache lives; `None` keeps it in memory.
    pub data_dir: Option<PathBuf>,
    /// Share files and directories whose name starts with a dot.
    pub include_hidden: bool,
    /// Receives the hasher's progress (a progress bar, a web page).
    pub progress: Option<HashHook>,
}

/// One shared file. Immutable except for its hash, set once by the hasher.
#[derive(Debug)]
pub struct SharedFile {
    /// Gnutella file index: stable for the life of the servent.
    pub index: u32,
    /// Canonical path on disk.
    pub path: PathBuf,
    /// File name as advertised in QueryHits and expected in `/get/<index>/<name>`.
    pub name: String,
    /// Size in bytes when scanned.
    pub size: u64,
    /// Modification time when scanned (the epoch if the file system has none).
    pub mtime: SystemTime,
    /// Device of the file when scanned: with `ino`, tells a replaced file from this one.
    pub dev: u64,
    /// Inode of the file when scanned.
    pub ino: u64,
    sha1: OnceLock<Sha1Digest>,
    /// The name folded for matching, and its words.
    pub(crate) folded: Box<str>,
    pub(crate) words: Box<[Box<str>]>,
}

impl SharedFile {
    fn new(index: u32, s: scan::ScannedFile) -> SharedFile {
        let folded = matching::fold(&s.name);
        let mut words: Vec<Box<str>> = matching::words(&folded).map(Box::from).collect();
        words.sort_unstable();
        words.dedup();
        SharedFile {
            index,
            path: s.path,
            name: s.name,
            size: s.size,
            mtime: s.mtime,
            dev: s.dev,
            ino: s.ino,
            sha1: OnceLock::new(),
            folded: folded.into(),
            words: words.into(),
        }
    }

    /// A file known by name and size only, not backed by anything on disk (opening it
    /// fails): for index tests and benchmarks.
    pub fn detached(index: u32, name: &str, size: u64) -> SharedFile {
        SharedFile::new(
            index,
            scan::ScannedFile {
                path: PathBuf::new(),
                name: name.to_owned(),
                size,
                mtime: SystemTime::UNIX_EPOCH,
                dev: 0,
                ino: 0,
            },
        )
    }

    /// The file's SHA-1, once the hasher (or the hash cache) has it.
    pub fn sha1(&self) -> Option<Sha1Digest> {
        self.sha1.get().copied()
    }

    /// `urn:sha1:<base32>` once hashed.
    pub fn sha1_urn(&self) -> Option<String> {
        self.sha1().map(|d| hash::urn(&d))
    }

    pub(crate) fn set_sha1(&self, digest: Sha1Digest) {
        let _ = self.sha1.set(digest);
    }

    fn same_as(&self, m: &std::fs::Metadata) -> bool {
        m.is_file()
            && m.len() == self.size
            && m.dev() == self.dev
            && m.ino() == self.ino
            && m.modified().ok() == Some(self.mtime)
    }

    /// Whether the file on disk is still the one scanned (size, mtime, device, inode).
    pub fn unchanged_on_disk(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| self.same_as(&m))
    }

    /// Opens the file for serving and checks the open handle is the file scanned: a
    /// file replaced or changed since is refused (its index would describe other bytes).
    pub fn open_checked(&self) -> io::Result<File> {
        let f = File::open(&self.path)?;
        if !self.same_as(&f.metadata()?) {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} changed since the library was scanned", self.name),
            ));
        }
        Ok(f)
    }

    /// What the core advertises for this file.
    pub fn local_file(&self) -> LocalFile {
        LocalFile {
            index: self.index,
            size: self.size,
            name: self.name.clone(),
            sha1_urn: self.sha1_urn(),
        }
    }
}

/// What a scan or rescan changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RescanReport {
    /// Files shared after the scan.
    pub files: usize,
    /// Files at a path not shared before (new indexes).
    pub added: usize,
    /// Files shared before that the scan no longer found.
    pub removed: usize,
    /// Files at the same path whose size, modification time, device or inode changed
    /// (same index, hashed again unless cached).
    pub changed: usize,
    /// Files queued for hashing (not in the cache).
    pub to_hash: usize,
    /// Entries skipped (links escaping the roots, unreadable directories, ...).
    pub skipped: usize,
}

#[derive(Default)]
struct Ids {
    by_path: HashMap<PathBuf, u32>,
    next: u32,
}

impl Ids {
    /// The file index of `path`: the one it had, else a new one (never reused).
    fn index_for(&mut self, path: &Path) -> u32 {
        if let Some(&i) = self.by_path.get(path) {
            return i;
        }
        let i = self.next;
        self.next += 1;
        self.by_path.insert(path.to_owned(), i);
        i
    }
}

type Sha1Map = RwLock<HashMap<Sha1Digest, Arc<SharedFile>>>;

/// The shared library. Cheap to query from many threads; rescans swap in a new snapshot.
pub struct Library {
    roots: Vec<PathBuf>,
    include_hidden: bool,
    index: Arc<RwLock<Arc<Index>>>,
    by_sha1: Arc<Sha1Map>,
    /// Downloads in progress under the roots (see [`partial`]), found by the last scan.
    partials: RwLock<Arc<Vec<Arc<PartialFile>>>>,
    /// The sources of downloads seen finishing (SHA-1, the URLs that served it), oldest
    /// first: this servent verified them, so it hands them out as alternate locations.
    finished: Mutex<std::collections::VecDeque<(Sha1Digest, Vec<String>)>>,
    ids: Mutex<Ids>,
    cache: Arc<Mutex<HashCache>>,
    queue: Arc<HashQueue>,
    rescan_lock: Mutex<()>,
    /// Rescans done: the core rebuilds its query routing table when it moves.
    generation: std::sync::atomic::AtomicU64,
}

impl Drop for Library {
    fn drop(&mut self) {
        self.queue.close();
    }
}

impl Library {
    /// Scans the roots (synchronously), loads the hash cache and starts hashing what it
    /// does not know in the background.
    pub fn open(config: LibraryConfig) -> Result<Arc<Library>, LibraryError> {
        let roots = scan::canonical_roots(&config.roots).map_err(LibraryError::Root)?;
        let lib = Arc::new(Library {
            roots,
            include_hidden: config.include_hidden,
            index: Arc::new(RwLock::new(Arc::new(Index::default()))),
            by_sha1: Arc::new(RwLock::new(HashMap::new())),
            partials: RwLock::new(Arc::new(Vec::new())),
            finished: Mutex::new(std::collections::VecDeque::new()),
            ids: Mutex::new(Ids::default()),
            cache: Arc::new(Mutex::new(HashCache::load(config.data_dir.as_deref()))),
            queue: HashQueue::new(),
            rescan_lock: Mutex::new(()),
            generation: std::sync::atomic::AtomicU64::new(0),
        });
        let queue = Arc::clone(&lib.queue);
        let cache = Arc::clone(&lib.cache);
        let index = Arc::clone(&lib.index);
        let by_sha1 = Arc::clone(&lib.by_sha1);
        let on_hashed = Box::new(move |f: &Arc<SharedFile>| {
            // Holding the index lock: a rescan swaps index and map under its write lock.
            let idx = read(&index);
            let current = idx.get(f.index).is_some_and(|g| Arc::ptr_eq(f, g));
            if let (true, Some(d)) = (current, f.sha1()) {
                write(&by_sha1).insert(d, Arc::clone(f));
            }
        });
        std::thread::Builder::new()
            .name("hasher".into())
            .spawn(move || queue.run(cache, on_hashed, config.progress))
            .map_err(LibraryError::Thread)?;
        lib.rescan();
        partial::watch(Arc::downgrade(&lib)).map_err(LibraryError::Thread)?;
        Ok(lib)
    }

    /// Looks for downloads started or finished since the last scan (see [`partial`]):
    /// new sidecars are shared; when a shared partial's `.part` is gone (its download
    /// finished, renaming it into place), the whole library is rescanned so the complete
    /// file is shared instead.
    pub fn refresh_partials(&self) {
        let old = self.partials();
        if old.iter().any(|p| !p.part.is_file()) {
            self.rescan();
            return;
        }
        let _one_at_a_time = self.rescan_lock.lock().unwrap_or_else(|e| e.into_inner());
        let found = scan::scan(&self.roots, self.include_hidden).partials;
        if found.len() == old.len()
            && found
                .iter()
                .zip(old.iter())
                .all(|(f, p)| *f == p.state_path)
        {
            return;
        }
        let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let partials: Vec<Arc<PartialFile>> = found
            .iter()
            .filter_map(|sp| match old.iter().find(|p| p.state_path == *sp) {
                Some(p) => Some(Arc::clone(p)),
                None => PartialFile::open(sp, ids.index_for(sp)).map(Arc::new),
            })
            .collect();
        log::info!("library: {} downloads in progress shared", partials.len());
        *write(&self.partials) = Arc::new(partials);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Walks the roots again: unchanged files keep their index and hash, new files get
    /// new indexes (never reused), changed files keep their index and are rehashed.
    pub fn rescan(&self) -> RescanReport {
        let _one_at_a_time = self.rescan_lock.lock().unwrap_or_else(|e| e.into_inner());
        let found = scan::scan(&self.roots, self.include_hidden);
        for p in &found.problems {
            log::info!("library: skipped {}: {}", p.path.display(), p.reason);
        }
        let old = self.snapshot();
        let old_by_path: HashMap<&Path, &Arc<SharedFile>> =
            old.files().iter().map(|f| (f.path.as_path(), f)).collect();
        let mut report = RescanReport {
            skipped: found.problems.len(),
            ..RescanReport::default()
        };
        let mut files = Vec::with_capacity(found.files.len());
        let mut to_hash = Vec::new();
        {
            let mut ids = self.ids.lock().unwrap_or_else(|e| e.into_inner());
            self.remember_finished(&self.partials());
            let partials = found
                .partials
                .iter()
                .filter_map(|p| PartialFile::open(p, ids.index_for(p)))
                .map(Arc::new)
                .collect();
            *write(&self.partials) = Arc::new(partials);
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            for s in found.files {
                if let Some(f) = old_by_path.get(s.path.as_path()) {
                    if f.size == s.size && f.mtime == s.mtime && f.ino == s.ino && f.dev == s.dev {
                        files.push(Arc::clone(f));
                        continue;
                    }
                    report.changed += 1;
                } else {
                    report.added += 1;
                }
                let index = ids.index_for(&s.path);
                let f = Arc::new(SharedFile::new(index, s));
                match cache.get(&f.path, f.size, f.mtime) {
                    Some(d) => f.set_sha1(d),
                    None => to_hash.push(Arc::clone(&f)),
                }
                files.push(f);
            }
            let keep: HashSet<&Path> = files.iter().map(|f| f.path.as_path()).collect();
            report.removed = old
                .files()
                .iter()
                .filter(|f| !keep.contains(f.path.as_path()))
                .count();
            cache.retain_paths(&keep);
        }
        report.files = files.len();
        report.to_hash = to_hash.len();
        let new = Arc::new(Index::new(files));
        {
            // Build the hash map and swap both under the index lock: the hasher records a
            // hash under the read lock, so none is lost or taken from an old snapshot.
            let mut idx = write(&self.index);
            *write(&self.by_sha1) = new
                .files()
                .iter()
                .filter_map(|f| f.sha1().map(|d| (d, Arc::clone(f))))
                .collect();
            *idx = new;
        }
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.queue.push(to_hash);
        log::info!(
            "library: {} files ({} added, {} removed, {} changed, {} to hash)",
            report.files,
            report.added,
            report.removed,
            report.changed,
            report.to_hash
        );
        report
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Index> {
        Arc::clone(&read(&self.index))
    }

    /// The shared roots (canonical).
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The file with this Gnutella file index.
    pub fn get(&self, index: u32) -> Option<Arc<SharedFile>> {
        read(&self.index).get(index).cloned()
    }

    /// The file with this SHA-1 (once hashed).
    pub fn by_sha1(&self, digest: &Sha1Digest) -> Option<Arc<SharedFile>> {
        read(&self.by_sha1).get(digest).cloned()
    }

    /// The downloads in progress shared for what they hold (found by the last scan).
    pub fn partials(&self) -> Arc<Vec<Arc<PartialFile>>> {
        Arc::clone(&read(&self.partials))
    }

    /// Records the sources of the partials of `old` whose `.part` is gone (finished).
    fn remember_finished(&self, old: &[Arc<PartialFile>]) {
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        for p in old.iter().filter(|p| !p.part.is_file()) {
            let sources = p.sources();
            if sources.is_empty() {
                continue;
            }
            finished.retain(|(d, _)| *d != p.sha1);
            if finished.len() >= partial::MAX_FINISHED_REMEMBERED {
                finished.pop_front();
            }
            finished.push_back((p.sha1, sources));
        }
    }

    /// The sources this servent fetched the file with this SHA-1 from, in a download in
    /// progress or finished (seen by this library): sources it verified, for `X-Alt`.
    pub fn verified_sources(&self, digest: &Sha1Digest) -> Vec<String> {
        if let Some(p) = self.partials().iter().find(|p| p.sha1 == *digest) {
            return p.sources();
        }
        let finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        finished
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    /// The partial file with this SHA-1, when it holds any byte (and no complete file
    /// has the hash: that one is served instead).
    pub fn partial_by_sha1(&self, digest: &Sha1Digest) -> Option<Arc<PartialFile>> {
        self.partials()
            .iter()
            .find(|p| p.sha1 == *digest && p.has_data())
            .cloned()
    }

    /// The partial file with this Gnutella file index, when it holds any byte.
    pub fn partial(&self, index: u32) -> Option<Arc<PartialFile>> {
        self.partials()
            .iter()
            .find(|p| p.index == index && p.has_data())
            .cloned()
    }

    /// Partial files a Query matches (by SHA-1 or name), at most `limit`.
    fn partial_answers(&self, query: &Query, limit: usize) -> Vec<LocalFile> {
        let partials = self.partials();
        if partials.is_empty() || limit == 0 {
            return Vec::new();
        }
        let hit: Box<dyn Fn(&PartialFile) -> bool> = if query.is_by_hash() {
            let sha1s = query.sha1s();
            Box::new(move |p| sha1s.contains(&p.sha1) && self.by_sha1(&p.sha1).is_none())
        } else {
            match Pattern::parse(&query.text_lossy()) {
                Ok(pat) => Box::new(move |p| p.matches(&pat)),
                Err(_) => return Vec::new(),
            }
        };
        partials
            .iter()
            .filter(|p| hit(p) && p.has_data())
            .take(limit)
            .map(|p| p.local_file())
            .collect()
    }

    /// Files matching `pattern`, in file-index order, at most `limit`.
    pub fn search(&self, pattern: &Pattern, limit: usize) -> Vec<Arc<SharedFile>> {
        self.snapshot().search(pattern, limit)
    }

    /// Number of files and total kilobytes, as advertised in Pongs (saturating).
    pub fn totals(&self) -> (u32, u32) {
        let idx = self.snapshot();
        let kb: u64 = idx.files().iter().map(|f| f.size / 1024).sum();
        (
            u32::try_from(idx.len()).unwrap_or(u32::MAX),
            u32::try_from(kb).unwrap_or(u32::MAX),
        )
    }

    /// Files waiting to be hashed (or being hashed).
    pub fn pending_hashes(&self) -> usize {
        self.queue.outstanding()
    }

    /// Waits until every file is hashed, at most `within`. True when done.
    pub fn wait_hashed(&self, within: Duration) -> bool {
        self.queue.wait_idle(within)
    }

    /// The matcher to hand the core (see [`Library::shared_files`]).
    pub fn matcher(self: &Arc<Self>) -> Box<dyn QueryMatcher> {
        Box::new(Arc::clone(self))
    }

    /// What to hand the core: `servent.set_matcher(lib.shared_files())` answers Queries
    /// from this library and advertises its totals in Pongs.
    pub fn shared_files(self: &Arc<Self>) -> SharedFiles {
        let (files, kbytes) = self.totals();
        SharedFiles {
            matcher: self.matcher(),
            files,
            kbytes,
        }
    }

    /// Rescans whenever the process receives SIGHUP (a thread waits for the signal).
    pub fn rescan_on_sighup(self: &Arc<Self>) -> io::Result<()> {
        let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])?;
        let lib: Weak<Library> = Arc::downgrade(self);
        std::thread::Builder::new()
            .name("sighup-rescan".into())
            .spawn(move || {
                for _ in signals.forever() {
                    match lib.upgrade() {
                        Some(lib) => {
                            log::info!("SIGHUP: rescanning the shared library");
                            lib.rescan();
                        }
                        None => return,
                    }
                }
            })?;
        Ok(())
    }

    /// Answers a Query: by hash when it carries a `urn:sha1:` or a GGEP `H`, else by
    /// keywords. Invalid query text (empty, one letter, only wildcards) answers nothing.
    pub fn answer(&self, query: &Query, limit: usize) -> Vec<Arc<SharedFile>> {
        if query.is_by_hash() {
            return query
                .sha1s()
                .iter()
                .filter_map(|d| self.by_sha1(d))
                .take(limit)
                .collect();
        }
        match Pattern::parse(&query.text_lossy()) {
            Ok(p) => self.search(&p, limit),
            Err(e) => {
                log::debug!("dropped query {:?}: {e}", query.text_lossy());
                Vec::new()
            }
        }
    }
}

impl QueryMatcher for Arc<Library> {
    fn matches(&self, query: &Query, limit: usize) -> Vec<LocalFile> {
        let mut hits: Vec<LocalFile> = self
            .answer(query, limit)
            .iter()
            .map(|f| f.local_file())
            .collect();
        let room = limit.saturating_sub(hits.len());
        hits.extend(self.partial_answers(query, room));
        hits
    }

    fn qrp_words(&self) -> Vec<String> {
        let mut words = qrp::index_words(&self.snapshot());
        let partials = self.partials();
        if !partials.is_empty() {
            words.extend(qrp::name_words(partials.iter().map(|p| p.name.as_str())));
            words.sort_unstable();
            words.dedup();
        }
        words
    }

    fn query_keys(&self, query: &Query) -> crate::core::qrp::QueryKeys {
        qrp::query_keys(query)
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
