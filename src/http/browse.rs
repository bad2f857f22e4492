//! Browse host, the server side: `GET /` with `Accept: application/x-gnutella-packets`
//! answers the whole library as a stream of QueryHit descriptors (as gtk-gnutella and
//! LimeWire send it: hits of about 3.5 KB built by [`crate::library::browse`], a hundred
//! files at a time, zlib-deflated under `Content-Encoding: deflate` when the client
//! accepts it). A `GET /` without that `Accept` (a browser) is not a browse and keeps its
//! answer.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress, Status};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use hyper::header::{HeaderMap, ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, HOST};
use hyper::{Request, Response, StatusCode};

use super::context::HttpContext;
use super::response::{put, respond, Body};
use crate::library::browse::HitEncoder;
use crate::library::index::Index;

/// The media type of a stream of Gnutella descriptors.
pub const GNUTELLA_PACKETS: &str = "application/x-gnutella-packets";

/// Files turned into hits per step of the body (gtk-gnutella scans 100 ahead): a step's
/// bytes are one frame, so memory stays at a few hundred KB whatever the library's size.
const FILES_PER_STEP: usize = 100;

/// Whether a request asks for a browse: its `Accept` lists
/// `application/x-gnutella-packets` (any case, parameters ignored).
pub fn wants_packets<B>(req: &Request<B>) -> bool {
    req.headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case(GNUTELLA_PACKETS))
        })
}

/// Whether the client takes `Content-Encoding: deflate` (its `Accept-Encoding` lists
/// `deflate` without `q=0`).
fn accepts_deflate(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let mut parts = t.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            coding.eq_ignore_ascii_case("deflate") && !refused
        })
}

/// The address the client reached us at, from its `Host` header (`ip:port`), to put in
/// the hits; 0.0.0.0 when it names us by a host name, port 0 when it gives none (a client
/// then uses the address it connected to, as gtk-gnutella does for an unroutable one).
fn our_address(headers: &HeaderMap) -> SocketAddrV4 {
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Ok(a) = host.trim().parse::<SocketAddrV4>() {
        return a;
    }
    let port = host
        .rsplit_once(':')
        .and_then(|(_, p)| p.trim().parse().ok())
        .unwrap_or(0);
    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)
}

/// Answers a browse: `200` with `Content-Type: application/x-gnutella-packets`, the
/// library's files as QueryHits (none when the servent shares nothing), deflated when
/// the client accepts it. The length is not known ahead: chunked on HTTP/1.1, ended by
/// closing on HTTP/1.0.
pub(super) fn browse_host<B>(ctx: &Arc<HttpContext>, req: &Request<B>) -> Response<Body> {
    let deflate = accepts_deflate(req.headers());
    let mut headers = HeaderMap::new();
    put(&mut headers, CONTENT_TYPE, GNUTELLA_PACKETS);
    if deflate {
        put(&mut headers, CONTENT_ENCODING, "deflate");
    }
    let files = ctx
        .library
        .as_ref()
        .map(|l| l.snapshot())
        .unwrap_or_default();
    log::debug!(
        "browse host: {} files{}",
        files.len(),
        if deflate { ", deflated" } else { "" }
    );
    let body = HitStream {
        files,
        next: 0,
        encoder: HitEncoder::new(our_address(req.headers()), ctx.servent_id),
        deflate: deflate.then(|| Compress::new(Compression::default(), true)),
        done: false,
    };
    respond(StatusCode::OK, headers, body.boxed())
}

/// The body of a browse: the snapshot's files as hits, [`FILES_PER_STEP`] at a time.
struct HitStream {
    files: Arc<Index>,
    next: usize,
    encoder: HitEncoder,
    deflate: Option<Compress>,
    done: bool,
}

impl HitStream {
    /// The next bytes to send, or `None` at the end.
    fn step(&mut self) -> io::Result<Option<Bytes>> {
        while !self.done {
            let files = self.files.files();
            let end = (self.next + FILES_PER_STEP).min(files.len());
            let mut raw = Vec::new();
            self.encoder.encode(&files[self.next..end], &mut raw);
            self.next = end;
            let last = end == files.len();
            self.done = last;
            let out = match &mut self.deflate {
                Some(z) => deflate(z, &raw, last)?,
                None => raw,
            };
            if !out.is_empty() {
                return Ok(Some(Bytes::from(out)));
            }
        }
        Ok(None)
    }
}

impl hyper::body::Body for HitStream {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(
            self.get_mut()
                .step()
                .transpose()
                .map(|r| r.map(Frame::data)),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        if self.done {
            SizeHint::with_exact(0)
        } else {
            SizeHint::default()
        }
    }
}

/// Compresses `input` into the zlib stream (finishing it when `last`); returns what came
/// out (often nothing until deflate's buffer fills).
fn deflate(z: &mut Compress, mut input: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::None
    };
    let mut out = Vec::with_capacity(input.len() / 2 + 64);
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(4096));
        }
        let before = z.total_in();
        let status = z
            .compress_vec(input, &mut out, flush)
            .map_err(|e| io::Error::other(e.to_string()))?;
        input = &input[(z.total_in() - before) as usize..];
        let finished = if last {
            status == Status::StreamEnd
        } else {
            input.is_empty() && out.len() < out.capacity()
        };
        if finished {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library::browse::HitStreamReader;
    use crate::library::SharedFile;

    fn req(accept: &str, encoding: &str, host: &str) -> Request<()> {
        Request::builder()
            .uri("/")
            .header(ACCEPT, accept)
            .header(ACCEPT_ENCODING, encoding)
            .header(HOST, host)
            .body(())
            .unwrap()
    }

    #[test]
    fn who_is_browsing() {
        assert!(wants_packets(&req(
            "text/html, Application/X-Gnutella-Packets;q=0.9",
            "",
            ""
        )));
        assert!(!wants_packets(&req("text/html,*/*", "", "")));
        assert!(!wants_packets(&req("application/x-gnutella2", "", "")));
        assert!(accepts_deflate(req("", "gzip, deflate", "").headers()));
        assert!(!accepts_deflate(req("", "deflate;q=0, gzip", "").headers()));
        assert!(!accepts_deflate(req("", "gzip", "").headers()));
        assert_eq!(
            our_address(req("", "", "10.1.2.3:6346").headers()),
            "10.1.2.3:6346".parse().unwrap()
        );
        assert_eq!(
            our_address(req("", "", "host.example:81").headers()),
            "0.0.0.0:81".parse().unwrap()
        );
    }

    #[test]
    fn deflated_stream_inflates_to_the_same_hits() {
        let files: Vec<Arc<SharedFile>> = (0..450u32)
            .map(|i| Arc::new(SharedFile::detached(i, &format!("song {i}.ogg"), 1000)))
            .collect();
        let encoder = HitEncoder::new("127.0.0.1:1".parse().unwrap(), None);
        let mut plain = Vec::new();
        encoder.encode(&files[..100], &mut plain);
        let mut s = HitStream {
            files: Arc::new(Index::new(files)),
            next: 0,
            encoder,
            deflate: Some(Compress::new(Compression::default(), true)),
            done: false,
        };
        let mut zipped = Vec::new();
        while let Some(b) = s.step().unwrap() {
            zipped.extend_from_slice(&b);
        }
        let mut inflated = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::ZlibDecoder::new(&zipped[..]),
            &mut inflated,
        )
        .unwrap();
        assert!(inflated.starts_with(&plain));
        let mut reader = HitStreamReader::new(1000);
        reader.push(&inflated).unwrap();
        let listing = reader.finish().unwrap();
        assert_eq!(listing.files.len(), 450);
        assert_eq!(listing.files[449].name, "song 449.ogg");
    }
}
