//! The push callback line, `GIV <index>:<servent ID, 32 hex>/<file name>\n\n`: what a
//! firewalled servent sends first on the connection it opens to answer a Push (then the
//! downloader sends HTTP requests on it). gtk-gnutella writes `GIV 7:<hex>/file\n\n` and
//! reads only the index and the ID up to the `/`; LimeWire writes the file name. We write
//! the name (control bytes replaced) and, reading, keep it only for logs.

use super::guid::Guid;

/// Longest GIV block we read, both lines and their ends, bytes: gtk-gnutella reads lines
/// of at most 1 KiB; a name we write is capped well below ([`MAX_GIV_NAME_LEN`]).
pub const MAX_GIV_LEN: usize = 1024;
/// Longest file name we write in a GIV, bytes (cut on a character boundary): the line
/// stays far under [`MAX_GIV_LEN`] whatever the name.
pub const MAX_GIV_NAME_LEN: usize = 255;

/// A parsed GIV line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Giv {
    /// The file index the Push asked for (servents may then request any file).
    pub index: u32,
    /// The servent ID of the servent calling back (as in its QueryHits).
    pub servent_id: Guid,
    /// The file name it gave, lossily decoded (informative only).
    pub name: String,
}

/// Why a GIV block was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GivError {
    /// No blank line within [`MAX_GIV_LEN`] bytes.
    #[error("GIV longer than {MAX_GIV_LEN} bytes")]
    TooLong,
    /// The line does not start with `GIV `.
    #[error("not a GIV line")]
    NotGiv,
    /// The index is not a decimal number below 2^32 followed by `:`.
    #[error("bad file index in GIV")]
    BadIndex,
    /// The servent ID is not 32 hex digits followed by `/`.
    #[error("bad servent ID in GIV")]
    BadServentId,
    /// The line is not followed by an empty line.
    #[error("GIV line not followed by an empty line")]
    NoBlankLine,
}

impl GivError {
    /// Short name for counters.
    pub fn name(self) -> &'static str {
        match self {
            GivError::TooLong => "too-long",
            GivError::NotGiv => "not-giv",
            GivError::BadIndex => "bad-index",
            GivError::BadServentId => "bad-servent-id",
            GivError::NoBlankLine => "no-blank-line",
        }
    }
}

impl Giv {
    /// The block to send: `GIV <index>:<ID>/<name>\n\n`, the ID in upper-case hex, the name
    /// with control bytes replaced by `_` and cut to [`MAX_GIV_NAME_LEN`] bytes.
    pub fn encode(index: u32, servent_id: Guid, name: &str) -> Vec<u8> {
        let mut cut = name.len().min(MAX_GIV_NAME_LEN);
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        let clean: String = name[..cut]
            .chars()
            .map(|c| if c.is_control() { '_' } else { c })
            .collect();
        format!("GIV {index}:{servent_id}/{clean}\n\n").into_bytes()
    }

    /// How many bytes of `buf` the GIV block takes (its line and the empty line, `\n` or
    /// `\r\n` ends), once complete: `Ok(None)` while more bytes are needed,
    /// [`GivError::TooLong`] past [`MAX_GIV_LEN`] without its end.
    pub fn block_len(buf: &[u8]) -> Result<Option<usize>, GivError> {
        let window = &buf[..buf.len().min(MAX_GIV_LEN)];
        let Some(first) = window.iter().position(|&b| b == b'\n') else {
            return if buf.len() >= MAX_GIV_LEN {
                Err(GivError::TooLong)
            } else {
                Ok(None)
            };
        };
        let rest = &window[first + 1..];
        match rest {
            [b'\n', ..] => Ok(Some(first + 2)),
            [b'\r', b'\n', ..] => Ok(Some(first + 3)),
            [] | [b'\r'] if buf.len() < MAX_GIV_LEN => Ok(None),
            [] | [b'\r'] => Err(GivError::TooLong),
            _ => Err(GivError::NoBlankLine),
        }
    }

    /// Parses a complete GIV block (as [`Giv::block_len`] measured it).
    pub fn parse(block: &[u8]) -> Result<Giv, GivError> {
        if block.len() > MAX_GIV_LEN {
            return Err(GivError::TooLong);
        }
        let end = block
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(GivError::NoBlankLine)?;
        let tail = &block[end + 1..];
        if tail != b"\n" && tail != b"\r\n" {
            return Err(GivError::NoBlankLine);
        }
        let line = block[..end].strip_suffix(b"\r").unwrap_or(&block[..end]);
        let rest = line.strip_prefix(b"GIV ").ok_or(GivError::NotGiv)?;
        let colon = rest
            .iter()
            .position(|&b| b == b':')
            .ok_or(GivError::BadIndex)?;
        let digits = &rest[..colon];
        if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(GivError::BadIndex);
        }
        let index: u32 = std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or(GivError::BadIndex)?;
        let after = &rest[colon + 1..];
        let (hex, name) = match (after.get(..32), after.get(32)) {
            (Some(hex), Some(b'/')) => (hex, &after[33..]),
            _ => return Err(GivError::BadServentId),
        };
        let servent_id = std::str::from_utf8(hex)
            .ok()
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(Guid::from_hex)
            .ok_or(GivError::BadServentId)?;
        Ok(Giv {
            index,
            servent_id,
            name: String::from_utf8_lossy(name).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789ABCDEF0123456789abcdef";

    #[test]
    fn our_line_parses_back() {
        let id = Guid::from_hex(ID).unwrap();
        let block = Giv::encode(7, id, "a b\nc.ogg");
        assert_eq!(
            block,
            b"GIV 7:0123456789ABCDEF0123456789ABCDEF/a b_c.ogg\n\n".to_vec()
        );
        assert_eq!(Giv::block_len(&block), Ok(Some(block.len())));
        let giv = Giv::parse(&block).unwrap();
        assert_eq!((giv.index, giv.servent_id), (7, id));
        assert_eq!(giv.name, "a b_c.ogg");
        let long = Giv::encode(1, id, &"é".repeat(400));
        assert!(long.len() < MAX_GIV_LEN);
        assert!(Giv::parse(&long).is_ok());
    }

    #[test]
    fn gtk_gnutella_and_crlf_forms() {
        let gtkg = format!("GIV 4294967295:{}/file\n\n", ID.to_lowercase());
        let g = Giv::parse(gtkg.as_bytes()).unwrap();
        assert_eq!(g.index, u32::MAX);
        let crlf = format!("GIV 0:{ID}/\r\n\r\n");
        assert_eq!(Giv::block_len(crlf.as_bytes()), Ok(Some(crlf.len())));
        assert_eq!(Giv::parse(crlf.as_bytes()).unwrap().name, "");
    }

    #[test]
    fn hostile_lines_are_typed_errors() {
        let cases: [(String, GivError); 8] = [
            (format!("GIVE 1:{ID}/x\n\n"), GivError::NotGiv),
            (format!("GIV :{ID}/x\n\n"), GivError::BadIndex),
            (format!("GIV 4294967296:{ID}/x\n\n"), GivError::BadIndex),
            (format!("GIV -1:{ID}/x\n\n"), GivError::BadIndex),
            (
                "GIV 1:0123456789ABCDEF0123456789ABCDEG/x\n\n".into(),
                GivError::BadServentId,
            ),
            (format!("GIV 1:{}/x\n\n", &ID[..31]), GivError::BadServentId),
            (format!("GIV 1:{ID}x\n\n"), GivError::BadServentId),
            (
                format!("GIV 1:{ID}/x\nGET / HTTP/1.1\n"),
                GivError::NoBlankLine,
            ),
        ];
        for (line, want) in cases {
            let got = Giv::block_len(line.as_bytes())
                .and_then(|n| Giv::parse(&line.as_bytes()[..n.unwrap_or(line.len())]));
            assert_eq!(got.err(), Some(want), "{line:?}");
        }
        let endless = vec![b'A'; MAX_GIV_LEN];
        assert_eq!(Giv::block_len(&endless), Err(GivError::TooLong));
        assert_eq!(Giv::block_len(b"GIV 1:"), Ok(None));
        assert_eq!(Giv::block_len(b"GIV 1:x\n"), Ok(None));
        assert_eq!(
            Giv::parse(&vec![b'\n'; MAX_GIV_LEN + 1]),
            Err(GivError::TooLong)
        );
    }
}
