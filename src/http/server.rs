//! The HTTP side of the one port: routes requests to `/status` (loopback clients only) and
//! answers everything else 404 until the shared library is wired in.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures::io::{AsyncRead, AsyncWrite};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::io::HyperIo;

/// What the HTTP side needs from the rest of the servent.
pub struct HttpContext {
    /// Renders `/status` as JSON.
    pub status: Box<dyn Fn() -> String + Send + Sync>,
    /// `User-Agent`/`Server` value.
    pub server_name: String,
}

pub type Body = Full<Bytes>;

/// Serves HTTP/1.1 (keep-alive) on one accepted connection whose first bytes, already
/// read to dispatch it, are `prefix`.
pub async fn serve_connection<S>(
    io: S,
    prefix: Vec<u8>,
    peer: SocketAddr,
    ctx: Arc<HttpContext>,
) -> Result<(), hyper::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let ctx = Arc::clone(&ctx);
        async move { Ok::<_, Infallible>(route(&ctx, peer, req)) }
    });
    hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(HyperIo::new(io, prefix), service)
        .await
}

fn route(ctx: &HttpContext, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::GET, "/status") if peer.ip().is_loopback() => {
            let mut r = text(StatusCode::OK, (ctx.status)());
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            r
        }
        (&Method::GET, "/status") => text(
            StatusCode::FORBIDDEN,
            "status is for loopback clients\n".into(),
        ),
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

pub fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}
