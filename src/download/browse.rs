//! Browse host, the client side (`servent browse`): `GET /` with
//! `Accept: application/x-gnutella-packets` and `Accept-Encoding: deflate`, then the
//! answer read as a stream of QueryHit descriptors (zlib- or raw-deflated or not, as
//! gtk-gnutella, LimeWire and servent send it) into the list of files the servent shares.
//! The stream is hostile input: each descriptor is bounded (64 KiB, as gtk-gnutella
//! bounds it), and so are the bytes inflated and the files kept.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use flate2::{Decompress, FlushDecompress, Status};
use http_body_util::{BodyExt, Empty};
use hyper::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, HOST, SERVER};
use hyper::header::{CONNECTION, USER_AGENT};
use hyper::{Request, StatusCode};

use super::magnet::{n2r_url, Magnet};
use super::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_STALL_TIMEOUT, USER_AGENT_VALUE};
use crate::http::browse::GNUTELLA_PACKETS;
use crate::http::client::{ClientError, Connection};
use crate::library::browse::{HitStreamError, HitStreamReader, ListedFile, Listing};
use crate::library::hash;
use crate::library::hits::PATH_SEGMENT;
use crate::rt;

/// Most files kept from one browse by default: more than any servent shares, so only a
/// hostile stream reaches it.
pub const DEFAULT_MAX_BROWSE_FILES: usize = 200_000;
/// Most descriptor bytes (after inflating) read from one browse by default: 200,000
/// files at ~100 bytes each, twice over. Bounds a deflate bomb.
pub const DEFAULT_MAX_BROWSE_BYTES: u64 = 64 << 20;

/// Inflated bytes produced per step: bounds the buffer a deflate bomb can fill at once.
const INFLATE_STEP: usize = 64 * 1024;

/// How a browse is bounded.
#[derive(Debug, Clone)]
pub struct BrowseOptions {
    /// Longest wait for the TCP connect.
    pub connect_timeout: Duration,
    /// Longest wait for the response head or the next body bytes.
    pub stall_timeout: Duration,
    /// More files than this is an error ([`HitStreamError::TooManyFiles`]).
    pub max_files: usize,
    /// More descriptor bytes than this is an error ([`BrowseError::TooMuchData`]).
    pub max_bytes: u64,
}

impl Default for BrowseOptions {
    fn default() -> Self {
        BrowseOptions {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            max_files: DEFAULT_MAX_BROWSE_FILES,
            max_bytes: DEFAULT_MAX_BROWSE_BYTES,
        }
    }
}

/// One file a browsed servent shares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BrowsedFile {
    /// Its file index there (`/get/<index>/<name>`).
    pub index: u32,
    /// The name as sent (invalid UTF-8 replaced).
    pub name: String,
    /// Size in bytes (64-bit through GGEP `LF`).
    pub size: u64,
    /// `urn:sha1:<BASE32>` when the hit carried it.
    pub sha1: Option<String>,
    /// A magnet link for it, with the browsed address as its source.
    pub magnet: String,
}

/// What a browse found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Browse {
    /// The address browsed.
    pub host: SocketAddr,
    /// Its `Server` header.
    pub server: Option<String>,
    /// Whether the answer was deflated.
    pub deflated: bool,
    /// QueryHit descriptors read.
    pub hits: usize,
    /// The servent ID in its hits (the first hit's), as hex.
    pub servent_id: Option<String>,
    /// Every file, in the order sent.
    pub files: Vec<BrowsedFile>,
}

/// Why a browse failed.
#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    /// Connecting or the HTTP exchange failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Reading the body failed.
    #[error("{addr}: body error: {source}")]
    Body {
        /// The address browsed.
        addr: SocketAddr,
        /// The underlying error.
        source: hyper::Error,
    },
    /// No bytes for the stall timeout.
    #[error("{addr}: no data for {within:?}")]
    Stalled {
        /// The address browsed.
        addr: SocketAddr,
        /// The stall timeout.
        within: Duration,
    },
    /// The servent does not browse (`406`, or a `404` from a servent without it).
    #[error("{addr} does not offer browse host (answered {status})")]
    NotSupported {
        /// The address browsed.
        addr: SocketAddr,
        /// Its status.
        status: StatusCode,
    },
    /// Another status than `200`.
    #[error("{addr} answered {status}")]
    Status {
        /// The address browsed.
        addr: SocketAddr,
        /// Its status.
        status: StatusCode,
    },
    /// A `200` that is not a stream of descriptors (an HTML page, say).
    #[error("{addr} answered {content_type:?}, not {GNUTELLA_PACKETS}")]
    NotPackets {
        /// The address browsed.
        addr: SocketAddr,
        /// Its `Content-Type`.
        content_type: String,
    },
    /// A `Content-Encoding` we did not ask for.
    #[error("{addr} sent Content-Encoding {encoding:?} (we accept deflate)")]
    Encoding {
        /// The address browsed.
        addr: SocketAddr,
        /// The encoding.
        encoding: String,
    },
    /// The deflated stream does not inflate.
    #[error("{addr}: bad deflate stream: {reason}")]
    Inflate {
        /// The address browsed.
        addr: SocketAddr,
        /// What zlib said.
        reason: String,
    },
    /// The descriptors are not a listing: a descriptor over 64 KiB, one that is not a
    /// QueryHit or does not decode, more files than [`BrowseOptions::max_files`], or the
    /// answer ends inside one.
    #[error("{addr}: {source}")]
    Stream {
        /// The address browsed.
        addr: SocketAddr,
        /// What is wrong with them.
        source: HitStreamError,
    },
    /// More bytes than [`BrowseOptions::max_bytes`].
    #[error("{addr} sent more than {max} bytes of descriptors")]
    TooMuchData {
        /// The address browsed.
        addr: SocketAddr,
        /// The limit.
        max: u64,
    },
}

/// Browses the servent at `addr`: every file it shares.
pub async fn browse_host(addr: SocketAddr, opts: &BrowseOptions) -> Result<Browse, BrowseError> {
    let mut conn = Connection::open(addr, opts.connect_timeout).await?;
    let req = Request::get("/")
        .header(HOST, addr.to_string())
        .header(USER_AGENT, USER_AGENT_VALUE)
        .header(ACCEPT, GNUTELLA_PACKETS)
        .header(ACCEPT_ENCODING, "deflate")
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .unwrap_or_else(|_| Request::new(Empty::new()));
    let resp = conn.send(req, opts.stall_timeout).await?;
    let (head, mut body) = resp.into_parts();
    let header = |name| {
        head.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    match head.status {
        StatusCode::OK => {}
        status @ (StatusCode::NOT_ACCEPTABLE | StatusCode::NOT_FOUND) => {
            return Err(BrowseError::NotSupported { addr, status })
        }
        status => return Err(BrowseError::Status { addr, status }),
    }
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(GNUTELLA_PACKETS) {
        return Err(BrowseError::NotPackets { addr, content_type });
    }
    let deflated = match header(CONTENT_ENCODING) {
        None => false,
        Some(e) if e.trim().eq_ignore_ascii_case("identity") => false,
        Some(e) if e.trim().eq_ignore_ascii_case("deflate") => true,
        Some(encoding) => return Err(BrowseError::Encoding { addr, encoding }),
    };
    let mut reader = HitReader::new(addr, deflated, opts);
    loop {
        let frame = match rt::timeout(opts.stall_timeout, body.frame()).await {
            Err(_) => {
                return Err(BrowseError::Stalled {
                    addr,
                    within: opts.stall_timeout,
                })
            }
            Ok(None) => break,
            Ok(Some(f)) => f.map_err(|source| BrowseError::Body { addr, source })?,
        };
        if let Some(d) = frame.data_ref() {
            reader.feed(d)?;
        }
    }
    let listing = reader.finish()?;
    Ok(Browse {
        host: addr,
        server: header(SERVER),
        deflated,
        hits: listing.hits,
        servent_id: listing.servent_id,
        files: listing
            .files
            .into_iter()
            .map(|f| BrowsedFile {
                magnet: file_magnet(addr, &f),
                sha1: f.sha1.as_ref().map(hash::urn),
                index: f.index,
                name: f.name,
                size: f.size,
            })
            .collect(),
    })
}

/// Reads the body's bytes: inflates them (when deflated), within the byte limit, and
/// hands them to the descriptor reader.
pub struct HitReader {
    addr: SocketAddr,
    inflater: Option<Inflater>,
    max_bytes: u64,
    bytes: u64,
    hits: HitStreamReader,
}

/// The inflating side: zlib (as gtk-gnutella and servent send `deflate`) or raw deflate
/// (as some servers do), told apart by the first two bytes.
struct Inflater {
    stream: Option<Decompress>,
    head: Vec<u8>,
    ended: bool,
}

impl HitReader {
    /// A reader for an answer from `addr`, deflated or not, bounded by `opts`.
    pub fn new(addr: SocketAddr, deflated: bool, opts: &BrowseOptions) -> HitReader {
        HitReader {
            addr,
            inflater: deflated.then(|| Inflater {
                stream: None,
                head: Vec::new(),
                ended: false,
            }),
            max_bytes: opts.max_bytes,
            bytes: 0,
            hits: HitStreamReader::new(opts.max_files),
        }
    }

    /// Takes the next body bytes.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), BrowseError> {
        let addr = self.addr;
        let Some(inf) = &mut self.inflater else {
            return self.push(data);
        };
        if inf.stream.is_none() {
            inf.head.extend_from_slice(data);
            if inf.head.len() < 2 {
                return Ok(());
            }
            let (cmf, flg) = (inf.head[0], inf.head[1]);
            let zlib = cmf & 0x0F == 8 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0;
            inf.stream = Some(Decompress::new(zlib));
            let head = std::mem::take(&mut inf.head);
            return self.feed(&head);
        }
        let mut out = vec![0u8; INFLATE_STEP];
        while !data.is_empty() {
            let Some(Inflater {
                stream: Some(z),
                ended: false,
                ..
            }) = &mut self.inflater
            else {
                break; // bytes after the stream's end are ignored
            };
            let (before_in, before_out) = (z.total_in(), z.total_out());
            let status = z
                .decompress(data, &mut out, FlushDecompress::None)
                .map_err(|e| BrowseError::Inflate {
                    addr,
                    reason: e.to_string(),
                })?;
            let used = (z.total_in() - before_in) as usize;
            let made = (z.total_out() - before_out) as usize;
            if status == Status::StreamEnd {
                if let Some(inf) = &mut self.inflater {
                    inf.ended = true;
                }
            }
            data = &data[used..];
            self.push(&out[..made])?;
            if used == 0 && made == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Hands inflated bytes to the descriptor reader, within the byte limit.
    fn push(&mut self, data: &[u8]) -> Result<(), BrowseError> {
        self.bytes += data.len() as u64;
        if self.bytes > self.max_bytes {
            return Err(BrowseError::TooMuchData {
                addr: self.addr,
                max: self.max_bytes,
            });
        }
        let addr = self.addr;
        self.hits
            .push(data)
            .map_err(|source| BrowseError::Stream { addr, source })
    }

    /// The end of the body: what it listed. Bytes of a descriptor not finished are an
    /// error.
    pub fn finish(self) -> Result<Listing, BrowseError> {
        let addr = self.addr;
        let head = self.inflater.as_ref().map_or(0, |i| i.head.len());
        if head > 0 {
            return Err(BrowseError::Stream {
                addr,
                source: HitStreamError::Truncated(head),
            });
        }
        self.hits
            .finish()
            .map_err(|source| BrowseError::Stream { addr, source })
    }
}

/// A file's magnet: by `/uri-res/N2R?` at `addr` when its SHA-1 is known, else by
/// `/get/<index>/<name>`.
fn file_magnet(addr: SocketAddr, f: &ListedFile) -> String {
    let source = match &f.sha1 {
        Some(d) => n2r_url(addr, d),
        None => format!(
            "http://{addr}/get/{}/{}",
            f.index,
            percent_encoding::utf8_percent_encode(&f.name, PATH_SEGMENT)
        ),
    };
    Magnet::new(f.sha1, Some(&f.name), Some(f.size), vec![source]).to_string()
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use super::*;
    use crate::library::browse::HitEncoder;
    use crate::library::SharedFile;

    fn addr() -> SocketAddr {
        "127.0.0.1:6346".parse().unwrap()
    }

    fn hits(n: u32) -> Vec<u8> {
        let files: Vec<Arc<SharedFile>> = (0..n)
            .map(|i| Arc::new(SharedFile::detached(i, &format!("f{i}"), u64::from(i))))
            .collect();
        let mut out = Vec::new();
        HitEncoder::new("10.0.0.1:1".parse().unwrap(), None).encode(&files, &mut out);
        out
    }

    fn read(wire: &[u8], deflated: bool, opts: &BrowseOptions) -> Result<usize, BrowseError> {
        let mut r = HitReader::new(addr(), deflated, opts);
        // In small pieces: inflating and framing must not depend on how the body is cut.
        for b in wire.chunks(7) {
            r.feed(b)?;
        }
        r.finish().map(|l| l.files.len())
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(data).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn plain_zlib_and_raw_deflate_all_read() {
        let wire = [hits(3), hits(200)].concat();
        let o = BrowseOptions::default();
        assert_eq!(read(&wire, false, &o).unwrap(), 203);
        assert_eq!(read(&zlib(&wire), true, &o).unwrap(), 203);
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(&wire).unwrap();
        assert_eq!(read(&raw.finish().unwrap(), true, &o).unwrap(), 203);
    }

    #[test]
    fn hostile_bodies_are_typed_errors() {
        let o = BrowseOptions::default();
        // Not deflate at all.
        assert!(matches!(
            read(b"\x78\x9c this is not deflate", true, &o),
            Err(BrowseError::Inflate { .. })
        ));
        // Cut inside a descriptor, deflated or not.
        let cut = hits(5);
        let cut = &cut[..cut.len() - 3];
        for (wire, deflated) in [(cut.to_vec(), false), (zlib(cut), true)] {
            assert!(matches!(
                read(&wire, deflated, &o),
                Err(BrowseError::Stream {
                    source: HitStreamError::Truncated(_),
                    ..
                })
            ));
        }
        // A deflate bomb: 8 MB of hits (a few KB deflated) stop at the byte limit.
        let bomb = zlib(&hits(255).repeat((8 << 20) / hits(255).len()));
        assert!(bomb.len() < 64 * 1024, "{}", bomb.len());
        let small = BrowseOptions {
            max_bytes: 1 << 20,
            ..BrowseOptions::default()
        };
        assert!(matches!(
            read(&bomb, true, &small),
            Err(BrowseError::TooMuchData { .. })
        ));
        // More files than allowed.
        let few = BrowseOptions {
            max_files: 100,
            ..BrowseOptions::default()
        };
        assert!(matches!(
            read(&hits(101), false, &few),
            Err(BrowseError::Stream {
                source: HitStreamError::TooManyFiles(100),
                ..
            })
        ));
    }
}
