//! The GGEP block codec (Gnutella Generic Extension Protocol): splitting a block that
//! starts with the 0xC3 magic into extensions, writing extensions back with minimal
//! length encoding, and undoing the COBS and deflate encodings of an extension's data.
//! Extensions keep their data exactly as on the wire, so a parsed block re-encodes
//! byte for byte; a block we cannot parse is kept verbatim as [`GgepBlock::Raw`] and
//! forwarded unchanged. Parsing never panics and allocates nothing for a length a peer
//! claims beyond the bytes actually present; inflating is bounded by
//! [`MAX_GGEP_INFLATED_LEN`].

use std::borrow::Cow;
use std::io::{Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::limits::{MAX_GGEP_DATA_LEN, MAX_GGEP_INFLATED_LEN};

/// First byte of every GGEP block.
pub const GGEP_MAGIC: u8 = 0xC3;

const FLAG_LAST: u8 = 0x80;
const FLAG_COBS: u8 = 0x40;
const FLAG_DEFLATE: u8 = 0x20;
const FLAG_RESERVED: u8 = 0x10;
const ID_LEN_MASK: u8 = 0x0F;
const MAX_ID_LEN: usize = 15;
const LEN_MORE: u8 = 0x80;
const LEN_LAST: u8 = 0x40;
const LEN_CHUNK: u8 = 0x3F;

/// Why a GGEP block or an extension's data could not be decoded.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum GgepError {
    #[error("GGEP block does not start with the 0xC3 magic")]
    /// The first byte is not the 0xC3 magic.
    BadMagic,
    #[error("GGEP block is truncated")]
    /// The bytes end inside the block (an ID or data running past the end, or no extension
    /// flagged last), or there are none.
    Truncated,
    #[error("GGEP extension ID length is 0")]
    /// An extension's flags give an ID length of 0.
    BadIdLength,
    #[error("GGEP extension flags have the reserved bit 0x10 set")]
    /// An extension's flags have the reserved bit 0x10 set.
    ReservedBit,
    #[error("GGEP data length is badly encoded (flag bits, leading zero or over 3 bytes)")]
    /// A data length byte has neither or both of 0x80 and 0x40, the length starts with a
    /// zero chunk (not minimal), or it runs over 3 bytes.
    BadLengthEncoding,
    #[error("GGEP extension ID has a byte that is not printable ASCII")]
    /// An ID byte is not printable ASCII (0x21-0x7E).
    BadId,
    #[error("GGEP extension data is not valid COBS")]
    /// When a value is read: data flagged COBS has a zero code byte or a block running past
    /// its end.
    Cobs,
    #[error("GGEP extension data does not inflate: {0}")]
    /// When a value is read: data flagged deflate is not a valid zlib stream (the zlib error).
    Inflate(String),
    /// When a value is read: deflated data inflates past
    /// [`MAX_GGEP_INFLATED_LEN`] (65,536 bytes), a decompression bomb.
    #[error("GGEP extension data inflates to more than {limit} bytes")]
    InflatedTooLarge {
        /// The inflation limit, bytes.
        limit: usize,
    },
}

/// One extension of a GGEP block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgepExtension {
    /// ASCII ID such as "LF", "H" or "DU": 1 to 15 printable ASCII bytes.
    pub id: String,
    /// The data is COBS-encoded on the wire.
    pub cobs: bool,
    /// The data is a zlib stream on the wire.
    pub deflate: bool,
    /// The data exactly as on the wire (still COBS/deflate encoded); at most
    /// [`MAX_GGEP_DATA_LEN`] bytes. Use [`GgepExtension::decoded`] to read it.
    pub data: Vec<u8>,
}

fn is_valid_id(id: &[u8]) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len()) && id.iter().all(u8::is_ascii_graphic)
}

impl GgepExtension {
    /// A plain extension (neither COBS nor deflate).
    ///
    /// # Panics
    /// If `id` is not 1 to 15 printable ASCII bytes (a programming error).
    pub fn new(id: &str, data: Vec<u8>) -> Self {
        assert!(is_valid_id(id.as_bytes()), "invalid GGEP id {id:?}");
        GgepExtension {
            id: id.to_owned(),
            cobs: false,
            deflate: false,
            data,
        }
    }

    /// An extension whose data is `raw` deflated as a zlib stream.
    ///
    /// # Panics
    /// If `id` is not 1 to 15 printable ASCII bytes (a programming error).
    pub fn deflated(id: &str, raw: &[u8]) -> Self {
        let mut enc = ZlibEncoder::new(Vec::new(), Compression::default());
        enc.write_all(raw).expect("writing to a Vec cannot fail");
        let data = enc.finish().expect("writing to a Vec cannot fail");
        GgepExtension {
            deflate: true,
            ..Self::new(id, data)
        }
    }

    /// The data with COBS undone (first), then inflated. Borrowed when neither applies.
    /// Inflated output is bounded by [`MAX_GGEP_INFLATED_LEN`].
    pub fn decoded(&self) -> Result<Cow<'_, [u8]>, GgepError> {
        let mut out = Cow::Borrowed(self.data.as_slice());
        if self.cobs {
            out = Cow::Owned(cobs_decode(&out)?);
        }
        if self.deflate {
            out = Cow::Owned(inflate_bounded(&out, MAX_GGEP_INFLATED_LEN)?);
        }
        Ok(out)
    }

    fn encoded_len(&self) -> usize {
        let (id, data) = self.wire_parts();
        1 + id.len() + len_bytes(data.len()) + data.len()
    }

    /// ID and data clamped to what the wire format can carry; callers must keep them
    /// within bounds, the clamp only keeps the framing consistent if they do not.
    fn wire_parts(&self) -> (&[u8], &[u8]) {
        debug_assert!(is_valid_id(self.id.as_bytes()), "invalid GGEP id");
        debug_assert!(self.data.len() <= MAX_GGEP_DATA_LEN, "GGEP data too long");
        let id = self.id.as_bytes();
        (
            &id[..id.len().min(MAX_ID_LEN)],
            &self.data[..self.data.len().min(MAX_GGEP_DATA_LEN)],
        )
    }
}

/// A GGEP block as carried in a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GgepBlock {
    /// A block that parsed: its extensions in wire order (an empty list encodes to nothing).
    Parsed(Vec<GgepExtension>),
    /// A block we could not decode, kept verbatim (including the 0xC3 magic) so it is
    /// forwarded unchanged and never crashes us.
    Raw(Vec<u8>),
}

impl GgepBlock {
    /// `buf` starts at the 0xC3 magic. Returns the block and the bytes consumed. A block
    /// that fails to parse becomes `Raw(buf.to_vec())` consuming all of `buf`.
    pub fn decode(buf: &[u8]) -> (GgepBlock, usize) {
        match Self::parse(buf) {
            Ok((exts, used)) => (GgepBlock::Parsed(exts), used),
            Err(_) => (GgepBlock::Raw(buf.to_vec()), buf.len()),
        }
    }

    /// Strict form: `Ok((extensions, consumed))` or a typed error.
    pub fn parse(buf: &[u8]) -> Result<(Vec<GgepExtension>, usize), GgepError> {
        match buf.first() {
            None => return Err(GgepError::Truncated),
            Some(&GGEP_MAGIC) => {}
            Some(_) => return Err(GgepError::BadMagic),
        }
        let mut pos = 1;
        let mut exts = Vec::new();
        loop {
            let flags = *buf.get(pos).ok_or(GgepError::Truncated)?;
            pos += 1;
            if flags & FLAG_RESERVED != 0 {
                return Err(GgepError::ReservedBit);
            }
            let id_len = usize::from(flags & ID_LEN_MASK);
            if id_len == 0 {
                return Err(GgepError::BadIdLength);
            }
            let id = take(buf, &mut pos, id_len)?;
            if !is_valid_id(id) {
                return Err(GgepError::BadId);
            }
            let data_len = read_len(buf, &mut pos)?;
            let data = take(buf, &mut pos, data_len)?;
            exts.push(GgepExtension {
                id: id.iter().map(|&b| char::from(b)).collect(),
                cobs: flags & FLAG_COBS != 0,
                deflate: flags & FLAG_DEFLATE != 0,
                data: data.to_vec(),
            });
            if flags & FLAG_LAST != 0 {
                return Ok((exts, pos));
            }
        }
    }

    /// Parsed: magic plus extensions, the last one flagged 0x80, minimal lengths (an
    /// empty list encodes to nothing). Raw: verbatim.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let exts = match self {
            GgepBlock::Raw(bytes) => return out.extend_from_slice(bytes),
            GgepBlock::Parsed(exts) if exts.is_empty() => return,
            GgepBlock::Parsed(exts) => exts,
        };
        out.reserve(self.encoded_len());
        out.push(GGEP_MAGIC);
        for (i, ext) in exts.iter().enumerate() {
            let (id, data) = ext.wire_parts();
            let mut flags = id.len() as u8;
            if i + 1 == exts.len() {
                flags |= FLAG_LAST;
            }
            if ext.cobs {
                flags |= FLAG_COBS;
            }
            if ext.deflate {
                flags |= FLAG_DEFLATE;
            }
            out.push(flags);
            out.extend_from_slice(id);
            write_len(data.len(), out);
            out.extend_from_slice(data);
        }
    }

    /// Exactly the number of bytes [`GgepBlock::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            GgepBlock::Raw(bytes) => bytes.len(),
            GgepBlock::Parsed(exts) if exts.is_empty() => 0,
            GgepBlock::Parsed(exts) => {
                1 + exts.iter().map(GgepExtension::encoded_len).sum::<usize>()
            }
        }
    }

    /// The first extension with this ID; `None` for a Raw block.
    pub fn get(&self, id: &str) -> Option<&GgepExtension> {
        match self {
            GgepBlock::Parsed(exts) => exts.iter().find(|e| e.id == id),
            GgepBlock::Raw(_) => None,
        }
    }
}

fn take<'a>(buf: &'a [u8], pos: &mut usize, n: usize) -> Result<&'a [u8], GgepError> {
    let bytes = buf.get(*pos..*pos + n).ok_or(GgepError::Truncated)?;
    *pos += n;
    Ok(bytes)
}

/// Reads the 1-3 byte data length. A leading zero chunk is rejected: it would not
/// re-encode byte for byte (such a block is kept Raw and still forwarded verbatim).
fn read_len(buf: &[u8], pos: &mut usize) -> Result<usize, GgepError> {
    let mut len = 0usize;
    for i in 0..3 {
        let b = *buf.get(*pos).ok_or(GgepError::Truncated)?;
        *pos += 1;
        len = (len << 6) | usize::from(b & LEN_CHUNK);
        match b & (LEN_MORE | LEN_LAST) {
            LEN_LAST => return Ok(len),
            LEN_MORE if !(i == 0 && len == 0) => {}
            _ => return Err(GgepError::BadLengthEncoding),
        }
    }
    Err(GgepError::BadLengthEncoding)
}

fn len_bytes(len: usize) -> usize {
    match len {
        0..=0x3F => 1,
        0x40..=0xFFF => 2,
        _ => 3,
    }
}

fn write_len(len: usize, out: &mut Vec<u8>) {
    let n = len_bytes(len);
    for i in (0..n).rev() {
        let chunk = ((len >> (6 * i)) as u8) & LEN_CHUNK;
        out.push(chunk | if i == 0 { LEN_LAST } else { LEN_MORE });
    }
}

/// Undoes Consistent Overhead Byte Stuffing. The output is never longer than `enc`.
pub fn cobs_decode(enc: &[u8]) -> Result<Vec<u8>, GgepError> {
    let mut out = Vec::with_capacity(enc.len());
    let mut rest = enc;
    while let Some((&code, tail)) = rest.split_first() {
        if code == 0 {
            return Err(GgepError::Cobs);
        }
        let n = usize::from(code) - 1;
        let block = tail.get(..n).ok_or(GgepError::Cobs)?;
        out.extend_from_slice(block);
        rest = &tail[n..];
        if code != 0xFF && !rest.is_empty() {
            out.push(0);
        }
    }
    Ok(out)
}

/// Consistent Overhead Byte Stuffing: the output has no zero byte.
pub fn cobs_encode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 254 + 1);
    let mut code_at = 0;
    out.push(0);
    for &b in raw {
        if b != 0 {
            out.push(b);
        }
        if b == 0 || out.len() - code_at == 0xFF {
            out[code_at] = (out.len() - code_at) as u8;
            code_at = out.len();
            out.push(0);
        }
    }
    out[code_at] = (out.len() - code_at) as u8;
    out
}

/// Inflates a zlib stream, failing as soon as the output would pass `limit`; the
/// buffer grows by doubling but is never allocated past `limit`.
fn inflate_bounded(data: &[u8], limit: usize) -> Result<Vec<u8>, GgepError> {
    let mut dec = ZlibDecoder::new(data);
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = dec
            .read(&mut chunk)
            .map_err(|e| GgepError::Inflate(e.to_string()))?;
        if n == 0 {
            return Ok(out);
        }
        if out.len() + n > limit {
            return Err(GgepError::InflatedTooLarge { limit });
        }
        if out.capacity() - out.len() < n {
            let want = (out.len() * 2)
                .max(out.len() + n)
                .max(chunk.len())
                .min(limit);
            out.reserve_exact(want - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(exts: Vec<GgepExtension>) -> Vec<u8> {
        let mut out = Vec::new();
        GgepBlock::Parsed(exts).encode(&mut out);
        out
    }

    #[test]
    fn length_encoding_examples() {
        for (len, wire) in [
            (0, &[0x40][..]),
            (5, &[0x45]),
            (63, &[0x7F]),
            (64, &[0x81, 0x40]),
            (4095, &[0xBF, 0x7F]),
            (4096, &[0x81, 0x80, 0x40]),
            (MAX_GGEP_DATA_LEN, &[0xBF, 0xBF, 0x7F]),
        ] {
            let mut out = Vec::new();
            write_len(len, &mut out);
            assert_eq!(out, wire, "len {len}");
            assert_eq!(len_bytes(len), wire.len());
            let mut pos = 0;
            assert_eq!(read_len(wire, &mut pos), Ok(len));
            assert_eq!(pos, wire.len());
        }
        for bad in [
            &[0x00][..],
            &[0xC0],
            &[0x80, 0x45],
            &[0x81, 0x81, 0x81, 0x40],
        ] {
            assert_eq!(
                read_len(bad, &mut 0),
                Err(GgepError::BadLengthEncoding),
                "{bad:?}"
            );
        }
        assert_eq!(read_len(&[0x81], &mut 0), Err(GgepError::Truncated));
    }

    #[test]
    fn single_extension_wire_bytes() {
        assert_eq!(
            block(vec![GgepExtension::new("H", vec![1, 2, 3])]),
            [0xC3, 0x81, b'H', 0x43, 1, 2, 3]
        );
        assert!(block(vec![]).is_empty());
        assert_eq!(GgepBlock::Parsed(vec![]).encoded_len(), 0);
    }

    #[test]
    fn round_trip_several_extensions() {
        let mut cobs = GgepExtension::new("COBS", cobs_encode(&[0, 1, 0, 2]));
        cobs.cobs = true;
        let exts = vec![
            GgepExtension::new("LF", vec![]),
            GgepExtension::new("DU", vec![7; 64]),
            GgepExtension::new("H", vec![0xAB; 4095]),
            GgepExtension::new("ABCDEFGHIJKLMNO", vec![9; 5000]),
            GgepExtension::deflated("Z", b"hello hello hello"),
            cobs,
        ];
        let blk = GgepBlock::Parsed(exts.clone());
        let wire = block(exts.clone());
        assert_eq!(blk.encoded_len(), wire.len());

        let mut buf = wire.clone();
        buf.extend_from_slice(b"trailing");
        let (parsed, used) = GgepBlock::parse(&buf).unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(parsed, exts);
        assert_eq!(block(parsed), wire);
        let (decoded, used) = GgepBlock::decode(&buf);
        assert_eq!((&decoded, used), (&blk, wire.len()));
        assert_eq!(decoded.get("DU").unwrap().data.len(), 64);
        assert!(decoded.get("XX").is_none());
    }

    #[test]
    fn cobs_and_deflate_decoding() {
        for raw in [
            &[][..],
            &[0],
            &[1, 0, 0, 2],
            &[5; 254],
            &[5; 255],
            &[5; 600],
            &[0; 300],
        ] {
            let enc = cobs_encode(raw);
            assert!(!enc.contains(&0));
            assert_eq!(cobs_decode(&enc).unwrap(), raw);
        }
        assert_eq!(cobs_encode(&[0x11, 0, 0x22]), [2, 0x11, 2, 0x22]);
        assert_eq!(cobs_decode(&[0]), Err(GgepError::Cobs));
        assert_eq!(cobs_decode(&[3, 1]), Err(GgepError::Cobs));

        let plain = GgepExtension::new("H", vec![1, 2]);
        assert!(matches!(plain.decoded().unwrap(), Cow::Borrowed(&[1, 2])));
        let text = b"some text, some text, some text".repeat(10);
        let z = GgepExtension::deflated("Z", &text);
        assert!(z.data.len() < text.len());
        assert_eq!(z.decoded().unwrap(), &text[..]);
        // COBS is undone first, then inflate.
        let both = GgepExtension {
            cobs: true,
            data: cobs_encode(&z.data),
            ..z.clone()
        };
        assert_eq!(both.decoded().unwrap(), &text[..]);

        let bad = GgepExtension {
            data: vec![1, 2, 3, 4],
            ..z.clone()
        };
        assert!(matches!(bad.decoded(), Err(GgepError::Inflate(_))));
        let cut = GgepExtension {
            data: z.data[..z.data.len() / 2].to_vec(),
            ..z
        };
        assert!(cut.decoded().is_err());
    }

    #[test]
    fn deflate_bomb_is_bounded() {
        let limit = MAX_GGEP_INFLATED_LEN;
        assert_eq!(
            GgepExtension::deflated("Z", &vec![0; limit])
                .decoded()
                .unwrap()
                .len(),
            limit
        );
        for len in [limit + 1, 1 << 20] {
            let bomb = GgepExtension::deflated("Z", &vec![0; len]);
            assert_eq!(bomb.decoded(), Err(GgepError::InflatedTooLarge { limit }));
        }
    }

    #[test]
    fn truncated_and_garbage_input() {
        let wire = block(vec![
            GgepExtension::new("A", vec![1; 70]),
            GgepExtension::new("BB", vec![2; 3]),
        ]);
        for n in 0..wire.len() {
            assert_eq!(GgepBlock::parse(&wire[..n]), Err(GgepError::Truncated));
            let (blk, used) = GgepBlock::decode(&wire[..n]);
            assert_eq!((blk, used), (GgepBlock::Raw(wire[..n].to_vec()), n));
        }
        for (bad, err) in [
            (&[0x00, 0x81, b'H', 0x40][..], GgepError::BadMagic),
            (&[0xC3, 0x90 | 1, b'H', 0x40], GgepError::ReservedBit),
            (&[0xC3, 0x80, 0x40], GgepError::BadIdLength),
            (&[0xC3, 0x81, b' ', 0x40], GgepError::BadId),
            (&[0xC3, 0x81, 0xFF, 0x40], GgepError::BadId),
            (&[0xC3, 0x81, b'H', 0x00], GgepError::BadLengthEncoding),
            (&[0xC3, 0x81, b'H', 0xC1], GgepError::BadLengthEncoding),
            (&[0xC3, 0x01, b'H', 0x40], GgepError::Truncated),
        ] {
            assert_eq!(GgepBlock::parse(bad), Err(err.clone()), "{bad:?}");
            let (blk, used) = GgepBlock::decode(bad);
            assert_eq!((blk, used), (GgepBlock::Raw(bad.to_vec()), bad.len()));
            let mut out = Vec::new();
            GgepBlock::Raw(bad.to_vec()).encode(&mut out);
            assert_eq!(out, bad);
        }
    }

    /// Parses `buf` and checks that whatever parses re-encodes byte for byte.
    fn check_no_panic(buf: &[u8]) {
        let (blk, used) = GgepBlock::decode(buf);
        assert!(used <= buf.len());
        let mut out = Vec::new();
        blk.encode(&mut out);
        assert_eq!(out, &buf[..used]);
        assert_eq!(blk.encoded_len(), used);
        if let GgepBlock::Parsed(exts) = &blk {
            for ext in exts {
                let _ = ext.decoded();
            }
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        for a in 0..=255u8 {
            check_no_panic(&[a]);
            for b in 0..=255u8 {
                check_no_panic(&[a, b]);
            }
        }
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seed = block(vec![
            GgepExtension::new("H", vec![3; 20]),
            GgepExtension::deflated("Z", &[1; 100]),
            GgepExtension {
                cobs: true,
                ..GgepExtension::new("C", cobs_encode(&[0, 4, 0]))
            },
        ]);
        for _ in 0..5000 {
            // Random bytes behind the magic, and mutations of a valid block.
            let len = (next() % 64) as usize;
            let mut buf: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if let Some(first) = buf.first_mut() {
                *first = GGEP_MAGIC;
            }
            check_no_panic(&buf);
            let mut buf = seed.clone();
            for _ in 0..1 + next() % 3 {
                let i = (next() as usize) % buf.len();
                buf[i] = next() as u8;
            }
            check_no_panic(&buf);
        }
    }
}
