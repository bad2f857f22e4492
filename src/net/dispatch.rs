//! The one port: accepts connections, reads the first bytes (one deadline for the whole
//! first block) and hands each to the overlay (`GNUTELLA CONNECT/`), the HTTP side (a
//! request method: `GET `, `HEAD `, `POST `, `OPTIONS `, ...) or push callbacks (`GIV `,
//! handed to `giv.rs`);
//! the overlay's side of the handshake is `accept.rs`'s. Every accepted connection is
//! counted once by how classification ended (`connections` in `/status`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::io::AsyncReadExt;

use super::accept::accept_gnutella;
use super::giv::accept_giv;
use super::handshake::count_failure;
use super::shared::Shared;
use crate::http::admission::refuse;
/// HTTP connections open at once (the HTTP side's default cap, `http::limits`).
pub use crate::http::limits::MAX_HTTP_CONNECTIONS;
use crate::http::server::serve_admitted;
use crate::rt::{self, TcpListener, TcpStream};

/// What the first bytes of a connection say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `GNUTELLA CONNECT/`: an overlay handshake (0.6, or 0.4).
    Gnutella,
    /// `GET `, `HEAD ` or `POST `: the HTTP server (shared files, `/status`).
    Http,
    /// `GIV `: a servent answering our Push by connecting back (`giv.rs` hands it to
    /// the download waiting for it).
    Giv,
    /// None of the above: the connection is closed.
    Unknown,
}

/// First bytes and what they say. Every request method goes to HTTP, so a method we do
/// not serve gets its 405 with `Allow` there rather than a silent close.
const PREFIXES: [(&[u8], Protocol); 11] = [
    (b"GNUTELLA CONNECT/", Protocol::Gnutella),
    (b"GET ", Protocol::Http),
    (b"HEAD ", Protocol::Http),
    (b"POST ", Protocol::Http),
    (b"OPTIONS ", Protocol::Http),
    (b"PUT ", Protocol::Http),
    (b"DELETE ", Protocol::Http),
    (b"TRACE ", Protocol::Http),
    (b"PATCH ", Protocol::Http),
    (b"CONNECT ", Protocol::Http),
    (b"GIV ", Protocol::Giv),
];

/// Classifies a connection by its first bytes; None while more are needed.
pub fn classify(prefix: &[u8]) -> Option<Protocol> {
    let mut undecided = false;
    for (p, proto) in PREFIXES {
        if prefix.len() >= p.len() {
            if prefix.starts_with(p) {
                return Some(proto);
            }
        } else if p.starts_with(prefix) {
            undecided = true;
        }
    }
    (!undecided).then_some(Protocol::Unknown)
}

/// Accepts until `stop` fires (or is dropped), then drops the listener.
pub async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stop: futures::channel::oneshot::Receiver<()>,
) {
    loop {
        // `accept` gives the peer's address with the socket: asking the socket later
        // fails once the peer has reset it, and that connection would go uncounted.
        let accepted = match futures::future::select(Box::pin(listener.accept()), &mut stop).await {
            futures::future::Either::Left((accepted, _)) => accepted,
            futures::future::Either::Right(_) => break,
        };
        if shared.is_shutting_down() {
            break;
        }
        match accepted {
            Ok((stream, remote)) => {
                shared.lock().counters.accepted += 1;
                let shared = Arc::clone(&shared);
                rt::spawn(async move { serve(shared, stream, remote).await });
            }
            Err(e) => {
                log::warn!("accept failed: {e}");
                shared.lock().counters.accept_failed += 1;
                // Out of descriptors or similar: back off briefly instead of spinning.
                rt::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Why a connection was closed before its first bytes said what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unclassified {
    /// The first block did not arrive within the handshake timeout.
    Timeout,
    /// Closed or reset by the peer first.
    Closed,
}

/// Reads until the first bytes classify the connection, all within `within` (one
/// deadline for the block, not one per read): the protocol, the bytes read and when the
/// first of them arrived.
async fn read_first_block(
    stream: &mut TcpStream,
    within: Duration,
) -> Result<(Protocol, Vec<u8>, Instant), Unclassified> {
    let mut prefix = Vec::with_capacity(64);
    let mut first_byte = None;
    let read = async {
        let mut chunk = [0u8; 64];
        loop {
            if let Some(p) = classify(&prefix) {
                return Ok(p);
            }
            match stream.read(&mut chunk).await {
                Ok(n) if n > 0 => {
                    first_byte.get_or_insert_with(Instant::now);
                    prefix.extend_from_slice(&chunk[..n]);
                }
                _ => return Err(Unclassified::Closed),
            }
        }
    };
    match rt::timeout(within, read).await {
        Ok(Ok(p)) => Ok((p, prefix, first_byte.unwrap_or_else(Instant::now))),
        Ok(Err(e)) => Err(e),
        Err(rt::TimedOut) => Err(Unclassified::Timeout),
    }
}

async fn serve(shared: Arc<Shared>, mut stream: TcpStream, remote: SocketAddr) {
    let within = shared.config.timing.handshake_timeout;
    let (proto, prefix, first_byte) = match read_first_block(&mut stream, within).await {
        Ok(classified) => classified,
        Err(why) => {
            let kind = match why {
                Unclassified::Timeout => "timeout",
                Unclassified::Closed => "closed",
            };
            *shared.lock().counters.unclassified.entry(kind).or_default() += 1;
            return;
        }
    };
    if proto != Protocol::Unknown {
        let now = shared.now();
        shared
            .lock()
            .push
            .note_incoming(now, remote.ip(), shared.listen.ip());
    }
    match proto {
        Protocol::Gnutella => {
            shared.lock().counters.gnutella_connections += 1;
            if let Err(e) = accept_gnutella(&shared, stream, remote, prefix).await {
                log::debug!("handshake with {remote} failed: {e}");
                count_failure(&shared, &e);
            }
        }
        Protocol::Http => serve_http(&shared, stream, remote, prefix, first_byte).await,
        Protocol::Giv => {
            shared.lock().counters.giv_connections += 1;
            accept_giv(&shared, stream, remote, prefix).await;
        }
        Protocol::Unknown => {
            shared.lock().counters.unknown_connections += 1;
            log::debug!("unknown protocol from {remote}");
        }
    }
}

/// Hands a connection to the HTTP side: admitted by its gate (caps per address and in
/// all), else 503 and closed; how it ended is counted in `connections.http_ended`.
async fn serve_http(
    shared: &Arc<Shared>,
    stream: TcpStream,
    remote: SocketAddr,
    prefix: Vec<u8>,
    first_byte: Instant,
) {
    let ctx = Arc::clone(&shared.http);
    shared.lock().counters.http_connections += 1;
    match ctx.gate.admit(remote.ip(), first_byte) {
        Err(end) => {
            shared.lock().counters.http_refused += 1;
            ctx.stats.ended.count(end);
            refuse(stream).await;
        }
        Ok(permit) => {
            shared.lock().http_open += 1;
            let end = serve_admitted(stream, prefix, remote, Arc::clone(&ctx), &permit).await;
            drop(permit);
            ctx.stats.ended.count(end);
            shared.lock().http_open -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_first_bytes() {
        assert_eq!(classify(b"GNU"), None);
        assert_eq!(
            classify(b"GNUTELLA CONNECT/0.6\r\n"),
            Some(Protocol::Gnutella)
        );
        assert_eq!(classify(b"GET /status"), Some(Protocol::Http));
        assert_eq!(classify(b"HEAD / "), Some(Protocol::Http));
        assert_eq!(classify(b"GIV 1:"), Some(Protocol::Giv));
        assert_eq!(classify(b"G"), None);
        assert_eq!(classify(b"\x00\x01"), Some(Protocol::Unknown));
        assert_eq!(classify(b"GNUTELLA/0.6 200"), Some(Protocol::Unknown));
        assert_eq!(classify(b"OPTIONS * HTTP/1.1"), Some(Protocol::Http));
        assert_eq!(classify(b"TRACE / "), Some(Protocol::Http));
        assert_eq!(classify(b"CONNECT h:1 "), Some(Protocol::Http));
    }
}
