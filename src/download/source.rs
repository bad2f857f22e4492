//! A source as the fetchers see it: where it is (an `http://` URL, or a `push://` one
//! reached through the caller's [`super::Pusher`]), how a connection to it opens, the
//! request we send it, and how one chunk from it can fail (what the scheduler is told of
//! each failure).

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::header::{HOST, RANGE, USER_AGENT};
use hyper::{Method, Request, StatusCode};

use crate::http::client::{ClientError, Connection, HttpUrl};

use super::push::parse_push_url;
pub(super) use super::push::PushSource;
use super::sched::Failure;
use super::{DownloadOptions, USER_AGENT_VALUE};

/// Where a source is.
pub(super) struct Endpoint {
    pub url: HttpUrl,
    /// The URL as given (names the source in reports and the sidecar).
    pub label: String,
    pub addr: Option<SocketAddr>,
    /// A firewalled source: every connection to it comes by Push.
    pub push: Option<PushSource>,
}

/// A source as given: the URL requests go to, its label, and the Push for a `push://`.
pub(super) struct SourceUrl {
    pub url: HttpUrl,
    pub label: String,
    pub push: Option<PushSource>,
}

impl SourceUrl {
    /// An `http://` or `push://` URL.
    pub(super) fn parse(s: &str) -> Result<SourceUrl, ClientError> {
        if s.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("push://"))
        {
            let (url, push) = parse_push_url(s)?;
            return Ok(SourceUrl {
                url,
                label: s.to_owned(),
                push: Some(push),
            });
        }
        let url = HttpUrl::parse(s)?;
        Ok(SourceUrl {
            label: url.to_string(),
            url,
            push: None,
        })
    }
}

/// Opens a connection to a source: by Push for a firewalled one (through the caller's
/// pusher), else a TCP connect to `addr` (or the URL's resolved host). Returns the peer's
/// address with it.
pub(super) async fn open(
    url: &HttpUrl,
    addr: Option<SocketAddr>,
    push: Option<PushSource>,
    opts: &DownloadOptions,
) -> Result<(SocketAddr, Connection), FetchError> {
    if let Some(p) = push {
        let pusher = opts.pusher.as_ref().ok_or(FetchError::NoPusher)?;
        let c = pusher
            .connect_back(p.servent_id, p.index)
            .await
            .map_err(FetchError::Push)?;
        return Ok((c.remote, Connection::over(c.stream, c.remote).await?));
    }
    let addr = match addr {
        Some(a) => a,
        None => url.resolve().await?,
    };
    Ok((addr, Connection::open(addr, opts.connect_timeout).await?))
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
    #[error("a push:// source needs a running servent to send the Push")]
    NoPusher,
    #[error("push failed: {0}")]
    Push(String),
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
