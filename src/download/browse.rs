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
use crate::library::hash::Sha1Digest;
use crate::library::hits::{result_size, PATH_SEGMENT};
use crate::proto::limits::MAX_PAYLOAD_LEN;
use crate::proto::{self, Check, FrameError, Guid, Payload, PayloadType};
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
    /// More files than this is an error ([`BrowseError::TooManyFiles`]).
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
    /// A descriptor announcing more than 64 KiB.
    #[error("{addr}: {source}")]
    Frame {
        /// The address browsed.
        addr: SocketAddr,
        /// The framing error.
        source: FrameError,
    },
    /// A descriptor that is not a QueryHit (gtk-gnutella stops there too).
    #[error("{addr} sent a descriptor of type {payload_type:#04x}, not a QueryHit")]
    NotQueryHit {
        /// The address browsed.
        addr: SocketAddr,
        /// Its payload type byte.
        payload_type: u8,
    },
    /// A QueryHit that does not decode.
    #[error("{addr}: bad QueryHit: {source}")]
    BadQueryHit {
        /// The address browsed.
        addr: SocketAddr,
        /// The decoding error.
        source: proto::DecodeError,
    },
    /// The stream ended inside a descriptor.
    #[error("{addr}: the answer ends inside a descriptor ({left} bytes left over)")]
    Truncated {
        /// The address browsed.
        addr: SocketAddr,
        /// Bytes of the partial descriptor.
        left: usize,
    },
    /// More files than [`BrowseOptions::max_files`].
    #[error("{addr} lists more than {max} files")]
    TooManyFiles {
        /// The address browsed.
        addr: SocketAddr,
        /// The limit.
        max: usize,
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
    let (hits, servent_id, files) = reader.finish()?;
    Ok(Browse {
        host: addr,
        server: header(SERVER),
        deflated,
        hits,
        servent_id: servent_id.map(|g| g.to_string()),
        files,
    })
}

/// Reads the body's bytes: inflates them (when deflated), cuts descriptors and keeps the
/// files of the QueryHits.
pub struct HitReader {
    addr: SocketAddr,
    inflater: Option<Inflater>,
    buf: Vec<u8>,
    max_files: usize,
    max_bytes: u64,
    bytes: u64,
    hits: usize,
    servent_id: Option<Guid>,
    files: Vec<BrowsedFile>,
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
            buf: Vec::new(),
            max_files: opts.max_files,
            max_bytes: opts.max_bytes,
            bytes: 0,
            hits: 0,
            servent_id: None,
            files: Vec::new(),
        }
    }

    /// Takes the next body bytes.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<(), BrowseError> {
        let addr = self.addr;
        let Some(inf) = &mut self.inflater else {
            self.push(data)?;
            return self.cut();
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
            let Some(inf) = &mut self.inflater else {
                break;
            };
            if inf.ended {
                break; // bytes after the stream's end are ignored
            }
            let Some(z) = inf.stream.as_mut() else { break };
            let (before_in, before_out) = (z.total_in(), z.total_out());
            let status = z
                .decompress(data, &mut out, FlushDecompress::None)
                .map_err(|e| BrowseError::Inflate {
                    addr,
                    reason: e.to_string(),
                })?;
            let used = (z.total_in() - before_in) as usize;
            let made = (z.total_out() - before_out) as usize;
            inf.ended = status == Status::StreamEnd;
            data = &data[used..];
            self.push(&out[..made])?;
            self.cut()?;
            if used == 0 && made == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Appends inflated bytes, within the byte limit.
    fn push(&mut self, data: &[u8]) -> Result<(), BrowseError> {
        self.bytes += data.len() as u64;
        if self.bytes > self.max_bytes {
            return Err(BrowseError::TooMuchData {
                addr: self.addr,
                max: self.max_bytes,
            });
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Reads every whole descriptor at the front of the buffer.
    fn cut(&mut self) -> Result<(), BrowseError> {
        let addr = self.addr;
        let mut pos = 0;
        while let Check::Complete(n) =
            proto::check(&self.buf[pos..]).map_err(|source| BrowseError::Frame { addr, source })?
        {
            let frame = &self.buf[pos..pos + n];
            pos += n;
            if frame[16] != PayloadType::QueryHit.to_byte() {
                return Err(BrowseError::NotQueryHit {
                    addr,
                    payload_type: frame[16],
                });
            }
            let d =
                proto::parse(frame).map_err(|source| BrowseError::BadQueryHit { addr, source })?;
            let Payload::QueryHit(hit) = &*d.payload else {
                continue;
            };
            self.hits += 1;
            self.servent_id.get_or_insert(hit.servent_id);
            for r in &hit.results {
                if self.files.len() >= self.max_files {
                    return Err(BrowseError::TooManyFiles {
                        addr,
                        max: self.max_files,
                    });
                }
                let sha1 = r.sha1();
                let name = r.name_lossy().into_owned();
                let size = result_size(r);
                let magnet = file_magnet(addr, r.index, &name, size, sha1);
                self.files.push(BrowsedFile {
                    index: r.index,
                    name,
                    size,
                    sha1: r.sha1_urn(),
                    magnet,
                });
            }
        }
        self.buf.drain(..pos);
        debug_assert!(self.buf.len() <= MAX_PAYLOAD_LEN + proto::limits::HEADER_LEN);
        Ok(())
    }

    /// The end of the body: the hits read, the servent ID, the files. Bytes of a
    /// descriptor not finished are an error.
    pub fn finish(self) -> Result<(usize, Option<Guid>, Vec<BrowsedFile>), BrowseError> {
        let left = self.buf.len() + self.inflater.as_ref().map_or(0, |i| i.head.len());
        if left > 0 {
            return Err(BrowseError::Truncated {
                addr: self.addr,
                left,
            });
        }
        Ok((self.hits, self.servent_id, self.files))
    }
}

/// A file's magnet: by `/uri-res/N2R?` at `addr` when its SHA-1 is known, else by
/// `/get/<index>/<name>`.
fn file_magnet(
    addr: SocketAddr,
    index: u32,
    name: &str,
    size: u64,
    sha1: Option<Sha1Digest>,
) -> String {
    let source = match &sha1 {
        Some(d) => n2r_url(addr, d),
        None => format!(
            "http://{addr}/get/{index}/{}",
            percent_encoding::utf8_percent_encode(name, PATH_SEGMENT)
        ),
    };
    Magnet::new(sha1, Some(name), Some(size), vec![source]).to_string()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::proto::payload::{HitResult, Ping, QueryHit, Trailer};
    use crate::proto::Descriptor;

    fn addr() -> SocketAddr {
        "127.0.0.1:6346".parse().unwrap()
    }

    fn hits(n: u32) -> Vec<u8> {
        let results = (0..n)
            .map(|i| HitResult {
                index: i,
                size: i,
                name: format!("f{i}").into_bytes(),
                extensions: Vec::new(),
            })
            .collect();
        let hit = QueryHit {
            port: 1,
            ip: "10.0.0.1".parse().unwrap(),
            speed: 0,
            results,
            trailer: Some(Trailer::new(*b"TEST", false, false, false, false)),
            servent_id: Guid([3; 16]),
        };
        Descriptor::new(Guid([0; 16]), 1, 0, Payload::QueryHit(hit))
            .to_bytes()
            .unwrap()
    }

    fn read(wire: &[u8], deflated: bool, opts: &BrowseOptions) -> Result<usize, BrowseError> {
        let mut r = HitReader::new(addr(), deflated, opts);
        // Byte by byte: framing must not depend on how the body is cut.
        for b in wire.chunks(7) {
            r.feed(b)?;
        }
        r.finish().map(|(_, _, files)| files.len())
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
    fn hostile_streams_are_typed_errors() {
        let o = BrowseOptions::default();
        // A header announcing more than 64 KiB.
        let mut big = hits(1);
        big[19..23].copy_from_slice(&(MAX_PAYLOAD_LEN as u32 + 1).to_le_bytes());
        assert!(matches!(
            read(&big, false, &o),
            Err(BrowseError::Frame { .. })
        ));
        // Another descriptor than a QueryHit.
        let ping = Descriptor::new(Guid([1; 16]), 1, 0, Payload::Ping(Ping::default()))
            .to_bytes()
            .unwrap();
        assert!(matches!(
            read(&ping, false, &o),
            Err(BrowseError::NotQueryHit {
                payload_type: 0,
                ..
            })
        ));
        // A QueryHit announcing more results than it holds.
        let mut lying = hits(2);
        lying[23] = 200;
        assert!(matches!(
            read(&lying, false, &o),
            Err(BrowseError::BadQueryHit { .. })
        ));
        // Cut inside a descriptor.
        let cut = hits(5);
        assert!(matches!(
            read(&cut[..cut.len() - 3], false, &o),
            Err(BrowseError::Truncated { .. })
        ));
        // Not deflate at all.
        assert!(matches!(
            read(b"\x78\x9c this is not deflate", true, &o),
            Err(BrowseError::Inflate { .. })
        ));
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
            Err(BrowseError::TooManyFiles { max: 100, .. })
        ));
    }
}
