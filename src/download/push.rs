//! Sources behind a firewall, reached by Push: `push://<servent ID>[:HOST:PORT]/<path>`
//! (gtk-gnutella's form; HOST:PORT, the address the servent advertised, names it in our
//! `Host` header). The downloader cannot send a Push itself (it has no overlay): the
//! caller gives it a [`Pusher`] that sends the Push and returns the connection the
//! firewalled servent opened with `GIV`; HTTP then runs over it as over any other.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use crate::http::client::{ClientError, HttpUrl};
use crate::rt::TcpStream;

/// The connection a firewalled servent opened to answer our Push, its GIV block read.
pub struct PushedConnection {
    /// The socket, ready for our HTTP requests.
    pub stream: TcpStream,
    /// Where it came from.
    pub remote: SocketAddr,
}

/// What [`Pusher::connect_back`] returns: the connection, or why none came.
pub type PushFuture = Pin<Box<dyn Future<Output = Result<PushedConnection, String>> + Send>>;

/// Sends Pushes for a download: implemented by whoever runs a servent (the command line,
/// over [`crate::rt`]'s sockets and its overlay links).
pub trait Pusher: Send + Sync {
    /// Asks the servent `servent_id` to connect back to us for file `index` and waits
    /// (bounded) for its GIV connection.
    fn connect_back(&self, servent_id: [u8; 16], index: u32) -> PushFuture;
}

/// A firewalled source: whom to push and for which file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PushSource {
    pub servent_id: [u8; 16],
    /// From `/get/<index>/...`; 0 (any file, as gtk-gnutella sends for URN requests)
    /// otherwise.
    pub index: u32,
}

/// `push://<32 hex>[:HOST:PORT]/<path>` as the URL requests go to (HOST:PORT, or the ID
/// as the host) and the Push to send.
pub(super) fn parse_push_url(url: &str) -> Result<(HttpUrl, PushSource), ClientError> {
    let bad = |reason| ClientError::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let rest = url
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("push://"))
        .map(|_| &url[7..])
        .ok_or_else(|| bad("not a push:// URL"))?;
    let hex = rest.get(..32).ok_or_else(|| bad("bad servent ID"))?;
    let mut servent_id = [0u8; 16];
    for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
        let digit = |b: u8| (b as char).to_digit(16);
        match (digit(pair[0]), digit(pair[1])) {
            (Some(h), Some(l)) => servent_id[i] = (h * 16 + l) as u8,
            _ => return Err(bad("bad servent ID")),
        }
    }
    let after = &rest[32..];
    let slash = after.find('/').ok_or_else(|| bad("no path"))?;
    let host = match &after[..slash] {
        "" => hex,
        h => h.strip_prefix(':').ok_or_else(|| bad("bad servent ID"))?,
    };
    let path = &after[slash..];
    let http = HttpUrl::parse(&format!("http://{host}{path}"))?;
    let index = path
        .strip_prefix("/get/")
        .and_then(|p| p.split('/').next())
        .and_then(|i| i.parse().ok())
        .unwrap_or(0);
    Ok((http, PushSource { servent_id, index }))
}

/// The `push://` URL of a servent's file: its ID, the address it advertised, the path.
pub fn push_url(servent_id: [u8; 16], advertised: SocketAddr, path: &str) -> String {
    let hex: String = servent_id.iter().map(|b| format!("{b:02X}")).collect();
    format!("push://{hex}:{advertised}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_urls() {
        let id = [0xAB; 16];
        let url = push_url(id, "10.0.0.1:6346".parse().unwrap(), "/get/7/a%20b.ogg");
        assert_eq!(
            url,
            format!("push://{}:10.0.0.1:6346/get/7/a%20b.ogg", "AB".repeat(16))
        );
        let (http, src) = parse_push_url(&url).unwrap();
        assert_eq!(
            src,
            PushSource {
                servent_id: id,
                index: 7
            }
        );
        assert_eq!((http.host.as_str(), http.port), ("10.0.0.1", 6346));
        assert_eq!(http.path, "/get/7/a%20b.ogg");
        let bare = format!("push://{}/uri-res/N2R?urn:sha1:X", "ab".repeat(16));
        let (http, src) = parse_push_url(&bare).unwrap();
        assert_eq!(
            (src.index, http.path.as_str()),
            (0, "/uri-res/N2R?urn:sha1:X")
        );
        for bad in [
            "push://",
            "http://x/",
            "push://ABABABABABABABABABABABABABABABAG/get/1/x",
            "push://ABABABABABABABABABABABABABABABAB",
            "push://ABABABABABABABABABABABABABABABABx/get/1/x",
            "push://ABABABABABABABABABABABABABABAB/get/1/x",
        ] {
            assert!(parse_push_url(bad).is_err(), "{bad}");
        }
    }
}
