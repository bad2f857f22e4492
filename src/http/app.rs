//! The hook through which the one port serves an application beside the file routes (the
//! web interface: `/`, `/ui/...`, `/api/...`): an [`App`] set once in the
//! [`super::HttpContext`] gets those requests with their body read (at most
//! [`MAX_APP_BODY`] bytes) and answers them. HTTP knows nothing of what it serves.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::response::{text, Body};

/// Largest request body an [`App`] is handed (bytes): its JSON requests are a few hundred
/// bytes; anything larger is refused (413) before it is buffered.
pub const MAX_APP_BODY: usize = 64 * 1024;

/// The body type an [`App`] answers with (any stream of bytes: a page, JSON, events).
pub type AppBody = http_body_util::combinators::BoxBody<Bytes, std::io::Error>;

/// The answer an [`App`] is working on.
pub type AppFuture = Pin<Box<dyn Future<Output = Response<AppBody>> + Send>>;

/// An application served on the one port.
pub trait App: Send + Sync {
    /// Answers `req` (body read whole) from the client at `peer`.
    fn handle(&self, peer: SocketAddr, req: Request<Bytes>) -> AppFuture;
}

/// Whether a request path belongs to the application: the page at `/`, its assets under
/// `/ui/` and its API under `/api/`.
pub fn is_app_path(path: &str) -> bool {
    path == "/" || path.starts_with("/ui/") || path.starts_with("/api/")
}

/// Reads the body (at most [`MAX_APP_BODY`], else 413) and hands the request to `app`.
pub(super) async fn serve(
    app: &dyn App,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let (head, body) = req.into_parts();
    let body = match Limited::new(body, MAX_APP_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body over {MAX_APP_BODY} bytes\n"),
            )
        }
    };
    app.handle(peer, Request::from_parts(head, body)).await
}
