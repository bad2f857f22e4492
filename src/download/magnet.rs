//! Magnet links (`magnet:?xt=urn:sha1:...&dn=...&xl=...&xs=...`): parsing what
//! gtk-gnutella, LimeWire and others write (a SHA-1 in base32 or hex, `urn:bitprint:`,
//! several `xs`/`as` sources, numbered keys, percent-encoding and `+` for a space), with
//! every length bounded, and building ours the way gtk-gnutella reads them.

use std::fmt;
use std::net::SocketAddr;

use data_encoding::HEXLOWER_PERMISSIVE;
use percent_encoding::{percent_encode, utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};

use crate::http::client::HttpUrl;
use crate::library::hash::{self, Sha1Digest};
use crate::library::hits::HitGroup;

/// Longest magnet link we read, in bytes: one with a few hundred sources fits (each is
/// about 90 bytes), and a hostile one cannot make us split megabytes.
pub const MAX_MAGNET_LEN: usize = 64 * 1024;
/// Most `key=value` parameters we read in one link (the length limit allows many more
/// empty ones).
pub const MAX_MAGNET_PARAMS: usize = 1024;
/// Most sources kept from one link; further ones are ignored. More sources than the
/// downloader would ever open connections to.
pub const MAX_MAGNET_SOURCES: usize = 256;
/// Most unusable sources remembered (for a warning) from one link.
const MAX_IGNORED: usize = 16;

/// What we percent-encode in a value we write: everything but letters, digits and
/// `-._~:/` (as gtk-gnutella's query escaping keeps `:` and `/`, so a source stays
/// readable); `?`, `&`, `=`, `+`, `%`, spaces and every non-ASCII byte are escaped.
const MAGNET_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'/');

/// Bytes not allowed raw in an HTTP request target: a source URL decoded out of a magnet
/// (one written with a single level of escaping) gets them escaped again.
const REQUEST_TARGET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A magnet link: the file (SHA-1, name, size) and where to get it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Magnet {
    /// From `xt=urn:sha1:` (or `urn:bitprint:`), else from a source's `/uri-res/N2R?` URL.
    pub sha1: Option<Sha1Digest>,
    /// `dn`: the display name (the first one given).
    pub name: Option<String>,
    /// `xl`: the exact length in bytes.
    pub size: Option<u64>,
    /// `xs` and `as` sources we can fetch from: `http://` URLs, in order, without
    /// duplicates, at most [`MAX_MAGNET_SOURCES`].
    pub sources: Vec<String>,
    /// Sources we cannot use (`push://`, another scheme, a bad URL, another file's
    /// hash), each with why; at most a few, for a warning.
    pub ignored: Vec<(String, &'static str)>,
}

/// Why a magnet link cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MagnetError {
    /// It does not start with `magnet:?`.
    #[error("not a magnet link (expected magnet:?xt=...)")]
    NotMagnet,
    /// Longer than [`MAX_MAGNET_LEN`].
    #[error("magnet link of {len} bytes, over the {max}-byte limit")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_MAGNET_PARAMS`] parameters.
    #[error("magnet link with more than {max} parameters")]
    TooManyParams {
        /// The limit.
        max: usize,
    },
    /// A `%` not followed by two hex digits.
    #[error("bad percent-encoding in the {key:?} parameter")]
    BadEscape {
        /// The parameter's key.
        key: String,
    },
    /// A value (other than `dn`) that is not UTF-8 once decoded.
    #[error("the {key:?} parameter is not UTF-8")]
    NotUtf8 {
        /// The parameter's key.
        key: String,
    },
    /// An `xt=urn:sha1:` (or `urn:bitprint:`) whose hash is neither 32 base32 nor 40 hex
    /// digits.
    #[error("xt {value:?} is not a SHA-1 URN (urn:sha1: with 32 base32 or 40 hex digits)")]
    BadSha1 {
        /// The value as decoded (at most 100 characters of it).
        value: String,
    },
    /// An `xl` that is not a decimal number of bytes.
    #[error("xl {value:?} is not a size in bytes")]
    BadLength {
        /// The value as decoded (at most 100 characters of it).
        value: String,
    },
    /// Two `xt` with different SHA-1s: which file is meant?
    #[error("the magnet names two files: {first} and {second}")]
    ConflictingSha1 {
        /// The first `urn:sha1:`.
        first: String,
        /// The other one.
        second: String,
    },
}

impl Magnet {
    /// A magnet for one file and its sources (`http://` URLs).
    pub fn new(
        sha1: Option<Sha1Digest>,
        name: Option<&str>,
        size: Option<u64>,
        sources: Vec<String>,
    ) -> Magnet {
        Magnet {
            sha1,
            name: name.map(str::to_owned),
            size,
            sources,
            ignored: Vec::new(),
        }
    }

    /// The magnet of a search result group: its SHA-1, name and size, and every reachable
    /// source (by `/uri-res/N2R?` when the SHA-1 is known, else by `/get/<index>/<name>`).
    pub fn for_group(group: &HitGroup) -> Magnet {
        let sha1 = group.sha1_urn.as_deref().and_then(hash::parse_urn);
        let mut sources = Vec::new();
        for s in group.sources.iter().filter(|s| s.is_routable()) {
            let url = match &sha1 {
                Some(d) => n2r_url(SocketAddr::V4(s.addr), d),
                None => s.url(),
            };
            if !sources.contains(&url) {
                sources.push(url);
            }
        }
        Magnet::new(sha1, Some(&group.name), Some(group.size), sources)
    }

    /// Reads a magnet link. Unknown keys and unsupported topics (`urn:btih:`,
    /// `urn:tree:tiger:`, ...) are skipped, as gtk-gnutella does; sources that cannot be
    /// fetched over HTTP go to [`Magnet::ignored`].
    pub fn parse(text: &str) -> Result<Magnet, MagnetError> {
        let text = text.trim();
        if text.len() > MAX_MAGNET_LEN {
            return Err(MagnetError::TooLong {
                len: text.len(),
                max: MAX_MAGNET_LEN,
            });
        }
        let query = strip_prefix_ignore_case(text, "magnet:?").ok_or(MagnetError::NotMagnet)?;
        let mut m = Magnet::default();
        let mut raw_sources: Vec<String> = Vec::new();
        for (n, param) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
            if n >= MAX_MAGNET_PARAMS {
                return Err(MagnetError::TooManyParams {
                    max: MAX_MAGNET_PARAMS,
                });
            }
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let key = base_key(key);
            match key.as_str() {
                "xt" => m.exact_topic(&decode_text(&key, value)?)?,
                "dn" if m.name.is_none() => {
                    let bytes = decode(&key, value)?;
                    m.name = Some(String::from_utf8_lossy(&bytes).into_owned());
                }
                "xl" if m.size.is_none() => {
                    let v = decode_text(&key, value)?;
                    m.size = Some(
                        v.trim()
                            .parse()
                            .map_err(|_| MagnetError::BadLength { value: clip(&v) })?,
                    );
                }
                // Bounded by the link's length; `add_source` keeps at most
                // MAX_MAGNET_SOURCES of them.
                "xs" | "as" => raw_sources.push(decode_text(&key, value)?),
                _ => {}
            }
        }
        for s in raw_sources {
            m.add_source(s);
        }
        Ok(m)
    }

    /// `xt`: a SHA-1 (`urn:sha1:` or `urn:bitprint:`) or a topic we skip.
    fn exact_topic(&mut self, value: &str) -> Result<(), MagnetError> {
        let Some(digest) = urn_sha1(value) else {
            return Ok(());
        };
        let digest = digest.ok_or_else(|| MagnetError::BadSha1 { value: clip(value) })?;
        match self.sha1 {
            Some(first) if first != digest => Err(MagnetError::ConflictingSha1 {
                first: hash::urn(&first),
                second: hash::urn(&digest),
            }),
            _ => {
                self.sha1 = Some(digest);
                Ok(())
            }
        }
    }

    /// Keeps a source we can fetch from (an `http://` URL, of this file when it names a
    /// hash); a magnet without `xt` takes its SHA-1 from the first source naming one.
    fn add_source(&mut self, url: String) {
        let url = utf8_percent_encode(url.trim(), REQUEST_TARGET).to_string();
        let why = if !url
            .get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("http://"))
        {
            Some("not an http:// source")
        } else if HttpUrl::parse(&format!("http://{}", &url[7..])).is_err() {
            Some("not a valid http:// URL")
        } else {
            match (source_sha1(&url), self.sha1) {
                (Some(theirs), Some(ours)) if theirs != ours => Some("names another file"),
                (Some(theirs), None) => {
                    self.sha1 = Some(theirs);
                    None
                }
                _ => None,
            }
        };
        match why {
            Some(why) if self.ignored.len() < MAX_IGNORED => self.ignored.push((url, why)),
            Some(_) => {}
            None => {
                // The scheme in lower case (the downloader takes only `http://`), and a
                // source by bitprint asked by its SHA-1 (every servent serves that).
                let url = match source_sha1(&url) {
                    Some(d) if url.contains("/uri-res/N2R?") => {
                        let (base, _) = url.split_once("/uri-res/N2R?").unwrap_or((&url, ""));
                        format!("http://{}/uri-res/N2R?{}", &base[7..], hash::urn(&d))
                    }
                    _ => format!("http://{}", &url[7..]),
                };
                if self.sources.len() < MAX_MAGNET_SOURCES && !self.sources.contains(&url) {
                    self.sources.push(url);
                }
            }
        }
    }
}

/// Writes the link: `xt` (when the SHA-1 is known), `dn`, `xl`, then one `xs` per source,
/// each value percent-encoded.
impl fmt::Display for Magnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "?";
        let mut item = |f: &mut fmt::Formatter<'_>, key: &str, value: &str| {
            let r = write!(
                f,
                "{sep}{key}={}",
                percent_encode(value.as_bytes(), MAGNET_VALUE)
            );
            sep = "&";
            r
        };
        f.write_str("magnet:")?;
        if let Some(d) = &self.sha1 {
            item(f, "xt", &hash::urn(d))?;
        }
        if let Some(n) = &self.name {
            item(f, "dn", n)?;
        }
        if let Some(s) = self.size {
            item(f, "xl", &s.to_string())?;
        }
        for s in &self.sources {
            item(f, "xs", s)?;
        }
        Ok(())
    }
}

/// `http://ip:port/uri-res/N2R?urn:sha1:<BASE32>`: a source by hash (gtk-gnutella and
/// servent serve it).
pub fn n2r_url(addr: SocketAddr, sha1: &Sha1Digest) -> String {
    format!("http://{addr}/uri-res/N2R?{}", hash::urn(sha1))
}

/// `xt.1` -> `xt` (numbered keys of multi-file magnets); lower case.
fn base_key(key: &str) -> String {
    let key = match key.split_once('.') {
        Some((k, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => k,
        _ => key,
    };
    key.to_ascii_lowercase()
}

/// The SHA-1 of a `urn:sha1:` or `urn:bitprint:` topic: `None` for another kind of
/// topic, `Some(None)` for one of these with a bad hash. Base32 (32 digits, any case) or,
/// as some magnets in the wild have it, hex (40 digits); a bitprint's SHA-1 is its first
/// 32 digits, before the `.`.
fn urn_sha1(value: &str) -> Option<Option<Sha1Digest>> {
    let v = value.trim();
    if let Some(h) = strip_prefix_ignore_case(v, "urn:sha1:") {
        return Some(sha1_digits(h));
    }
    let h = strip_prefix_ignore_case(v, "urn:bitprint:")?;
    Some(match h.split_once('.') {
        Some((sha1, _tiger)) => sha1_digits(sha1),
        None => sha1_digits(h),
    })
}

fn sha1_digits(h: &str) -> Option<Sha1Digest> {
    match h.len() {
        32 => hash::parse_base32(h),
        40 => HEXLOWER_PERMISSIVE
            .decode(h.as_bytes())
            .ok()?
            .try_into()
            .ok(),
        _ => None,
    }
}

/// The SHA-1 a source URL names (`.../uri-res/N2R?urn:sha1:...`), if it names one.
fn source_sha1(url: &str) -> Option<Sha1Digest> {
    let (_, q) = url.split_once("/uri-res/N2R?")?;
    urn_sha1(q)?
}

/// Percent-decodes a value (`+` is a space, as gtk-gnutella reads it); a `%` without two
/// hex digits after it is an error.
fn decode(key: &str, value: &str) -> Result<Vec<u8>, MagnetError> {
    let bad = || MagnetError::BadEscape {
        key: key.to_owned(),
    };
    let b = value.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3).ok_or_else(bad)?;
                let hi = (hex[0] as char).to_digit(16).ok_or_else(bad)?;
                let lo = (hex[1] as char).to_digit(16).ok_or_else(bad)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// [`decode`], then UTF-8.
fn decode_text(key: &str, value: &str) -> Result<String, MagnetError> {
    String::from_utf8(decode(key, value)?).map_err(|_| MagnetError::NotUtf8 {
        key: key.to_owned(),
    })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// At most 100 characters of a value, for an error message.
fn clip(v: &str) -> String {
    v.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const B32: &str = "QLFYWY2RI5WZCTEP6MJKR5CAFGP7FQ5X";

    fn digest() -> Sha1Digest {
        hash::parse_base32(B32).unwrap()
    }

    #[test]
    fn builds_and_reads_back() {
        let m = Magnet::new(
            Some(digest()),
            Some("The Beatles - Help & more?.mp3"),
            Some(3_145_728),
            vec![
                n2r_url("127.0.0.1:6346".parse().unwrap(), &digest()),
                "http://10.0.0.2:6347/get/3/The%20Beatles.mp3".into(),
            ],
        );
        let text = m.to_string();
        assert!(text.starts_with(&format!("magnet:?xt=urn:sha1:{B32}&dn=The%20Beatles")));
        assert!(text.contains("&xl=3145728&xs=http://127.0.0.1:6346/uri-res/N2R%3Furn:sha1:"));
        assert!(!text.contains(' '));
        assert_eq!(Magnet::parse(&text).unwrap(), m);
    }

    #[test]
    fn reads_what_gtk_gnutella_writes() {
        // dn, xl, xt (a bitprint), xs with `?` escaped, as magnet_to_string() orders them.
        let tiger = "A".repeat(39);
        let text = format!(
            "magnet:?dn=Help%21%20%28live%29.ogg&xl=1234&xt=urn:bitprint:{B32}.{tiger}\
             &xs=http://127.0.0.1:6346/uri-res/N2R%3Furn:bitprint:{B32}.{tiger}\
             &xs=push://0123456789ABCDEF0123456789ABCDEF:10.0.0.1:6346/uri-res/N2R%3Furn:sha1:{B32}\
             &x.vndr=GTKG"
        );
        let m = Magnet::parse(&text).unwrap();
        assert_eq!(m.sha1, Some(digest()));
        assert_eq!(m.name.as_deref(), Some("Help! (live).ogg"));
        assert_eq!(m.size, Some(1234));
        assert_eq!(
            m.sources,
            vec![format!("http://127.0.0.1:6346/uri-res/N2R?urn:sha1:{B32}")],
            "a source by bitprint is asked by its SHA-1"
        );
        assert_eq!(m.ignored.len(), 1, "{:?}", m.ignored);
    }

    #[test]
    fn hex_sha1_plus_numbered_keys_and_unescaped_sources() {
        let hex = data_encoding::HEXUPPER.encode(&digest());
        let text = format!(
            "MAGNET:?xt.1=urn:SHA1:{hex}&dn=a+b.txt&xs.1=http://h:80/uri-res/N2R?urn:sha1:{}\
             &as=HTTP://h:81/get/1/a b.txt&xs=http://h:80/uri-res/N2R?urn:sha1:{}&kt=x",
            B32.to_lowercase(),
            B32.to_lowercase()
        );
        let m = Magnet::parse(&text).unwrap();
        assert_eq!(m.sha1, Some(digest()));
        assert_eq!(m.name.as_deref(), Some("a b.txt"));
        assert_eq!(
            m.sources,
            vec![
                format!("http://h:80/uri-res/N2R?urn:sha1:{B32}"),
                "http://h:81/get/1/a%20b.txt".to_owned(),
            ],
            "the duplicate is dropped, the space escaped again"
        );
    }

    #[test]
    fn sha1_from_a_source_when_no_xt_and_other_files_sources_ignored() {
        let m = Magnet::parse(&format!(
            "magnet:?xs=http://h:1/uri-res/N2R?urn:sha1:{B32}&xs=http://h:2/uri-res/N2R?urn:sha1:{}",
            "A".repeat(32)
        ))
        .unwrap();
        assert_eq!(m.sha1, Some(digest()));
        assert_eq!(m.sources.len(), 1);
        assert_eq!(m.ignored[0].1, "names another file");
        // An unsupported topic alone is no error: nothing is known.
        let m =
            Magnet::parse("magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a").unwrap();
        assert_eq!(m, Magnet::default());
    }

    #[test]
    fn hostile_links_are_typed_errors() {
        assert_eq!(Magnet::parse("http://x/"), Err(MagnetError::NotMagnet));
        assert_eq!(Magnet::parse("magnet:xt=1"), Err(MagnetError::NotMagnet));
        let long = format!("magnet:?dn={}", "a".repeat(MAX_MAGNET_LEN));
        assert!(matches!(
            Magnet::parse(&long),
            Err(MagnetError::TooLong { .. })
        ));
        let many = format!("magnet:?{}", "k=v&".repeat(MAX_MAGNET_PARAMS + 1));
        assert!(matches!(
            Magnet::parse(&many),
            Err(MagnetError::TooManyParams { .. })
        ));
        for bad in ["%", "%4", "%zz", "a%g0"] {
            assert!(
                matches!(
                    Magnet::parse(&format!("magnet:?dn={bad}")),
                    Err(MagnetError::BadEscape { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Magnet::parse("magnet:?xt=urn:sha1:%FF%FE"),
            Err(MagnetError::NotUtf8 { .. })
        ));
        for bad in ["urn:sha1:", "urn:sha1:ABC", &format!("urn:sha1:{B32}X")] {
            assert!(
                matches!(
                    Magnet::parse(&format!("magnet:?xt={bad}")),
                    Err(MagnetError::BadSha1 { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Magnet::parse("magnet:?xl=-1"),
            Err(MagnetError::BadLength { .. })
        ));
        assert!(matches!(
            Magnet::parse(&format!(
                "magnet:?xt=urn:sha1:{B32}&xt=urn:sha1:{}",
                "A".repeat(32)
            )),
            Err(MagnetError::ConflictingSha1 { .. })
        ));
        // Non-UTF-8 names are read lossily (a name, not an address).
        let m = Magnet::parse("magnet:?dn=%FFa").unwrap();
        assert_eq!(m.name.as_deref(), Some("\u{FFFD}a"));
    }

    #[test]
    fn sources_are_bounded() {
        let mut text = format!("magnet:?xt=urn:sha1:{B32}");
        for i in 0..(MAX_MAGNET_SOURCES + 50) {
            text.push_str(&format!(
                "&xs=http://10.0.0.1:{}/uri-res/N2R?urn:sha1:{B32}",
                i + 1
            ));
            text.push_str("&xs=ftp://x/");
        }
        let m = Magnet::parse(&text).unwrap();
        assert_eq!(m.sources.len(), MAX_MAGNET_SOURCES);
        assert!(m.sources[MAX_MAGNET_SOURCES - 1].starts_with("http://10.0.0.1:256/"));
        assert_eq!(m.ignored.len(), MAX_IGNORED);
    }
}
