//! The routes of the web interface: every request passes [`super::security::check`]
//! first, then `/` and `/ui/*` answer the embedded page and assets, and `/api/v1/*` the
//! JSON API (errors as `{"error": "..."}` with a 4xx status). The endpoints and an
//! example of each are in `protocol/ui-api.md`.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::download::magnet::Magnet;
use crate::http::app::AppBody;
use crate::library::hash;
use crate::rt;

use super::compare::{self, CompareRequest};
use super::downloads::NewDownload;
use super::push::source_urls;
use super::security::{self, Access, TOKEN_COOKIE};
use super::Ui;

/// The page.
const INDEX_HTML: &str = include_str!("assets/index.html");
/// Its style sheet.
const APP_CSS: &str = include_str!("assets/app.css");
/// Its script.
const APP_JS: &str = include_str!("assets/app.js");

/// What the page may load: only itself (no CDN, no inline script), and it may not be
/// framed by another site (clickjacking).
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// An API failure: its status and message (answered as `{"error": message}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The 4xx (or 5xx) status.
    pub status: StatusCode,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with this status.
    pub fn new(status: StatusCode, message: String) -> ApiError {
        ApiError { status, message }
    }

    /// 400: the request is wrong.
    pub fn bad(message: String) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: no such thing.
    pub fn not_found(message: String) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

fn body(bytes: Bytes) -> AppBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

fn answer(status: StatusCode, content_type: &'static str, bytes: Bytes) -> Response<AppBody> {
    let mut r = Response::new(body(bytes));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A JSON answer.
pub fn json_response(status: StatusCode, v: &Value) -> Response<AppBody> {
    answer(status, "application/json", Bytes::from(v.to_string()))
}

fn error(e: ApiError) -> Response<AppBody> {
    json_response(e.status, &json!({ "error": e.message }))
}

/// The answer once the interface is gone (the servent is shutting down).
pub fn gone() -> Response<AppBody> {
    error(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the web interface is shutting down".into(),
    ))
}

/// Answers one request of the interface.
pub async fn route(ui: Arc<Ui>, peer: SocketAddr, req: Request<Bytes>) -> Response<AppBody> {
    let access = security::check(
        &ui.config.access,
        peer.ip(),
        req.method(),
        req.headers(),
        req.uri().query(),
    );
    let access = match access {
        Ok(a) => a,
        Err(refusal) => return error(ApiError::new(refusal.status, refusal.reason.into())),
    };
    let path = req.uri().path().to_owned();
    match (req.method().clone(), path.as_str()) {
        (Method::GET | Method::HEAD, "/") => page(&ui, access),
        (Method::GET | Method::HEAD, "/ui/app.css") => answer(
            StatusCode::OK,
            "text/css; charset=utf-8",
            Bytes::from_static(APP_CSS.as_bytes()),
        ),
        (Method::GET | Method::HEAD, "/ui/app.js") => answer(
            StatusCode::OK,
            "text/javascript; charset=utf-8",
            Bytes::from_static(APP_JS.as_bytes()),
        ),
        (method, p) => match p.strip_prefix("/api/v1/") {
            Some(rest) => {
                let rest = rest.to_owned();
                match api(&ui, &method, &rest, req.body()).await {
                    Ok(r) => r,
                    Err(e) => error(e),
                }
            }
            None => error(ApiError::not_found(format!("no page at {p}"))),
        },
    }
}

/// The page, with its security headers; opened with `?token=`, it sets the cookie its own
/// requests then carry.
fn page(ui: &Ui, access: Access) -> Response<AppBody> {
    let mut r = answer(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from_static(INDEX_HTML.as_bytes()),
    );
    let h = r.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if access == Access::TokenInUrl {
        if let Some(t) = &ui.config.access.token {
            let cookie = format!("{TOKEN_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                h.insert(SET_COOKIE, v);
            }
        }
    }
    r
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("bad JSON body: {e}")))
}

fn ok(v: Value) -> Result<Response<AppBody>, ApiError> {
    Ok(json_response(StatusCode::OK, &v))
}

fn created(id: u64) -> Result<Response<AppBody>, ApiError> {
    Ok(json_response(StatusCode::CREATED, &json!({ "id": id })))
}

fn id_of(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found(format!("no such id {text:?}")))
}

#[derive(Deserialize)]
struct SearchBody {
    pattern: String,
    #[serde(default = "default_strategy")]
    strategy: String,
}

fn default_strategy() -> String {
    "flood".into()
}

#[derive(Deserialize)]
struct DownloadBody {
    search: Option<u64>,
    sha1: Option<String>,
    magnet: Option<String>,
    /// A name other than the result's or magnet's own (made safe, or refused).
    name: Option<String>,
}

/// The `/api/v1/` routes (`rest` is the path after that prefix).
async fn api(
    ui: &Arc<Ui>,
    method: &Method,
    rest: &str,
    body: &Bytes,
) -> Result<Response<AppBody>, ApiError> {
    let parts: Vec<&str> = rest.split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::GET, ["status"]) => ok(ui.node.status()),
        (&Method::GET, ["searches"]) => ok(ui.search_list()),
        (&Method::POST, ["searches"]) => {
            let b: SearchBody = parse(body)?;
            created(ui.start_search(&b.pattern, &b.strategy)?)
        }
        (&Method::GET, ["searches", id]) => {
            let id = id_of(id)?;
            ui.search_detail(id)
                .map(|v| json_response(StatusCode::OK, &v))
                .ok_or_else(|| ApiError::not_found(format!("no search {id}")))
        }
        (&Method::GET, ["downloads"]) => ok(ui.download_list()),
        (&Method::POST, ["downloads"]) => {
            let b: DownloadBody = parse(body)?;
            created(ui.add_download(new_download(ui, b)?)?)
        }
        (&Method::GET, ["downloads", id]) => {
            let id = id_of(id)?;
            ui.download_json(id)
                .map(|v| json_response(StatusCode::OK, &v))
                .ok_or_else(|| ApiError::not_found(format!("no download {id}")))
        }
        (&Method::POST, ["downloads", id, action]) => {
            ok(ui.download_action(id_of(id)?, action).await?)
        }
        (&Method::GET, ["library"]) => ok(ui.library_json()),
        (&Method::POST, ["library", "rescan"]) => ok(ui.rescan().await?),
        (&Method::GET, ["neighbours"]) => ok(ui.neighbours_json()),
        (&Method::GET, ["hosts"]) => ok(ui.hosts_json()),
        (&Method::GET, ["rates"]) => ok(ui.rates_json()),
        (&Method::POST, ["compare"]) => {
            let req: CompareRequest = parse(body)?;
            ok(ui.compare(req).await?)
        }
        (&Method::GET, ["events"]) => match ui.events.subscribe() {
            Some(stream) => {
                let mut r = Response::new(stream);
                let h = r.headers_mut();
                h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
                h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                Ok(r)
            }
            None => Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "at most {} event streams at once",
                    super::events::MAX_STREAMS
                ),
            )),
        },
        _ => Err(ApiError::not_found(format!(
            "no endpoint {method} /api/v1/{rest}"
        ))),
    }
}

/// The download a POST asks for: a group of a search (every source), or a magnet link.
fn new_download(ui: &Ui, b: DownloadBody) -> Result<NewDownload, ApiError> {
    let mut new = match (b.search, b.sha1, b.magnet) {
        (Some(search), Some(sha1), None) => {
            let (group, firewalled) = ui.search_group(search, &sha1).ok_or_else(|| {
                ApiError::not_found(format!("search {search} has no result {sha1}"))
            })?;
            // Firewalled or unreachable sources by Push, the others directly; every one
            // by Push should no direct connect work.
            let (sources, pushed) = source_urls(&group.sources, &firewalled);
            NewDownload {
                name: group.name.clone(),
                sources,
                fallback: Some(pushed),
                sha1: Magnet::for_group(&group).sha1,
                size: Some(group.size),
            }
        }
        (None, None, Some(text)) => {
            let m = Magnet::parse(&text).map_err(|e| ApiError::bad(format!("magnet: {e}")))?;
            let name = m
                .name
                .clone()
                .or_else(|| {
                    m.sources
                        .iter()
                        .find_map(|u| crate::download::file_name_from_url(u))
                })
                .or_else(|| m.sha1.map(|d| hash::urn(&d)[9..].to_owned()))
                .unwrap_or_default();
            NewDownload {
                name,
                sources: m.sources,
                fallback: None,
                sha1: m.sha1,
                size: m.size,
            }
        }
        _ => {
            return Err(ApiError::bad(
                "give {\"search\": N, \"sha1\": \"BASE32\"} or {\"magnet\": \"magnet:?...\"}"
                    .into(),
            ))
        }
    };
    if let Some(name) = b.name {
        new.name = name;
    }
    Ok(new)
}

impl Ui {
    /// `GET /api/v1/library`.
    pub fn library_json(&self) -> Value {
        let Some(lib) = &self.library else {
            return json!({"folders": [], "files": 0, "bytes": 0, "hashing": {"pending": 0, "done": 0}});
        };
        let idx = lib.snapshot();
        let files = idx.files();
        let hashed = files.iter().filter(|f| f.sha1().is_some()).count();
        json!({
            "folders": lib.roots().iter().map(|r| r.display().to_string()).collect::<Vec<_>>(),
            "files": files.len(),
            "bytes": files.iter().map(|f| f.size).sum::<u64>(),
            "hashing": { "pending": lib.pending_hashes(), "done": hashed },
        })
    }

    /// `POST /api/v1/library/rescan`: the rescan's report.
    async fn rescan(&self) -> Result<Value, ApiError> {
        let lib = self
            .library
            .clone()
            .ok_or_else(|| ApiError::not_found("this servent shares no files".into()))?;
        let report = rt::spawn_blocking(move || lib.rescan()).await;
        Ok(serde_json::to_value(report).unwrap_or_default())
    }

    /// `POST /api/v1/compare`: one at a time, on a blocking thread.
    async fn compare(&self, req: CompareRequest) -> Result<Value, ApiError> {
        if self.compare_running.swap(true, Ordering::AcqRel) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "a comparison is already running".into(),
            ));
        }
        let result = rt::spawn_blocking(move || compare::run(&req)).await;
        self.compare_running.store(false, Ordering::Release);
        result
    }
}
