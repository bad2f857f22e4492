//! What a file route answers ([`Answer`]): a finished response, or a file's status,
//! headers and body segments still to send, which hyper's path ([`super::files`]) and the
//! fast path ([`super::fast`]) each write their own way.

use std::fs::File;
use std::sync::Arc;

use hyper::header::HeaderMap;
use hyper::{Response, StatusCode};

use super::body::Segment;
use super::response::Body;
use super::uploads::SlotGuard;

/// How a file route answers.
pub(super) enum Answer {
    /// A finished response (an error, a refusal, a `HEAD`).
    Done(Response<Body>),
    /// A shared file's body to send.
    File(FileAnswer),
}

impl From<Response<Body>> for Answer {
    fn from(r: Response<Body>) -> Answer {
        Answer::Done(r)
    }
}

/// A shared file's answer before its body is sent: status and headers (`Content-Length`
/// included), the open file, the body's segments, and the upload slot it holds.
pub(super) struct FileAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub handle: Arc<File>,
    pub segments: Vec<Segment>,
    pub len: u64,
    pub slot: Option<SlotGuard>,
    /// The file's path, for a log line when reading it fails.
    pub path: std::path::PathBuf,
}
