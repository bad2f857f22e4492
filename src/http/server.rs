//! The HTTP side of the one port: routes requests to `/status` (loopback clients only),
//! shared files (`/get/<index>/<name>`, `/uri-res/N2R?urn:sha1:...`, see [`super::files`])
//! and `POST /library/rescan` (loopback only); everything else is 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::io::{AsyncRead, AsyncWrite};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

pub use super::context::{HttpContext, DEFAULT_MAX_UPLOADS};
use super::files;
use super::io::HyperIo;
use super::response::{text, Body};
use crate::rt;

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
        async move { Ok::<_, Infallible>(route(ctx, peer, req).await) }
    });
    hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(HyperIo::new(io, prefix), service)
        .await
}

async fn route(ctx: Arc<HttpContext>, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    ctx.stats.requests.fetch_add(1, Ordering::Relaxed);
    let mut response = dispatch(&ctx, peer, req).await;
    if let Some(v) = ctx.server_header() {
        response
            .headers_mut()
            .insert(hyper::header::SERVER, v.clone());
    }
    response
}

async fn dispatch(
    ctx: &Arc<HttpContext>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<Body> {
    let path = req.uri().path();
    let file_path = path.starts_with("/get/") || path == "/uri-res/N2R";
    match (req.method(), path) {
        (&Method::GET, "/status") if peer.ip().is_loopback() => {
            let mut r = text(StatusCode::OK, (ctx.status)());
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            r
        }
        (&Method::GET, "/status") => text(
            StatusCode::FORBIDDEN,
            "status is for loopback clients\n".into(),
        ),
        (&Method::GET | &Method::HEAD, p) if p.starts_with("/get/") => {
            files::get_by_index(ctx, &req).await
        }
        (&Method::GET | &Method::HEAD, "/uri-res/N2R") => files::get_by_urn(ctx, &req).await,
        (_, _) if file_path => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "use GET or HEAD\n".into());
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
        (&Method::POST, "/library/rescan") => rescan(ctx, peer).await,
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

/// `POST /library/rescan`: loopback clients only; answers the rescan report as JSON.
async fn rescan(ctx: &Arc<HttpContext>, peer: SocketAddr) -> Response<Body> {
    if !peer.ip().is_loopback() {
        return text(
            StatusCode::FORBIDDEN,
            "rescan is for loopback clients\n".into(),
        );
    }
    let Some(lib) = ctx.library.clone() else {
        return text(
            StatusCode::NOT_FOUND,
            "this servent shares no files\n".into(),
        );
    };
    let report = rt::spawn_blocking(move || lib.rescan()).await;
    ctx.open_files.clear();
    let mut r = text(
        StatusCode::OK,
        serde_json::to_string(&report).unwrap_or_default() + "\n",
    );
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
