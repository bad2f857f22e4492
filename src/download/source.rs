//! A source as the fetchers see it: where it is, the request we send it, and how one
//! chunk from it can fail (what the scheduler is told of each failure).

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::header::{HOST, RANGE, USER_AGENT};
use hyper::{Method, Request, StatusCode};

use crate::http::client::{ClientError, HttpUrl};

use super::sched::Failure;
use super::USER_AGENT_VALUE;

/// Where a source is.
pub(super) struct Endpoint {
    pub url: HttpUrl,
    /// The URL as given (names the source in reports and the sidecar).
    pub label: String,
    pub addr: Option<SocketAddr>,
}

/// Why one chunk from one source failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("busy (503), retry after {0:?}")]
    Busy(Duration),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("holds none of the range asked yet (416 with X-Available-Ranges)")]
    Unavailable,
    #[error("bad Content-Range {0:?} for the range asked")]
    BadRange(String),
    #[error("no data for {0:?}: stalled")]
    Stalled(Duration),
    #[error("body error: {0}")]
    Body(hyper::Error),
    #[error("sent {got} bytes for a {want}-byte range")]
    Length { got: u64, want: u64 },
}

impl FetchError {
    /// What the scheduler needs to know of it.
    pub(super) fn failure(&self) -> Failure {
        match self {
            FetchError::Busy(after) => Failure::Busy {
                retry_after: *after,
            },
            FetchError::Unavailable => Failure::Unavailable,
            _ => Failure::Error,
        }
    }
}

/// A request with our `Host`, `User-Agent` and, for a chunk, `Range` headers.
pub(super) fn request(
    method: Method,
    url: &HttpUrl,
    range: Option<&Range<u64>>,
) -> Request<Empty<Bytes>> {
    let mut b = Request::builder()
        .method(method)
        .uri(url.path.as_str())
        .header(HOST, url.authority())
        .header(USER_AGENT, USER_AGENT_VALUE);
    if let Some(r) = range {
        b = b.header(RANGE, format!("bytes={}-{}", r.start, r.end - 1));
    }
    b.body(Empty::new())
        .unwrap_or_else(|_| Request::new(Empty::new()))
}
