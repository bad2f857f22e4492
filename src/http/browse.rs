//! Browse host, the server side: `GET /` with `Accept: application/x-gnutella-packets`
//! answers the whole library as a stream of QueryHit descriptors (as gtk-gnutella and
//! LimeWire send it: hits of about 3.5 KB, built a hundred files at a time, zlib-deflated
//! under `Content-Encoding: deflate` when the client accepts it). A `GET /` without that
//! `Accept` (a browser) is not a browse and keeps its answer.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress, Status};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use hyper::header::{HeaderMap, ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, HOST};
use hyper::{Request, Response, StatusCode};

use super::context::HttpContext;
use super::response::{put, respond, Body};
use crate::library::hits::lf_extension;
use crate::library::index::Index;
use crate::library::SharedFile;
use crate::proto::payload::hash::sha1_urn;
use crate::proto::payload::{Extension, HitResult, QueryHit, Trailer};
use crate::proto::{Descriptor, Guid, Payload};

/// The media type of a stream of Gnutella descriptors.
pub const GNUTELLA_PACKETS: &str = "application/x-gnutella-packets";

/// A QueryHit is closed once its payload reaches this many bytes (gtk-gnutella's
/// `BH_MAX_QHIT_SIZE`): big enough that headers and trailers are a small overhead, small
/// enough that no servent drops it as oversized.
pub const BROWSE_HIT_TARGET_LEN: usize = 3500;

/// Files turned into hits per step of the body (gtk-gnutella scans 100 ahead): a step's
/// bytes are one frame, so memory stays at a few hundred KB whatever the library's size.
const FILES_PER_STEP: usize = 100;

/// Results in one QueryHit at most (the count is one byte).
const MAX_RESULTS_PER_HIT: usize = 255;

/// TTL and hops of the hits, as gtk-gnutella sets them: they travel one hop, ours.
const BROWSE_TTL: u8 = 1;
const BROWSE_HOPS: u8 = 0;

/// Vendor code in the hits' trailer.
const VENDOR_CODE: [u8; 4] = *b"SRVT";

/// Speed field of the hits, kbit/s: the HTTP side does not measure one, and a browsing
/// client already has the connection.
const BROWSE_SPEED_KBPS: u32 = 0;

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

/// The servent ID in our hits: one per process, never blank (gtk-gnutella drops hits
/// with a blank servent ID).
fn browse_servent_id() -> Guid {
    static ID: OnceLock<Guid> = OnceLock::new();
    *ID.get_or_init(Guid::new_v4)
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
        addr: our_address(req.headers()),
        guid: Guid::new_v4(),
        deflate: deflate.then(|| Compress::new(Compression::default(), true)),
        done: false,
    };
    respond(StatusCode::OK, headers, body.boxed())
}

/// Encodes the hits for `files`, each closed at [`BROWSE_HIT_TARGET_LEN`] bytes or 255
/// results, appending the descriptors to `out`.
pub fn encode_hits(
    files: &[Arc<SharedFile>],
    addr: SocketAddrV4,
    guid: Guid,
    servent_id: Guid,
    out: &mut Vec<u8>,
) {
    let mut pending: VecDeque<HitResult> = files.iter().map(|f| hit_result(f)).collect();
    while !pending.is_empty() {
        let mut results = Vec::new();
        let mut len = 0;
        while let Some(r) = pending.pop_front() {
            // index + size + name NUL + extension area NUL; URNs and GGEP are short.
            len += 10 + r.name.len() + 64;
            results.push(r);
            if len >= BROWSE_HIT_TARGET_LEN || results.len() == MAX_RESULTS_PER_HIT {
                break;
            }
        }
        let hit = QueryHit {
            port: addr.port(),
            ip: *addr.ip(),
            speed: BROWSE_SPEED_KBPS,
            results,
            trailer: Some(Trailer::new(VENDOR_CODE, false, false, false, false)),
            servent_id,
        };
        let d = Descriptor::new(guid, BROWSE_TTL, BROWSE_HOPS, Payload::QueryHit(hit));
        if let Err(e) = d.encode(out) {
            // A name of tens of KB: that file is left out rather than the library.
            log::debug!("browse host: a hit left out: {e}");
        }
    }
}

/// One result: index, size, name and, in the extension area, the SHA-1 as text
/// `urn:sha1:` (read by every servent) and the GGEP `LF` of a file of 4 GiB and more.
fn hit_result(f: &SharedFile) -> HitResult {
    let mut extensions: Vec<Extension> = f
        .sha1()
        .iter()
        .map(|d| Extension::Urn(sha1_urn(d)))
        .collect();
    let size = match u32::try_from(f.size) {
        Ok(s) if s != u32::MAX => s,
        _ => {
            extensions.push(lf_extension(f.size));
            u32::MAX
        }
    };
    HitResult {
        index: f.index,
        size,
        name: f.name.as_bytes().to_vec(),
        extensions,
    }
}

/// The body of a browse: the snapshot's files as hits, [`FILES_PER_STEP`] at a time.
struct HitStream {
    files: Arc<Index>,
    next: usize,
    addr: SocketAddrV4,
    guid: Guid,
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
            encode_hits(
                &files[self.next..end],
                self.addr,
                self.guid,
                browse_servent_id(),
                &mut raw,
            );
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
    use crate::proto::frame;

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
    fn a_library_as_hits_of_bounded_size() {
        let files: Vec<Arc<SharedFile>> = (0..1000u32)
            .map(|i| {
                let size = if i == 7 { 5 << 30 } else { u64::from(i) * 10 };
                Arc::new(SharedFile::detached(
                    i,
                    &format!("file number {i}.txt"),
                    size,
                ))
            })
            .collect();
        let addr: SocketAddrV4 = "127.0.0.1:6346".parse().unwrap();
        let mut wire = Vec::new();
        encode_hits(&files, addr, Guid::new_v4(), Guid::new_v4(), &mut wire);
        let mut seen = Vec::new();
        for d in frame::parse_all(&wire).unwrap() {
            let d = d.unwrap();
            assert_eq!((d.ttl, d.hops), (1, 0));
            let Payload::QueryHit(h) = &*d.payload else {
                panic!("not a hit")
            };
            assert_eq!((h.ip, h.port), (*addr.ip(), addr.port()));
            assert!(d.to_bytes().unwrap().len() < BROWSE_HIT_TARGET_LEN + 200);
            for r in &h.results {
                seen.push((r.index, crate::library::hits::result_size(r)));
            }
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(seen[7], (7, 5 << 30), "a 5 GiB file's size via LF");
        assert_eq!(seen[999], (999, 9990));
    }

    #[test]
    fn deflated_stream_inflates_to_the_same_hits() {
        let files: Vec<Arc<SharedFile>> = (0..450u32)
            .map(|i| Arc::new(SharedFile::detached(i, &format!("song {i}.ogg"), 1000)))
            .collect();
        let addr: SocketAddrV4 = "127.0.0.1:1".parse().unwrap();
        let (guid, id) = (Guid::new_v4(), browse_servent_id());
        let mut plain = Vec::new();
        encode_hits(&files[..100], addr, guid, id, &mut plain);
        let mut s = HitStream {
            files: Arc::new(Index::new(files)),
            next: 0,
            addr,
            guid,
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
        let hits = frame::parse_all(&inflated).unwrap();
        let results: usize = hits
            .iter()
            .map(|d| match &*d.as_ref().unwrap().payload {
                Payload::QueryHit(h) => h.results.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(results, 450);
    }
}
