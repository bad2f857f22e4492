//! The one port: accepts connections, reads the first bytes and hands each to the overlay
//! (`GNUTELLA CONNECT/`), the HTTP side (`GET `, `HEAD `, `POST `) or push callbacks
//! (`GIV `); the overlay's side of the handshake is `accept.rs`'s.

use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;

use super::accept::accept_gnutella;
use super::handshake::{count_failure, HandshakeFailure};
use super::shared::Shared;
use crate::rt::{self, TcpListener, TcpStream};

/// HTTP connections open at once; beyond it a new one gets 503 and is closed. Far above
/// the upload slots (8 by default), so keep-alive clients and status polls fit.
pub const MAX_HTTP_CONNECTIONS: usize = 256;

/// What the first bytes of a connection say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `GNUTELLA CONNECT/`: an overlay handshake (0.6, or 0.4).
    Gnutella,
    /// `GET `, `HEAD ` or `POST `: the HTTP server (shared files, `/status`).
    Http,
    /// `GIV `: a servent answering our Push by connecting back (not handled yet: counted
    /// and closed).
    Giv,
    /// None of the above: the connection is closed.
    Unknown,
}

const PREFIXES: [(&[u8], Protocol); 5] = [
    (b"GNUTELLA CONNECT/", Protocol::Gnutella),
    (b"GET ", Protocol::Http),
    (b"HEAD ", Protocol::Http),
    (b"POST ", Protocol::Http),
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
    let mut incoming = listener.incoming();
    loop {
        let stream = match futures::future::select(incoming.next(), &mut stop).await {
            futures::future::Either::Left((Some(stream), _)) => stream,
            _ => break,
        };
        if shared.is_shutting_down() {
            break;
        }
        match stream {
            Ok(stream) => {
                let shared = Arc::clone(&shared);
                rt::spawn(async move { serve(shared, stream).await });
            }
            Err(e) => {
                log::warn!("accept failed: {e}");
                // Out of descriptors or similar: back off briefly instead of spinning.
                rt::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve(shared: Arc<Shared>, mut stream: TcpStream) {
    let Ok(remote) = stream.peer_addr() else {
        return;
    };
    let within = shared.config.timing.handshake_timeout;
    let mut prefix = Vec::with_capacity(64);
    let mut chunk = [0u8; 64];
    let proto = loop {
        if let Some(p) = classify(&prefix) {
            break p;
        }
        match rt::timeout(within, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => prefix.extend_from_slice(&chunk[..n]),
            _ => {
                count_failure(&shared, &HandshakeFailure::Timeout);
                return;
            }
        }
    };
    match proto {
        Protocol::Gnutella => {
            if let Err(e) = accept_gnutella(&shared, stream, remote, prefix).await {
                log::debug!("handshake with {remote} failed: {e}");
                count_failure(&shared, &e);
            }
        }
        Protocol::Http => {
            // Each open HTTP connection holds a task and buffers: bound how many a flood
            // of connections (or idle keep-alives) can hold at once.
            let admitted = {
                let mut st = shared.lock();
                st.counters.http_connections += 1;
                let ok = st.http_open < MAX_HTTP_CONNECTIONS;
                if ok {
                    st.http_open += 1;
                } else {
                    st.counters.http_refused += 1;
                }
                ok
            };
            if !admitted {
                let _ = stream
                    .write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
                return;
            }
            let ctx = Arc::clone(&shared.http);
            if let Err(e) = crate::http::server::serve_connection(stream, prefix, remote, ctx).await
            {
                log::debug!("http connection from {remote}: {e}");
            }
            shared.lock().http_open -= 1;
        }
        Protocol::Giv => {
            shared.lock().counters.giv_connections += 1;
            log::info!("GIV from {remote}: push downloads are not supported yet");
        }
        Protocol::Unknown => {
            shared.lock().counters.unknown_connections += 1;
            log::debug!("unknown protocol from {remote}");
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
    }
}
