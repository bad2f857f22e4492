//! The HTTP side of the one port: routes requests to `/status` (loopback clients only),
//! shared files (`/get/<index>/<name>`, `/uri-res/N2R?urn:sha1:...`, see [`super::files`])
//! and `POST /library/rescan` (loopback only); everything else is 404.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures::io::{AsyncRead, AsyncWrite};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::files::{self, HttpStats, OpenFiles, UploadSlots};
use super::io::HyperIo;
use crate::library::Library;
use crate::rt;

/// Upload slots when none are configured: a handful of parallel uploads, as servents
/// on home links offer.
pub const DEFAULT_MAX_UPLOADS: usize = 8;

/// What the HTTP side needs from the rest of the servent. Build it with
/// [`HttpContext::new`] and the `with_*` setters.
pub struct HttpContext {
    /// Renders `/status` as JSON.
    pub status: Box<dyn Fn() -> String + Send + Sync>,
    /// `User-Agent`/`Server` value.
    pub server_name: String,
    /// The shared files; `None` shares nothing.
    pub library: Option<Arc<Library>>,
    pub uploads: UploadSlots,
    pub stats: HttpStats,
    pub(crate) open_files: OpenFiles,
    server_header: OnceLock<Option<HeaderValue>>,
}

impl HttpContext {
    pub fn new(
        server_name: impl Into<String>,
        status: impl Fn() -> String + Send + Sync + 'static,
    ) -> HttpContext {
        HttpContext {
            status: Box::new(status),
            server_name: server_name.into(),
            library: None,
            uploads: UploadSlots::new(DEFAULT_MAX_UPLOADS),
            stats: HttpStats::default(),
            open_files: OpenFiles::default(),
            server_header: OnceLock::new(),
        }
    }

    /// Serves the files of `library`.
    pub fn with_library(mut self, library: Arc<Library>) -> HttpContext {
        self.library = Some(library);
        self
    }

    /// At most `n` file bodies at once; more get 503 with `Retry-After`.
    pub fn with_max_uploads(mut self, n: usize) -> HttpContext {
        self.uploads = UploadSlots::new(n);
        self
    }
}

pub type Body = BoxBody<Bytes, std::io::Error>;

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
    let server = ctx
        .server_header
        .get_or_init(|| HeaderValue::from_str(&ctx.server_name).ok());
    if let Some(v) = server {
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

pub fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
