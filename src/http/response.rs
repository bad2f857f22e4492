//! Building responses: the boxed body type every route answers with, plain-text answers,
//! and the small helpers the file routes assemble headers and bodies with.

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

/// What every route answers with.
pub(super) type Body = BoxBody<Bytes, std::io::Error>;

/// A `text/plain` answer.
pub(super) fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(full(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Sets a header when `value` is a valid header value.
pub(super) fn put(h: &mut HeaderMap, name: impl header::IntoHeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// A response of `status` with these headers and body.
pub(super) fn respond(status: StatusCode, headers: HeaderMap, body: Body) -> Response<Body> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

/// An empty body.
pub(super) fn empty() -> Body {
    full(Bytes::new())
}

/// A body of bytes in memory.
pub(super) fn full(b: Bytes) -> Body {
    Full::new(b).map_err(|never| match never {}).boxed()
}
