//! The HTTP side of the one port: routes requests to `/status` (loopback clients only),
//! shared files (`/get/<index>/<name>`, `/uri-res/N2R?urn:sha1:...`, see [`super::files`])
//! `POST /library/rescan` (loopback only) and the application set in the context (the web
//! interface: `/`, `/ui/`, `/api/`, see [`super::app`]); another path is 404 and another method 405
//! (with `Allow`). Each connection is admitted by the gate ([`super::admission`]) and
//! held to its deadlines ([`super::deadline`]). Plain file requests are answered on the
//! fast path ([`super::fast`]); hyper takes the connection at the first other request.
//! Every request is logged ([`super::access_log`]) unless the context says not to.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use futures::io::{AsyncRead, AsyncWrite};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::access_log::{self, Logged};
use super::admission::{is_loopback, refuse, Permit};
pub use super::context::{HttpContext, DEFAULT_MAX_UPLOADS};
use super::deadline::{DeadlineIo, Tracked};
use super::ended::HttpEnd;
use super::fast::{self, Fast};
use super::files;
use super::io::HyperIo;
use super::response::{text, Body};
use crate::rt::{self, TcpStream};

/// How long after our own head or idle deadline hyper's header timer closes a connection:
/// late enough that ours always fire first and count the end.
const HYPER_HEADER_BACKSTOP: std::time::Duration = std::time::Duration::from_secs(5);

/// Serves one accepted connection: admission through the gate (refused: 503 and closed),
/// then HTTP/1.1 with keep-alive under the connection's deadlines. `prefix` holds its
/// first bytes, already read to dispatch it, the first of them at `head_started`. Returns
/// how it ended, already counted in `ctx.stats.ended`.
pub async fn serve_accepted(
    io: TcpStream,
    prefix: Vec<u8>,
    head_started: Instant,
    peer: SocketAddr,
    ctx: Arc<HttpContext>,
) -> HttpEnd {
    match ctx.gate.admit(peer.ip(), head_started) {
        Err(end) => {
            ctx.stats.ended.count(end);
            refuse(io).await;
            end
        }
        Ok(permit) => {
            let end = serve_admitted(io, prefix, peer, Arc::clone(&ctx), &permit).await;
            drop(permit);
            ctx.stats.ended.count(end);
            end
        }
    }
}

/// Serves requests on a connection holding `permit` until the client leaves, a request
/// is malformed or a deadline passes; returns how it ended (not counted here). Its plain
/// file requests are answered on the fast path until another one comes, then hyper
/// serves the rest of the connection.
pub async fn serve_admitted(
    io: TcpStream,
    prefix: Vec<u8>,
    peer: SocketAddr,
    ctx: Arc<HttpContext>,
    permit: &Permit,
) -> HttpEnd {
    let watch = Arc::clone(&permit.watch);
    let limits = *ctx.gate.limits();
    let mut io = DeadlineIo::new(io, Arc::clone(&watch), limits);
    let prefix = match fast::serve(&mut io, prefix, peer, &ctx, &watch).await {
        Fast::Ended(end) => return end,
        Fast::Handoff(rest) => rest,
    };
    serve_hyper(HyperIo::new(io, prefix), peer, ctx, permit).await
}

/// Serves the rest of a connection with hyper.
async fn serve_hyper<S>(
    io: HyperIo<S>,
    peer: SocketAddr,
    ctx: Arc<HttpContext>,
    permit: &Permit,
) -> HttpEnd
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watch = Arc::clone(&permit.watch);
    let limits = *ctx.gate.limits();
    let access = ctx.access_log;
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        watch.request_started();
        let ctx = Arc::clone(&ctx);
        let watch = Arc::clone(&watch);
        let line = access_log::enabled(ctx.access_log).then(|| {
            let target = req.uri().path_and_query().map_or("", |p| p.as_str());
            access_log::Request::new(peer, req.method().as_str(), target)
        });
        async move {
            let response = route(ctx, peer, req).await;
            let status = response.status().as_u16();
            let response = match line {
                Some(line) => response.map(|body| Logged::new(body, line, status).boxed()),
                None => response,
            };
            Ok::<_, Infallible>(response.map(|body| Tracked::new(body, watch)))
        }
    });
    // Our deadlines (`deadline.rs`) cut first; hyper's header timer, on the runtime seam,
    // is the backstop should a connection ever slip past them.
    let backstop = limits.head_timeout.max(limits.idle_timeout) + HYPER_HEADER_BACKSTOP;
    let result = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .timer(rt::HyperTimer)
        .header_read_timeout(backstop)
        .serve_connection(io, service)
        .await;
    if let Err(e) = &result {
        log::debug!("http connection from {peer}: {e}");
        // hyper answers a head it cannot parse itself (400, or 431 when too large),
        // before any route sees it: the access log still gets its line.
        if (e.is_parse() || e.is_parse_too_large()) && access_log::enabled(access) {
            let status = if e.is_parse_too_large() { 431 } else { 400 };
            access_log::line(&access_log::Request::new(peer, "-", "-"), status, 0);
        }
    }
    permit.watch.cut().unwrap_or(match result {
        Ok(()) => HttpEnd::Completed,
        Err(e) if e.is_parse() || e.is_parse_too_large() => HttpEnd::BadRequest,
        Err(e) if e.is_timeout() => HttpEnd::HeadTimeout,
        Err(_) => HttpEnd::Reset,
    })
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
    let method = req.method();
    match (method, path) {
        (&Method::GET, "/status") if is_loopback(peer.ip()) => {
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
            let answer = files::get_by_index(ctx, &req).await;
            answer.into_response(ctx).await
        }
        (&Method::GET | &Method::HEAD, "/uri-res/N2R") => {
            let answer = files::get_by_urn(ctx, &req).await;
            answer.into_response(ctx).await
        }
        (&Method::GET | &Method::HEAD, "/") if super::browse::wants_packets(&req) => {
            super::browse::browse_host(ctx, &req)
        }
        // The application answers GET, HEAD and POST; another method is 405 as anywhere.
        (&Method::GET | &Method::HEAD | &Method::POST, p)
            if super::app::is_app_path(p) && ctx.app.get().is_some() =>
        {
            let app = ctx.app.get().map(Arc::clone);
            match app {
                Some(app) => super::app::serve(app.as_ref(), peer, req).await,
                None => text(StatusCode::NOT_FOUND, "not found\n".into()),
            }
        }
        (&Method::POST, "/library/rescan") => rescan(ctx, peer).await,
        (_, "/library/rescan") => not_allowed("POST"),
        (&Method::GET | &Method::HEAD, _) => text(StatusCode::NOT_FOUND, "not found\n".into()),
        _ => not_allowed("GET, HEAD"),
    }
}

/// 405 naming the methods the path answers.
fn not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, format!("use {allow}\n"));
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

/// `POST /library/rescan`: loopback clients only; answers the rescan report as JSON.
async fn rescan(ctx: &Arc<HttpContext>, peer: SocketAddr) -> Response<Body> {
    if !is_loopback(peer.ip()) {
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
