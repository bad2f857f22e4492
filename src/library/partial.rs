//! Partial file sharing (gtk-gnutella's PFSP): a file still being downloaded into a shared
//! folder (`FILE.part` beside its sidecar `FILE.part.state`) is shared for the ranges the
//! sidecar says are written and synced. It answers Queries by name and by SHA-1 like a
//! complete file, and the HTTP server serves it from the `.part`, only for those ranges.
//!
//! Only a partial whose sidecar names the file's SHA-1 is shared: without it a downloader
//! could not tell it serves the file it asked for. The sidecar is read again whenever it
//! changes on disk (the downloader rewrites it after every chunk, in another process), so
//! the ranges offered grow as the download goes on. A thread ([`watch`]) looks for new
//! downloads every [`PARTIALS_RESCAN_INTERVAL`]; a partial whose `.part` is gone (the
//! download finished or was removed) offers nothing, and the library is rescanned so the
//! complete file takes its place.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Weak};
use std::time::{Duration, SystemTime};

use crate::core::LocalFile;

use super::hash::{self, Sha1Digest};
use super::matching::{self, Pattern};
use super::part_state::{PartState, RangeSet};
use super::Library;

/// Largest sidecar read: a sidecar lists one entry per chunk written, so even a file of
/// many GiB in 1 MiB chunks stays far below this; anything larger is not a sidecar.
pub const MAX_SIDECAR_BYTES: u64 = 16 << 20;

/// How often the share roots are walked for downloads started (or finished) since: a
/// download run by another process (`servent get -o SHARED/FILE`) is shared within this.
pub const PARTIALS_RESCAN_INTERVAL: Duration = Duration::from_secs(60);

/// Starts the thread refreshing `lib`'s partial files every
/// [`PARTIALS_RESCAN_INTERVAL`] ([`Library::refresh_partials`]); it ends with the library.
pub(super) fn watch(lib: Weak<Library>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("partials".into())
        .spawn(move || loop {
            std::thread::sleep(PARTIALS_RESCAN_INTERVAL);
            match lib.upgrade() {
                Some(lib) => lib.refresh_partials(),
                None => return,
            }
        })
        .map(|_| ())
}

/// Finished downloads whose sources the library remembers (the oldest forgotten beyond).
pub const MAX_FINISHED_REMEMBERED: usize = 1024;

/// Sources (from the sidecar's served list) a partial offers as alternate locations.
pub const MAX_PARTIAL_SOURCES: usize = 16;

/// The sidecar as last read: its modification time, the ranges written, the sources.
#[derive(Default)]
struct Seen {
    mtime: Option<SystemTime>,
    done: RangeSet,
    sources: Vec<String>,
}

/// A file being downloaded, shared for the ranges already written.
pub struct PartialFile {
    /// Gnutella file index (from the same counter as complete files: never reused).
    pub index: u32,
    /// `FILE.part`: where the bytes are.
    pub part: PathBuf,
    /// `FILE.part.state`: which bytes are there.
    pub state_path: PathBuf,
    /// The name the file will have (`FILE`'s name), as advertised in QueryHits.
    pub name: String,
    /// Size of the complete file, in bytes.
    pub size: u64,
    /// The SHA-1 the complete file must have (from the sidecar).
    pub sha1: Sha1Digest,
    folded: Box<str>,
    words: Box<[Box<str>]>,
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for PartialFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartialFile")
            .field("index", &self.index)
            .field("part", &self.part)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl PartialFile {
    /// The partial described by the sidecar at `state_path`, when it is one to share: a
    /// sidecar of this format naming a SHA-1, beside a `.part` of the file's size.
    pub fn open(state_path: &Path, index: u32) -> Option<PartialFile> {
        let part = PathBuf::from(state_path.to_str()?.strip_suffix(".state")?);
        let name = part
            .file_name()?
            .to_str()?
            .strip_suffix(".part")?
            .to_owned();
        if name.is_empty() {
            return None;
        }
        let (state, mtime) = read_sidecar(state_path)?;
        let sha1 = state.sha1.as_deref().and_then(hash::parse_base32)?;
        let meta = fs::metadata(&part).ok()?;
        if !meta.is_file() || meta.len() != state.size {
            return None;
        }
        let folded = matching::fold(&name);
        let mut words: Vec<Box<str>> = matching::words(&folded).map(Box::from).collect();
        words.sort_unstable();
        words.dedup();
        let seen = Seen {
            mtime,
            sources: sources_of(&state),
            done: state.done,
        };
        Some(PartialFile {
            index,
            part,
            state_path: state_path.to_owned(),
            name,
            size: state.size,
            sha1,
            folded: folded.into(),
            words: words.into(),
            seen: Mutex::new(seen),
        })
    }

    /// Reads the sidecar again if it changed since last read; an unreadable one (the
    /// download finished and removed it) leaves nothing available.
    fn refresh(&self) -> std::sync::MutexGuard<'_, Seen> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mtime = fs::metadata(&self.state_path)
            .and_then(|m| m.modified())
            .ok();
        if mtime.is_none() || !self.part.is_file() {
            // Gone: finished (the complete file is there, verified, until the next scan
            // shares it as a file of its own) or removed (nothing to serve). Who served
            // it stays known either way.
            seen.done = RangeSet::default();
            if self.finished_path().is_some() {
                seen.done.insert(0..self.size);
            }
            seen.mtime = None;
            return seen;
        }
        if mtime != seen.mtime {
            match read_sidecar(&self.state_path) {
                Some((s, m)) if s.size == self.size => {
                    seen.sources = sources_of(&s);
                    seen.done = s.done;
                    seen.mtime = m;
                }
                _ => {
                    seen.done = RangeSet::default();
                    seen.mtime = None;
                }
            }
        }
        seen
    }

    /// The byte ranges written and synced, as the sidecar says now.
    pub fn available(&self) -> RangeSet {
        self.refresh().done.clone()
    }

    /// Whether any byte is available (a partial with none is not offered).
    pub fn has_data(&self) -> bool {
        !self.refresh().done.is_empty()
    }

    /// URLs of the sources that served bytes of it (the downloader verified they answer
    /// for this SHA-1), at most [`MAX_PARTIAL_SOURCES`]; still known once it finished.
    pub fn sources(&self) -> Vec<String> {
        self.refresh().sources.clone()
    }

    /// Opens `FILE.part` for reading or, once the download finished, `FILE` (the
    /// downloader renames only after the SHA-1 checked out), so the file stays served
    /// between the rename and the scan that shares it as a complete file.
    pub fn open_part(&self) -> io::Result<File> {
        File::open(&self.part).or_else(|e| match self.finished_path() {
            Some(done) => File::open(done),
            None => Err(e),
        })
    }

    /// `FILE`, when the `.part` is gone and a regular file of the full size stands in its
    /// place (the finished download).
    fn finished_path(&self) -> Option<PathBuf> {
        let done = self.part.with_file_name(&self.name);
        let meta = fs::metadata(&done).ok()?;
        (meta.is_file() && meta.len() == self.size && !self.part.exists()).then_some(done)
    }

    /// Whether a Query's pattern matches its name.
    pub fn matches(&self, pattern: &Pattern) -> bool {
        pattern.matches_folded(&self.folded, &self.words)
    }

    /// What the core advertises for it in a QueryHit.
    pub fn local_file(&self) -> LocalFile {
        LocalFile {
            index: self.index,
            size: self.size,
            name: self.name.clone(),
            sha1_urn: Some(hash::urn(&self.sha1)),
        }
    }
}

/// Reads and decodes a sidecar (bounded), with its modification time.
fn read_sidecar(path: &Path) -> Option<(PartState, Option<SystemTime>)> {
    let meta = fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_SIDECAR_BYTES {
        return None;
    }
    let state = PartState::from_json(&fs::read_to_string(path).ok()?)?;
    Some((state, meta.modified().ok()))
}

/// The distinct sources of a sidecar's served list, most recent first, bounded.
fn sources_of(state: &PartState) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in state.served.iter().rev() {
        if out.len() >= MAX_PARTIAL_SOURCES {
            break;
        }
        if !out.contains(&s.source) {
            out.push(s.source.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::part_state::{part_paths, Served, STATE_VERSION};
    use super::*;

    fn sidecar(dir: &Path, name: &str, sha1: Option<String>, size: u64) -> PathBuf {
        let (part, state_path) = part_paths(&dir.join(name));
        fs::write(&part, vec![0u8; size as usize]).unwrap();
        let mut done = RangeSet::default();
        done.insert(0..10);
        let state = PartState {
            version: STATE_VERSION,
            size,
            sha1,
            done,
            served: vec![Served {
                start: 0,
                end: 10,
                source: "http://127.0.0.1:1/f".into(),
            }],
            hash_mismatch: None,
        };
        fs::write(&state_path, serde_json::to_vec(&state).unwrap()).unwrap();
        state_path
    }

    #[test]
    fn a_sidecar_with_a_sha1_is_shared_for_its_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let b32 = data_encoding::BASE32_NOPAD.encode(&[7u8; 20]);
        let sp = sidecar(dir.path(), "Some Song.mp3", Some(b32), 100);
        let p = PartialFile::open(&sp, 5).expect("shared");
        assert_eq!(p.name, "Some Song.mp3");
        assert_eq!(p.sha1, [7u8; 20]);
        assert_eq!(p.available().ranges().collect::<Vec<_>>(), vec![0..10]);
        assert_eq!(p.sources(), vec!["http://127.0.0.1:1/f".to_owned()]);
        assert!(p.matches(&Pattern::parse("song").unwrap()));
        assert!(!p.matches(&Pattern::parse("part").unwrap()));
        assert_eq!(p.local_file().index, 5);
        // The download finishes: the verified file takes the .part's place and is served
        // whole until a scan shares it as a complete file.
        fs::write(dir.path().join("Some Song.mp3"), vec![3u8; 100]).unwrap();
        fs::remove_file(&p.part).unwrap();
        fs::remove_file(&sp).unwrap();
        assert_eq!(p.available().ranges().collect::<Vec<_>>(), vec![0..100]);
        let mut back = Vec::new();
        io::Read::read_to_end(&mut p.open_part().unwrap(), &mut back).unwrap();
        assert_eq!(back, vec![3u8; 100]);
        // Removed (or replaced by a file of another size): nothing is offered any more.
        fs::write(dir.path().join("Some Song.mp3"), b"other").unwrap();
        assert!(!p.has_data());
        assert!(p.open_part().is_err());
        fs::remove_file(dir.path().join("Some Song.mp3")).unwrap();
        assert!(!p.has_data());
    }

    #[test]
    fn a_sidecar_without_a_sha1_or_of_another_size_is_not_shared() {
        let dir = tempfile::tempdir().unwrap();
        let sp = sidecar(dir.path(), "a.bin", None, 100);
        assert!(PartialFile::open(&sp, 0).is_none());
        let b32 = data_encoding::BASE32_NOPAD.encode(&[7u8; 20]);
        let sp = sidecar(dir.path(), "b.bin", Some(b32), 100);
        fs::write(dir.path().join("b.bin.part"), b"short").unwrap();
        assert!(PartialFile::open(&sp, 0).is_none());
    }
}
