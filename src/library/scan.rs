//! Walks the share roots: regular files only, hidden entries skipped unless asked,
//! symbolic links followed only when their target stays inside a share root (no escape),
//! each directory visited once (no loops), partial downloads left out of the files (their
//! sidecars are listed apart, for [`super::partial`]). Paths come out canonical
//! (absolute, no `..`, no links), so what is served is what was scanned.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Suffixes of files the downloader is still writing: never shared.
pub(super) const PARTIAL_SUFFIXES: [&str; 2] = [".part", ".part.state"];

/// A regular file found under a share root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ScannedFile {
    /// Canonical path.
    pub path: PathBuf,
    /// File name (UTF-8; names that are not are skipped).
    pub name: String,
    pub size: u64,
    pub mtime: SystemTime,
    pub dev: u64,
    pub ino: u64,
}

/// Something skipped while scanning, for the log.
#[derive(Debug)]
pub(super) struct ScanProblem {
    pub path: PathBuf,
    pub reason: String,
}

/// Result of one walk.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub files: Vec<ScannedFile>,
    pub problems: Vec<ScanProblem>,
    /// Sidecars (`FILE.part.state`) of downloads in progress (canonical paths).
    pub partials: Vec<PathBuf>,
}

/// Canonicalises share roots, refusing ones that do not exist.
pub(super) fn canonical_roots(roots: &[PathBuf]) -> io::Result<Vec<PathBuf>> {
    roots
        .iter()
        .map(|r| {
            fs::canonicalize(r)
                .map_err(|e| io::Error::new(e.kind(), format!("share root {}: {e}", r.display())))
        })
        .collect()
}

fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

fn is_partial(name: &str) -> bool {
    PARTIAL_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Walks canonical `roots`.
pub(super) fn scan(roots: &[PathBuf], include_hidden: bool) -> Scan {
    let mut out = Scan::default();
    let mut seen_dirs: HashSet<(u64, u64)> = HashSet::new();
    let mut seen_files: HashSet<PathBuf> = HashSet::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    for root in roots {
        match fs::metadata(root) {
            Ok(m) if m.is_dir() => {
                if seen_dirs.insert((m.dev(), m.ino())) {
                    stack.push(root.clone());
                }
            }
            Ok(m) if m.is_file() => add_file(&mut out, &mut seen_files, root.clone(), &m),
            Ok(_) => out.problems.push(ScanProblem {
                path: root.clone(),
                reason: "not a directory or regular file".into(),
            }),
            Err(e) => out.problems.push(ScanProblem {
                path: root.clone(),
                reason: e.to_string(),
            }),
        }
    }
    while let Some(dir) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                out.problems.push(ScanProblem {
                    path: dir,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                out.problems.push(ScanProblem {
                    path,
                    reason: "name is not UTF-8".into(),
                });
                continue;
            };
            if !include_hidden && is_hidden(&name) {
                continue;
            }
            let Ok(lmeta) = entry.metadata() else {
                continue;
            };
            let (path, meta) = if lmeta.file_type().is_symlink() {
                match resolve_link(&path, roots) {
                    Ok(pm) => pm,
                    Err(reason) => {
                        out.problems.push(ScanProblem { path, reason });
                        continue;
                    }
                }
            } else {
                (path, lmeta)
            };
            if meta.is_dir() {
                if seen_dirs.insert((meta.dev(), meta.ino())) {
                    stack.push(path);
                }
            } else if meta.is_file() && !is_partial(&name) {
                add_file(&mut out, &mut seen_files, path, &meta);
            } else if meta.is_file() && name.ends_with(PARTIAL_SUFFIXES[1]) {
                out.partials.push(path);
            }
        }
    }
    out.files.sort_by(|a, b| a.path.cmp(&b.path));
    out.partials.sort();
    out.partials.dedup();
    out
}

/// Follows a link: its canonical target must lie under one of the roots.
fn resolve_link(path: &Path, roots: &[PathBuf]) -> Result<(PathBuf, fs::Metadata), String> {
    let target = fs::canonicalize(path).map_err(|e| format!("dangling link: {e}"))?;
    if !roots.iter().any(|r| target.starts_with(r)) {
        return Err(format!(
            "link points outside the share roots ({}): skipped",
            target.display()
        ));
    }
    let meta = fs::metadata(&target).map_err(|e| e.to_string())?;
    Ok((target, meta))
}

fn add_file(out: &mut Scan, seen: &mut HashSet<PathBuf>, path: PathBuf, meta: &fs::Metadata) {
    let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
        return;
    };
    if !seen.insert(path.clone()) {
        return;
    }
    out.files.push(ScannedFile {
        name,
        size: meta.len(),
        mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        dev: meta.dev(),
        ino: meta.ino(),
        path,
    });
}
