//! Browse host's wire format: the library as a stream of QueryHit descriptors (hits of
//! about 3.5 KB, as gtk-gnutella sends them), and such a stream read back, bounded, into
//! the files it lists. The HTTP server ([`crate::http`]) and the browsing client
//! ([`crate::download`]) move the bytes; this file knows the descriptors.

use std::net::SocketAddrV4;
use std::sync::{Arc, OnceLock};

use crate::proto::error::{DecodeError, FrameError};
use crate::proto::payload::hash::sha1_urn;
use crate::proto::payload::{Extension, HitResult, QueryHit, Trailer};
use crate::proto::{self, Check, Descriptor, Guid, Payload, PayloadType};

use super::hash::Sha1Digest;
use super::hits::{lf_extension, result_size};
use super::SharedFile;

/// A QueryHit is closed once its payload reaches about this many bytes (gtk-gnutella's
/// `BH_MAX_QHIT_SIZE`): big enough that headers and trailers are a small overhead, small
/// enough that no servent drops it as oversized.
pub const BROWSE_HIT_TARGET_LEN: usize = 3500;

/// Results in one QueryHit at most (the count is one byte).
const MAX_RESULTS_PER_HIT: usize = 255;

/// TTL and hops of the hits, as gtk-gnutella sets them: they travel one hop, ours.
const BROWSE_TTL: u8 = 1;
const BROWSE_HOPS: u8 = 0;

/// Vendor code in the hits' trailer.
const VENDOR_CODE: [u8; 4] = *b"SRVT";

/// Speed field of the hits, kbit/s: the HTTP side measures none, and a browsing client
/// already has the connection.
const BROWSE_SPEED_KBPS: u32 = 0;

/// Bytes a result takes beyond its name, for cutting hits: index, size, two NULs, a text
/// `urn:sha1:` (41) and room for a GGEP `LF`.
const RESULT_OVERHEAD_LEN: usize = 64;

/// The servent ID in our browse hits: one per process, never blank (gtk-gnutella drops
/// hits with a blank servent ID, or one equal to the descriptor ID).
fn browse_servent_id() -> Guid {
    static ID: OnceLock<Guid> = OnceLock::new();
    *ID.get_or_init(Guid::new_v4)
}

/// Turns shared files into the QueryHit descriptors of one browse answer (all with the
/// same descriptor ID, as a servent answering one request does).
#[derive(Debug, Clone)]
pub struct HitEncoder {
    addr: SocketAddrV4,
    guid: Guid,
    servent_id: Guid,
}

impl HitEncoder {
    /// Hits naming `addr` as where to download (the address the client reached us at)
    /// and `servent_id` as ours (`None`: one random ID per process).
    pub fn new(addr: SocketAddrV4, servent_id: Option<[u8; 16]>) -> HitEncoder {
        HitEncoder {
            addr,
            guid: Guid::new_v4(),
            servent_id: servent_id
                .map(Guid)
                .filter(|g| g.0 != [0; 16])
                .unwrap_or_else(browse_servent_id),
        }
    }

    /// Appends the hits for `files` to `out`, each closed at about
    /// [`BROWSE_HIT_TARGET_LEN`] bytes or 255 results.
    pub fn encode(&self, files: &[Arc<SharedFile>], out: &mut Vec<u8>) {
        let mut pending = files.iter().map(|f| hit_result(f)).peekable();
        while pending.peek().is_some() {
            let mut results = Vec::new();
            let mut len = 0;
            for r in pending.by_ref() {
                len += r.name.len() + RESULT_OVERHEAD_LEN;
                results.push(r);
                if len >= BROWSE_HIT_TARGET_LEN || results.len() == MAX_RESULTS_PER_HIT {
                    break;
                }
            }
            let hit = QueryHit {
                port: self.addr.port(),
                ip: *self.addr.ip(),
                speed: BROWSE_SPEED_KBPS,
                results,
                trailer: Some(Trailer::new(VENDOR_CODE, false, false, false, false)),
                servent_id: self.servent_id,
            };
            let d = Descriptor::new(self.guid, BROWSE_TTL, BROWSE_HOPS, Payload::QueryHit(hit));
            if let Err(e) = d.encode(out) {
                // Names of tens of KB: those files are left out rather than the library.
                log::debug!("browse host: a hit left out: {e}");
            }
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

/// One file a browse listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Its file index there (`/get/<index>/<name>`).
    pub index: u32,
    /// The name as sent (invalid UTF-8 replaced).
    pub name: String,
    /// Size in bytes (64-bit through GGEP `LF`).
    pub size: u64,
    /// The SHA-1 when the result carried it (text URN or GGEP `H`).
    pub sha1: Option<Sha1Digest>,
}

/// Why a stream of descriptors is not a browse listing.
#[derive(Debug, thiserror::Error)]
pub enum HitStreamError {
    /// A descriptor announcing more than 64 KiB (gtk-gnutella's limit too).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A descriptor that is not a QueryHit (gtk-gnutella stops there too).
    #[error("a descriptor of type {0:#04x}, not a QueryHit")]
    NotQueryHit(u8),
    /// A QueryHit that does not decode.
    #[error("bad QueryHit: {0}")]
    BadQueryHit(DecodeError),
    /// More files than the reader was allowed to keep.
    #[error("more than {0} files listed")]
    TooManyFiles(usize),
    /// The stream ended inside a descriptor.
    #[error("the answer ends inside a descriptor ({0} bytes left over)")]
    Truncated(usize),
}

/// What a whole browse stream listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// QueryHit descriptors read.
    pub hits: usize,
    /// The first hit's servent ID, as hex.
    pub servent_id: Option<String>,
    /// Every file, in the order sent.
    pub files: Vec<ListedFile>,
}

/// Reads a browse stream (already inflated) as it arrives: cuts descriptors, keeps the
/// files of the QueryHits. Holds at most one partial descriptor (64 KiB) beyond the
/// bytes of the last push.
#[derive(Debug)]
pub struct HitStreamReader {
    buf: Vec<u8>,
    max_files: usize,
    listing: Listing,
}

impl HitStreamReader {
    /// A reader keeping at most `max_files` files (more is an error).
    pub fn new(max_files: usize) -> HitStreamReader {
        HitStreamReader {
            buf: Vec::new(),
            max_files,
            listing: Listing {
                hits: 0,
                servent_id: None,
                files: Vec::new(),
            },
        }
    }

    /// Takes the next bytes and reads every whole descriptor they complete.
    pub fn push(&mut self, data: &[u8]) -> Result<(), HitStreamError> {
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        let result = self.cut(&mut pos);
        self.buf.drain(..pos);
        result
    }

    fn cut(&mut self, pos: &mut usize) -> Result<(), HitStreamError> {
        while let Check::Complete(n) = proto::check(&self.buf[*pos..])? {
            let frame = &self.buf[*pos..*pos + n];
            *pos += n;
            if frame[16] != PayloadType::QueryHit.to_byte() {
                return Err(HitStreamError::NotQueryHit(frame[16]));
            }
            let d = proto::parse(frame).map_err(HitStreamError::BadQueryHit)?;
            let Payload::QueryHit(hit) = &*d.payload else {
                continue;
            };
            let l = &mut self.listing;
            l.hits += 1;
            if l.servent_id.is_none() {
                l.servent_id = Some(hit.servent_id.to_string());
            }
            for r in &hit.results {
                if l.files.len() >= self.max_files {
                    return Err(HitStreamError::TooManyFiles(self.max_files));
                }
                l.files.push(ListedFile {
                    index: r.index,
                    name: r.name_lossy().into_owned(),
                    size: result_size(r),
                    sha1: r.sha1(),
                });
            }
        }
        Ok(())
    }

    /// The end of the stream: what it listed; bytes of an unfinished descriptor are an
    /// error.
    pub fn finish(self) -> Result<Listing, HitStreamError> {
        if !self.buf.is_empty() {
            return Err(HitStreamError::Truncated(self.buf.len()));
        }
        Ok(self.listing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::frame;
    use crate::proto::payload::Ping;

    fn detached(n: u32) -> Vec<Arc<SharedFile>> {
        (0..n)
            .map(|i| {
                let size = if i == 7 { 5 << 30 } else { u64::from(i) * 10 };
                Arc::new(SharedFile::detached(
                    i,
                    &format!("file number {i}.txt"),
                    size,
                ))
            })
            .collect()
    }

    fn read(wire: &[u8], max_files: usize) -> Result<Listing, HitStreamError> {
        let mut r = HitStreamReader::new(max_files);
        // In small pieces: framing must not depend on how the body is cut.
        for piece in wire.chunks(7) {
            r.push(piece)?;
        }
        r.finish()
    }

    #[test]
    fn a_library_as_hits_of_bounded_size_and_back() {
        let addr: SocketAddrV4 = "127.0.0.1:6346".parse().unwrap();
        let enc = HitEncoder::new(addr, None);
        let mut wire = Vec::new();
        enc.encode(&detached(1000), &mut wire);
        for d in frame::parse_all(&wire).unwrap() {
            let d = d.unwrap();
            assert_eq!((d.ttl, d.hops), (1, 0));
            let Payload::QueryHit(h) = &*d.payload else {
                panic!("not a hit")
            };
            assert_eq!((h.ip, h.port), (*addr.ip(), addr.port()));
            assert_ne!(h.servent_id, Guid([0; 16]));
            assert_ne!(h.servent_id, d.guid);
            assert!(d.to_bytes().unwrap().len() < BROWSE_HIT_TARGET_LEN + 200);
        }
        let listing = read(&wire, 10_000).unwrap();
        assert!(listing.hits > 10);
        assert_eq!(listing.files.len(), 1000);
        assert_eq!(listing.files[7].size, 5 << 30, "a 5 GiB file's size via LF");
        assert_eq!(listing.files[999].name, "file number 999.txt");
        assert_eq!(listing.files[999].size, 9990);
    }

    #[test]
    fn hostile_streams_are_typed_errors() {
        let mut one = Vec::new();
        HitEncoder::new("10.0.0.1:1".parse().unwrap(), None).encode(&detached(101), &mut one);
        // A header announcing more than 64 KiB.
        let mut big = one.clone();
        big[19..23].copy_from_slice(&(64 * 1024 + 1u32).to_le_bytes());
        assert!(matches!(read(&big, 1000), Err(HitStreamError::Frame(_))));
        // Another descriptor than a QueryHit.
        let ping = Descriptor::new(Guid([1; 16]), 1, 0, Payload::Ping(Ping::default()))
            .to_bytes()
            .unwrap();
        assert!(matches!(
            read(&ping, 1000),
            Err(HitStreamError::NotQueryHit(0))
        ));
        // A QueryHit announcing more results than it holds.
        let mut lying = Vec::new();
        HitEncoder::new("10.0.0.1:1".parse().unwrap(), None).encode(&detached(1), &mut lying);
        lying[23] = 255;
        assert!(matches!(
            read(&lying, 1000),
            Err(HitStreamError::BadQueryHit(_))
        ));
        // Cut inside a descriptor.
        assert!(matches!(
            read(&one[..one.len() - 3], 1000),
            Err(HitStreamError::Truncated(_))
        ));
        // More files than allowed.
        assert!(matches!(
            read(&one, 100),
            Err(HitStreamError::TooManyFiles(100))
        ));
        assert_eq!(read(&one, 101).unwrap().files.len(), 101);
    }
}
