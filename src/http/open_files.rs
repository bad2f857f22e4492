//! Kept-open handles of shared files, each checked against its library entry, with the
//! response headers built once per handle: Content-Type from the name, the validators
//! (`ETag`, `Last-Modified`) and what an `If-Range` must equal to match them.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::header::HeaderValue;

use crate::library::SharedFile;

/// Kept-open file handles (least recently used ones are closed first): a hot file is
/// served without an `open` per request, and the process never holds many descriptors.
pub(super) const OPEN_FILES_MAX: usize = 64;

/// Response headers of one file, built once per open handle rather than per request.
pub(crate) struct FileHeaders {
    pub content_type: HeaderValue,
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    /// `X-Gnutella-Content-URN`, once the file is hashed.
    pub urn: Option<HeaderValue>,
    validators: Validators,
}

impl FileHeaders {
    fn new(f: &SharedFile) -> FileHeaders {
        let v = validators(f);
        let hv = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static(""));
        FileHeaders {
            content_type: HeaderValue::from_static(content_type(&f.name)),
            etag: hv(&v.etag),
            last_modified: hv(&v.last_modified),
            urn: f.sha1_urn().map(|u| hv(&u)),
            validators: v,
        }
    }

    /// Whether an `If-Range` value names this version of the file.
    pub(crate) fn if_range_matches(&self, value: &str) -> bool {
        if_range_matches(value, &self.validators)
    }
}

/// A kept-open handle.
struct OpenFile {
    /// The library entry it was checked against.
    entry: Arc<SharedFile>,
    file: Arc<File>,
    headers: Arc<FileHeaders>,
    /// When it was last served (a tick of [`OpenFiles`]), for least-recently-used eviction.
    used: u64,
}

/// Kept-open handles of recently served files, checked against the library entry.
#[derive(Default)]
pub(crate) struct OpenFiles {
    map: Mutex<HashMap<u32, OpenFile>>,
    tick: AtomicU64,
}

impl OpenFiles {
    /// The open handle of `f` and its headers, opening (and checking) it if needed.
    pub(crate) fn get(&self, f: &Arc<SharedFile>) -> io::Result<(Arc<File>, Arc<FileHeaders>)> {
        let tick = self.tick.fetch_add(1, Ordering::Relaxed);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = map.get_mut(&f.index) {
            if Arc::ptr_eq(&open.entry, f) {
                open.used = tick;
                if open.headers.urn.is_none() && f.sha1().is_some() {
                    open.headers = Arc::new(FileHeaders::new(f));
                }
                return Ok((Arc::clone(&open.file), Arc::clone(&open.headers)));
            }
        }
        let file = Arc::new(f.open_checked()?);
        if map.len() >= OPEN_FILES_MAX {
            if let Some(oldest) = map.iter().min_by_key(|(_, v)| v.used).map(|(k, _)| *k) {
                map.remove(&oldest);
            }
        }
        let headers = Arc::new(FileHeaders::new(f));
        map.insert(
            f.index,
            OpenFile {
                entry: Arc::clone(f),
                file: Arc::clone(&file),
                headers: Arc::clone(&headers),
                used: tick,
            },
        );
        Ok((file, headers))
    }

    /// Closes every kept handle (after a rescan).
    pub(crate) fn clear(&self) {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Validators of a file: strong ETags we accept, the one we send, Last-Modified.
struct Validators {
    etag: String,
    accepted: Vec<String>,
    last_modified: String,
}

fn validators(f: &SharedFile) -> Validators {
    let secs = f
        .mtime
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stat_tag = format!("\"{secs:x}-{:x}\"", f.size);
    let mut accepted = vec![stat_tag.clone()];
    let etag = match f.sha1_urn() {
        Some(u) => {
            let t = format!("\"{u}\"");
            accepted.push(t.clone());
            t
        }
        None => stat_tag,
    };
    Validators {
        etag,
        accepted,
        last_modified: http_date(f.mtime),
    }
}

/// RFC 9110 §13.1.5: a strong entity-tag must match one of ours exactly; a date must
/// equal our Last-Modified; anything else (weak tags included) does not match.
fn if_range_matches(value: &str, v: &Validators) -> bool {
    let value = value.trim();
    if value.starts_with("W/") {
        return false;
    }
    if value.starts_with('"') {
        return v.accepted.iter().any(|t| t == value);
    }
    value == v.last_modified
}

/// Content-Type from the file name's extension.
pub(super) fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "m4a" => "audio/mp4",
        "mp4" | "m4v" => "video/mp4",
        "mkv" => "video/x-matroska",
        "webm" => "video/webm",
        "avi" => "video/x-msvideo",
        "mpg" | "mpeg" => "video/mpeg",
        "iso" => "application/x-iso9660-image",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "bz2" => "application/x-bzip2",
        "xz" => "application/x-xz",
        "tar" => "application/x-tar",
        "7z" => "application/x-7z-compressed",
        "pdf" => "application/pdf",
        "epub" => "application/epub+zip",
        "json" => "application/json",
        "txt" | "md" | "nfo" => "text/plain; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// IMF-fixdate (RFC 9110 §5.6.7): `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(super) fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {h:02}:{m:02}:{s:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
