//! The Gnutella connection handshake: the text blocks two peers exchange before any
//! descriptor (`GNUTELLA CONNECT/0.6`, `GNUTELLA/0.6 200 OK`, the 0.4 `GNUTELLA OK`),
//! each a start line, `Name: value` headers and an empty line. This file owns their
//! framing ([`check`], bounded by [`MAX_HANDSHAKE_LEN`] and [`MAX_HANDSHAKE_HEADERS`]),
//! decoding ([`parse`]) and encoding ([`HandshakeMessage::encode`]); what the headers mean
//! and which answer to give is the caller's business.
//!
//! Input is read liberally: bare `\n` line endings, header names in any case, repeated
//! headers and continuation lines (a line starting with a space or tab extends the previous
//! value, joined with one space). Output is canonical: `Name: value` lines ending in CRLF,
//! or exactly `GNUTELLA CONNECT/0.4\n\n` and `GNUTELLA OK\n\n` for 0.4.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use super::limits::{MAX_HANDSHAKE_HEADERS, MAX_HANDSHAKE_LEN};

/// The first line of a handshake block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `GNUTELLA CONNECT/<version>`: a client opens the handshake.
    Connect {
        /// The version the client asks for: 0.6, or 0.4 for an old servent.
        version: Version,
    },
    /// `GNUTELLA/<version> <code> <reason>`: an answer (steps 2 and 3 of 0.6).
    Status {
        /// Protocol version of the answer (we write 0.6).
        version: Version,
        /// Status code, three digits: 200 accepts, anything else refuses (503 full, 409 a
        /// duplicate link).
        code: u16,
        /// Reason phrase after the code, trimmed; may be empty.
        reason: String,
    },
    /// 0.4 reply "GNUTELLA OK"
    Ok04,
}

/// A protocol version, `<major>.<minor>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    /// Number before the dot: the 0 of 0.6.
    pub major: u8,
    /// Number after the dot: the 6 of 0.6.
    pub minor: u8,
}

impl Version {
    /// Gnutella 0.4: `GNUTELLA CONNECT/0.4`, answered `GNUTELLA OK`, no headers.
    pub const V0_4: Version = Version { major: 0, minor: 4 };
    /// Gnutella 0.6: the three-step handshake with headers.
    pub const V0_6: Version = Version { major: 0, minor: 6 };

    /// `<digits>.<digits>`, each part at most 3 digits and fitting a `u8`.
    fn parse(text: &[u8]) -> Option<Version> {
        let dot = text.iter().position(|&b| b == b'.')?;
        Some(Version {
            major: number(&text[..dot], 1..=3)?,
            minor: number(&text[dot + 1..], 1..=3)?,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl fmt::Display for StartLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartLine::Connect { version } => write!(f, "GNUTELLA CONNECT/{version}"),
            StartLine::Status {
                version,
                code,
                reason,
            } if reason.is_empty() => {
                write!(f, "GNUTELLA/{version} {code:03}")
            }
            StartLine::Status {
                version,
                code,
                reason,
            } => {
                write!(f, "GNUTELLA/{version} {code:03} {reason}")
            }
            StartLine::Ok04 => f.write_str("GNUTELLA OK"),
        }
    }
}

/// Handshake headers in the order received, names as received (compared case-insensitively).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header; an existing one of the same name is kept. The name must be a token
    /// and the value free of line breaks: [`HandshakeMessage::encode`] writes them as given.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_owned(), value.into()));
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The values of every header called `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The comma-separated items of every header called `name`, trimmed, empty ones dropped:
    /// `X-Try: a, b` plus `X-Try: c` gives `[a, b, c]`.
    pub fn get_list(&self, name: &str) -> Vec<String> {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Every header as (name, value), in order, names as received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of header lines kept (a repeated header counts each time).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no header at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One handshake block: start line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeMessage {
    /// The start line: a connect, a status answer or the 0.4 `GNUTELLA OK`.
    pub start: StartLine,
    /// The headers, in order, continuation lines already joined to their header.
    pub headers: Headers,
}

impl HandshakeMessage {
    /// Step 1 of 0.6: `GNUTELLA CONNECT/0.6`.
    pub fn connect(headers: Headers) -> Self {
        let start = StartLine::Connect {
            version: Version::V0_6,
        };
        Self { start, headers }
    }

    /// The 0.4 connect, `GNUTELLA CONNECT/0.4\n\n`.
    pub fn connect_04() -> Self {
        let start = StartLine::Connect {
            version: Version::V0_4,
        };
        Self {
            start,
            headers: Headers::new(),
        }
    }

    /// Steps 2 and 3 of 0.6 when accepting: `GNUTELLA/0.6 200 OK`.
    pub fn ok(headers: Headers) -> Self {
        Self::status(200, "OK", headers)
    }

    /// `GNUTELLA/0.6 <code> <reason>`; `code` is written with three digits.
    pub fn status(code: u16, reason: &str, headers: Headers) -> Self {
        let start = StartLine::Status {
            version: Version::V0_6,
            code,
            reason: reason.to_owned(),
        };
        Self { start, headers }
    }

    /// The 0.4 answer, `GNUTELLA OK\n\n`.
    pub fn ok_04() -> Self {
        Self {
            start: StartLine::Ok04,
            headers: Headers::new(),
        }
    }

    /// The status code: `None` for a connect, 200 for the 0.4 `GNUTELLA OK`.
    pub fn code(&self) -> Option<u16> {
        match self.start {
            StartLine::Connect { .. } => None,
            StartLine::Status { code, .. } => Some(code),
            StartLine::Ok04 => Some(200),
        }
    }

    /// The protocol version of the start line (0.4 for `GNUTELLA OK`).
    pub fn version(&self) -> Version {
        match self.start {
            StartLine::Connect { version } | StartLine::Status { version, .. } => version,
            StartLine::Ok04 => Version::V0_4,
        }
    }

    /// Whether this is a 0.4 message (`GNUTELLA CONNECT/0.4` or `GNUTELLA OK`), which is
    /// written with bare `\n` line endings.
    pub fn is_04(&self) -> bool {
        match self.start {
            StartLine::Connect { version } => version == Version::V0_4,
            StartLine::Status { .. } => false,
            StartLine::Ok04 => true,
        }
    }

    /// The wire form: CRLF line endings, or `\n` for a 0.4 message.
    pub fn encode(&self) -> Vec<u8> {
        let eol = if self.is_04() { "\n" } else { "\r\n" };
        let mut out = format!("{}{eol}", self.start);
        for (name, value) in self.headers.iter() {
            out.extend([name, ": ", value, eol]);
        }
        out.push_str(eol);
        out.into_bytes()
    }
}

/// What [`check`] found in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeCheck {
    /// No empty line yet: read more.
    Incomplete,
    /// The block is complete and is this many bytes long (bytes after it belong to the
    /// descriptor stream or the next step).
    Complete(usize),
}

/// Why a buffer is not an acceptable handshake block. Every one ends the connection.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum HandshakeError {
    /// No end of block (empty line) within the first [`MAX_HANDSHAKE_LEN`] (8 KiB) bytes.
    #[error("handshake block longer than {limit} bytes")]
    TooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// More than [`MAX_HANDSHAKE_HEADERS`] (64) header lines before the empty line,
    /// continuation lines included.
    #[error("handshake block has more than {limit} header lines")]
    TooManyHeaders {
        /// The limit, lines.
        limit: usize,
    },
    /// [`parse`] was given a block without its empty line.
    #[error("handshake block does not end with an empty line")]
    Unterminated,
    /// [`parse`] was given bytes after the block's empty line; carries how many.
    #[error("{0} bytes follow the handshake block")]
    TrailingBytes(usize),
    /// The first line (at most 80 characters, lossily decoded) is no Gnutella start line.
    #[error("bad handshake start line {0:?}")]
    BadStartLine(String),
    /// A header line (at most 80 characters) without `Name:` or continuing nothing.
    #[error("bad handshake header line {0:?}")]
    BadHeader(String),
    /// Invalid UTF-8, or a control character other than tab, in a header or reason.
    #[error("handshake block is not text (invalid UTF-8 or control bytes)")]
    NotText,
}

/// Two-phase framing step 1: find the end of the block (the first empty line, so
/// `\r\n\r\n`, `\n\n` or mixed) without allocating. `Err(TooLarge)` once
/// [`MAX_HANDSHAKE_LEN`] bytes are buffered with no end, or the end lies past it;
/// `Err(TooManyHeaders)` as soon as more than [`MAX_HANDSHAKE_HEADERS`] header lines
/// (continuation lines included) are seen. Looks at no more than the first
/// [`MAX_HANDSHAKE_LEN`] bytes of `buf`.
pub fn check(buf: &[u8]) -> Result<HandshakeCheck, HandshakeError> {
    let window = &buf[..buf.len().min(MAX_HANDSHAKE_LEN)];
    let mut line_start = 0;
    let mut headers = 0;
    for end in (0..window.len()).filter(|&i| window[i] == b'\n') {
        if matches!(&window[line_start..end], b"" | b"\r") {
            return Ok(HandshakeCheck::Complete(end + 1));
        }
        if line_start > 0 {
            headers += 1;
            if headers > MAX_HANDSHAKE_HEADERS {
                return Err(HandshakeError::TooManyHeaders {
                    limit: MAX_HANDSHAKE_HEADERS,
                });
            }
        }
        line_start = end + 1;
    }
    if buf.len() >= MAX_HANDSHAKE_LEN {
        Err(HandshakeError::TooLarge {
            limit: MAX_HANDSHAKE_LEN,
        })
    } else {
        Ok(HandshakeCheck::Incomplete)
    }
}

/// Step 2: parse exactly one complete block (the bytes [`check`] said).
///
/// The framing is checked again, so any input is safe: a block without its empty line is
/// [`HandshakeError::Unterminated`], bytes after it are [`HandshakeError::TrailingBytes`].
pub fn parse(block: &[u8]) -> Result<HandshakeMessage, HandshakeError> {
    match check(block)? {
        HandshakeCheck::Incomplete => return Err(HandshakeError::Unterminated),
        HandshakeCheck::Complete(len) if len < block.len() => {
            return Err(HandshakeError::TrailingBytes(block.len() - len))
        }
        HandshakeCheck::Complete(_) => {}
    }
    let mut lines = block
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let start = parse_start(lines.next().unwrap_or_default())?;
    let mut headers = Headers::new();
    for line in lines.take_while(|line| !line.is_empty()) {
        let line = text(line)?;
        if line.starts_with([' ', '\t']) {
            let (_, value) = headers.0.last_mut().ok_or_else(|| bad_header(line))?;
            let more = line.trim();
            if !value.is_empty() && !more.is_empty() {
                value.push(' ');
            }
            value.push_str(more);
        } else {
            let (name, value) = line.split_once(':').ok_or_else(|| bad_header(line))?;
            let name = name.trim_end();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(bad_header(line));
            }
            headers.push(name, value.trim());
        }
    }
    Ok(HandshakeMessage { start, headers })
}

fn parse_start(line: &[u8]) -> Result<StartLine, HandshakeError> {
    let bad = || HandshakeError::BadStartLine(truncated(line));
    if line == b"GNUTELLA OK" {
        return Ok(StartLine::Ok04);
    }
    if let Some(version) = line.strip_prefix(b"GNUTELLA CONNECT/") {
        let version = Version::parse(version).ok_or_else(bad)?;
        return Ok(StartLine::Connect { version });
    }
    let rest = line.strip_prefix(b"GNUTELLA/").ok_or_else(bad)?;
    let space = rest.iter().position(|&b| b == b' ').ok_or_else(bad)?;
    let version = Version::parse(&rest[..space]).ok_or_else(bad)?;
    let rest = &rest[space + 1..];
    let (code, reason) = match rest.get(3) {
        None => (rest, &[][..]),
        Some(b' ') => (&rest[..3], &rest[4..]),
        Some(_) => return Err(bad()),
    };
    Ok(StartLine::Status {
        version,
        code: number(code, 3..=3).ok_or_else(bad)?,
        reason: text(reason)?.trim().to_owned(),
    })
}

/// A decimal number of `len` ASCII digits (no sign) that fits `T`.
fn number<T: FromStr>(digits: &[u8], len: RangeInclusive<usize>) -> Option<T> {
    let ok = len.contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit);
    std::str::from_utf8(digits)
        .ok()
        .filter(|_| ok)?
        .parse()
        .ok()
}

/// `line` as text: valid UTF-8 with no control characters but tab.
fn text(line: &[u8]) -> Result<&str, HandshakeError> {
    std::str::from_utf8(line)
        .ok()
        .filter(|s| !s.chars().any(|c| c.is_control() && c != '\t'))
        .ok_or(HandshakeError::NotText)
}

fn bad_header(line: &str) -> HandshakeError {
    HandshakeError::BadHeader(truncated(line.as_bytes()))
}

/// The first 80 characters of `line`, lossily decoded, for an error message. 80 characters
/// take at most 320 bytes, and so does their decoding.
fn truncated(line: &[u8]) -> String {
    let head = &line[..line.len().min(4 * 80)];
    String::from_utf8_lossy(head).chars().take(80).collect()
}
