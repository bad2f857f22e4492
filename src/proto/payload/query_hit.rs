//! QueryHit: hit count (u8), port (u16 LE), IPv4 (network order), speed (u32 LE); then per
//! result: file index and size (u32 LE), name NUL, extension area NUL; then the optional
//! trailer (vendor code, open data with the flag bytes, private data often starting with
//! GGEP); the last 16 bytes are the responding servent's ID.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::extension::{decode_area, encode_area, Extension};
use super::hash::{sha1_urn, Sha1Digest};
use crate::proto::error::DecodeError;
use crate::proto::ggep::{GgepBlock, GGEP_MAGIC};
use crate::proto::guid::Guid;
use crate::proto::wire;

/// Length of the fixed part before the results.
pub const QUERY_HIT_FIXED_LEN: usize = 11;
/// Length of the servent ID closing every QueryHit.
pub const SERVENT_ID_LEN: usize = 16;
/// Smallest result: index, size, empty name NUL, empty extension area NUL.
const MIN_RESULT_LEN: usize = 10;

/// Trailer flag: the responder is firewalled (send a Push). Its value is in open-data
/// byte 0 and its "meaningful" bit in byte 1, the other way round from the other flags:
/// gtk-gnutella (`qhit.c`) always marks it meaningful and sets the value when firewalled.
pub const FLAG_PUSH: u8 = 0x01;
/// Trailer flag: all upload slots are busy.
pub const FLAG_BUSY: u8 = 0x04;
/// Trailer flag: the responder has completed an upload.
pub const FLAG_UPLOADED: u8 = 0x08;
/// Trailer flag: the speed field was measured, not configured.
pub const FLAG_SPEED_MEASURED: u8 = 0x10;
/// Trailer flag: the private area holds a GGEP block.
pub const FLAG_GGEP: u8 = 0x20;

#[derive(Serialize, Deserialize)]
struct QueryHitFixed {
    count: u8,
    port: u16,
    ip: [u8; 4],
    speed: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// One result of a QueryHit: a file the responder shares.
pub struct HitResult {
    /// File index: names the file in `/get/<index>/<name>` and in a Push.
    pub index: u32,
    /// 0xFFFF_FFFF with a GGEP `LF` extension for files of 4 GiB and more.
    pub size: u32,
    /// File name as sent (bytes, not necessarily UTF-8); NUL bytes are dropped on encoding.
    pub name: Vec<u8>,
    /// The result's extension area (URNs, GGEP such as `LF` and `ALT`), ending at a NUL:
    /// GGEP data in it must hold no NUL (COBS).
    pub extensions: Vec<Extension>,
}

impl HitResult {
    /// The file name, lossily decoded as UTF-8 for display and matching.
    pub fn name_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }

    /// The file's SHA-1: from the first item of the extension area that carries a valid
    /// one, a text `urn:sha1:` or a GGEP `H` (type 1 or 2). `None` when none does.
    pub fn sha1(&self) -> Option<Sha1Digest> {
        self.extensions.iter().find_map(Extension::sha1)
    }

    /// [`HitResult::sha1`] as `urn:sha1:<BASE32>` (prefix lower-case, base32 upper-case),
    /// whichever form it came in.
    pub fn sha1_urn(&self) -> Option<String> {
        self.sha1().map(|d| sha1_urn(&d))
    }
}

/// The BearShare-style trailer. Open data is normally two flag bytes: for the push bit,
/// byte 0 holds the value and byte 1 says it is meaningful; for the other bits it is the
/// other way round (byte 0 says meaningful, byte 1 holds the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// Vendor code, 4 ASCII bytes (ours: `SRVT`).
    pub vendor: [u8; 4],
    /// Open data, normally the 2 flag bytes read by [`Trailer::flag`]; at most 255 bytes
    /// are encoded.
    pub open_data: Vec<u8>,
    /// The GGEP block starting the private data (found by its 0xC3 magic, whatever
    /// [`FLAG_GGEP`] says); raw, holding all the private data, when it does not parse.
    pub ggep: Option<GgepBlock>,
    /// Private data after the GGEP block (or all of it when there is none).
    pub private: Vec<u8>,
}

impl Trailer {
    /// A trailer with every flag meaningful and the given values.
    pub fn new(vendor: [u8; 4], push: bool, busy: bool, uploaded: bool, ggep: bool) -> Trailer {
        let mut t = Trailer {
            vendor,
            open_data: vec![0, 0],
            ggep: None,
            private: Vec::new(),
        };
        t.set_flag(FLAG_PUSH, push);
        t.set_flag(FLAG_BUSY, busy);
        t.set_flag(FLAG_UPLOADED, uploaded);
        t.set_flag(FLAG_SPEED_MEASURED, false);
        t.set_flag(FLAG_GGEP, ggep);
        t
    }

    fn value_and_mask_bytes(flag: u8) -> (usize, usize) {
        if flag == FLAG_PUSH {
            (0, 1)
        } else {
            (1, 0)
        }
    }

    /// Sets `flag` (one `FLAG_*` bit) to `on` and marks it meaningful, padding the open
    /// data to 2 bytes first.
    pub fn set_flag(&mut self, flag: u8, on: bool) {
        if self.open_data.len() < 2 {
            self.open_data.resize(2, 0);
        }
        let (value, mask) = Self::value_and_mask_bytes(flag);
        self.open_data[mask] |= flag;
        if on {
            self.open_data[value] |= flag;
        } else {
            self.open_data[value] &= !flag;
        }
    }

    /// A flag's value when the trailer says it is meaningful.
    pub fn flag(&self, flag: u8) -> Option<bool> {
        if self.open_data.len() < 2 {
            return None;
        }
        let (value, mask) = Self::value_and_mask_bytes(flag);
        (self.open_data[mask] & flag != 0).then_some(self.open_data[value] & flag != 0)
    }

    fn decode(buf: &[u8]) -> Result<Trailer, DecodeError> {
        const WHAT: DecodeError = DecodeError::Truncated {
            what: "query hit trailer",
        };
        if buf.len() < 5 {
            return Err(WHAT);
        }
        let vendor = [buf[0], buf[1], buf[2], buf[3]];
        let open_len = buf[4] as usize;
        let open_data = buf.get(5..5 + open_len).ok_or(WHAT)?.to_vec();
        let rest = &buf[5 + open_len..];
        let (ggep, private) = if rest.first() == Some(&GGEP_MAGIC) {
            let (block, used) = GgepBlock::decode(rest);
            (Some(block), rest[used..].to_vec())
        } else {
            (None, rest.to_vec())
        };
        Ok(Trailer {
            vendor,
            open_data,
            ggep,
            private,
        })
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.vendor);
        let open = &self.open_data[..self.open_data.len().min(255)];
        out.push(open.len() as u8);
        out.extend_from_slice(open);
        if let Some(g) = &self.ggep {
            g.encode(out);
        }
        out.extend_from_slice(&self.private);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A QueryHit payload: the responder's address, its results, an optional trailer and its
/// servent ID.
pub struct QueryHit {
    /// Port the responder serves files on.
    pub port: u16,
    /// IPv4 address the responder serves files on.
    pub ip: Ipv4Addr,
    /// Speed in kbit/s.
    pub speed: u32,
    /// Results, at most 255 (the count is one byte); we send at most 32.
    pub results: Vec<HitResult>,
    /// The trailer between the results and the servent ID; `None` in a Gnutella 0.4 hit.
    pub trailer: Option<Trailer>,
    /// Servent ID of the responder (the last 16 bytes): Pushes for its files are routed by it.
    pub servent_id: Guid,
}

impl QueryHit {
    /// The responder says it is firewalled (the trailer's push flag, set and marked
    /// meaningful, as gtk-gnutella and LimeWire write it): reach it by Push, not by
    /// connecting to its address.
    pub fn needs_push(&self) -> bool {
        self.trailer
            .as_ref()
            .and_then(|t| t.flag(FLAG_PUSH))
            .unwrap_or(false)
    }

    /// Reads a QueryHit payload: [`DecodeError::Truncated`] under 27 bytes, when the
    /// announced results cannot fit, or when the trailer is short;
    /// [`DecodeError::MissingNul`] when a name or extension area has no NUL.
    pub fn decode(buf: &[u8]) -> Result<QueryHit, DecodeError> {
        if buf.len() < QUERY_HIT_FIXED_LEN + SERVENT_ID_LEN {
            return Err(DecodeError::Truncated { what: "query hit" });
        }
        let fixed: QueryHitFixed =
            wire::decode_fixed(buf).ok_or(DecodeError::Truncated { what: "query hit" })?;
        let body_end = buf.len() - SERVENT_ID_LEN;
        let count = fixed.count as usize;
        if count * MIN_RESULT_LEN > body_end - QUERY_HIT_FIXED_LEN {
            return Err(DecodeError::Truncated {
                what: "query hit results",
            });
        }
        let mut results = Vec::with_capacity(count);
        let mut pos = QUERY_HIT_FIXED_LEN;
        for _ in 0..count {
            let (result, used) = decode_result(&buf[pos..body_end])?;
            results.push(result);
            pos += used;
        }
        let trailer_bytes = &buf[pos..body_end];
        let trailer = if trailer_bytes.is_empty() {
            None
        } else {
            Some(Trailer::decode(trailer_bytes)?)
        };
        let mut id = [0u8; 16];
        id.copy_from_slice(&buf[body_end..]);
        Ok(QueryHit {
            port: fixed.port,
            ip: Ipv4Addr::from(fixed.ip),
            speed: fixed.speed,
            results,
            trailer,
            servent_id: Guid(id),
        })
    }

    /// Encodes the payload. The caller keeps `results.len() <= 255`
    /// ([`crate::proto::Descriptor::encode`] checks it).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let fixed = QueryHitFixed {
            count: self.results.len().min(255) as u8,
            port: self.port,
            ip: self.ip.octets(),
            speed: self.speed,
        };
        wire::encode_fixed(&fixed, out);
        for r in self.results.iter().take(255) {
            out.extend_from_slice(&r.index.to_le_bytes());
            out.extend_from_slice(&r.size.to_le_bytes());
            out.extend(r.name.iter().copied().filter(|&b| b != 0));
            out.push(0);
            encode_area(&r.extensions, out);
            out.push(0);
        }
        if let Some(t) = &self.trailer {
            t.encode(out);
        }
        out.extend_from_slice(&self.servent_id.0);
    }
}

fn decode_result(buf: &[u8]) -> Result<(HitResult, usize), DecodeError> {
    if buf.len() < 8 {
        return Err(DecodeError::Truncated {
            what: "query hit result",
        });
    }
    let index = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let size = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let (name, name_used) = wire::take_until_nul(&buf[8..]).ok_or(DecodeError::MissingNul {
        what: "query hit file name",
    })?;
    let ext_start = 8 + name_used;
    let (area, area_used) =
        wire::take_until_nul(&buf[ext_start..]).ok_or(DecodeError::MissingNul {
            what: "query hit extensions",
        })?;
    Ok((
        HitResult {
            index,
            size,
            name: name.to_vec(),
            extensions: decode_area(area),
        },
        ext_start + area_used,
    ))
}
