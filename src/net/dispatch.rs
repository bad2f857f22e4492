//! The one port: accepts connections, reads the first bytes and hands each to the overlay
//! (`GNUTELLA CONNECT/`), the HTTP side (`GET `, `HEAD `, `POST `) or push callbacks
//! (`GIV `), then runs the server side of the Gnutella handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;

use crate::proto::handshake::{HandshakeMessage, Headers, StartLine};

use super::handshake::{self as hs, HandshakeFailure, Ours};
use super::node::{NewLink, Shared};
use super::router::Direction;
use crate::rt::{self, TcpListener, TcpStream};

/// HTTP connections open at once; beyond it a new one gets 503 and is closed. Far above
/// the upload slots (8 by default), so keep-alive clients and status polls fit.
pub const MAX_HTTP_CONNECTIONS: usize = 256;

/// What the first bytes of a connection say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Gnutella,
    Http,
    Giv,
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

fn count_failure(shared: &Shared, e: &HandshakeFailure) {
    *shared
        .lock()
        .counters
        .handshake_failures
        .entry(e.kind())
        .or_default() += 1;
}

pub fn ours(shared: &Shared) -> Ours {
    Ours {
        servent_id: shared.servent_id,
        listen: shared.listen,
        max_ttl: shared.config.max_ttl,
        max_peers: shared.config.max_peers,
        compress: shared.config.compress,
    }
}

fn try_header(shared: &Shared) -> Headers {
    let mut h = Headers::new();
    h.push("User-Agent", hs::user_agent());
    let hosts: Vec<String> = shared
        .lock()
        .hosts
        .sample(10)
        .iter()
        .map(|a| a.to_string())
        .collect();
    if !hosts.is_empty() {
        h.push("X-Try", hosts.join(","));
    }
    h
}

async fn accept_gnutella(
    shared: &Arc<Shared>,
    mut stream: TcpStream,
    remote: SocketAddr,
    mut buf: Vec<u8>,
) -> Result<(), HandshakeFailure> {
    let within = shared.config.timing.handshake_timeout;
    let connect = hs::read_block(&mut stream, &mut buf, within).await?;
    let version = match connect.start {
        StartLine::Connect { version } => version,
        other => return Err(HandshakeFailure::Unexpected(other.to_string())),
    };
    if version.major == 0 && version.minor < 6 {
        // Gnutella 0.4: no headers, no third step.
        stream
            .write_all(&HandshakeMessage::ok_04().encode())
            .await?;
        let info = crate::core::PeerInfo {
            addr: Some(remote),
            legacy_04: true,
            ..Default::default()
        };
        shared.establish(NewLink {
            stream,
            remote,
            listen: None,
            servent_id: None,
            info,
            direction: Direction::Incoming,
            deflate_in: false,
            deflate_out: false,
            pending: buf,
        });
        return Ok(());
    }
    let theirs = &connect.headers;
    let guid = hs::peer_guid(theirs);
    let listen = hs::peer_listen(theirs, remote);
    let refusal = {
        let st = shared.lock();
        if guid == Some(shared.servent_id) {
            Some((409, "Connected to self"))
        } else if st.is_connected_to(guid, listen) {
            Some((409, "Already connected"))
        } else if st.links.len() >= shared.config.max_peers || shared.is_shutting_down() {
            Some((503, "Full"))
        } else {
            None
        }
    };
    if let Some((code, reason)) = refusal {
        {
            let mut st = shared.lock();
            if code == 503 {
                st.counters.refused_full += 1;
            } else {
                st.counters.refused_duplicate += 1;
            }
            if let Some(l) = listen {
                st.hosts.add(l, shared.now());
            }
        }
        let msg = HandshakeMessage::status(code, reason, try_header(shared));
        stream.write_all(&msg.encode()).await?;
        let _ = stream.flush().await;
        return Err(HandshakeFailure::Refused {
            code,
            reason: reason.into(),
        });
    }
    let deflate_out = shared.config.compress && hs::says_deflate(theirs, "Accept-Encoding");
    let mut headers = hs::our_headers(&ours(shared), remote);
    if deflate_out {
        headers.push("Content-Encoding", "deflate");
    }
    stream
        .write_all(&HandshakeMessage::ok(headers).encode())
        .await?;
    let fin = hs::read_block(&mut stream, &mut buf, within).await?;
    match fin.code() {
        Some(200) => {}
        Some(code) => {
            return Err(HandshakeFailure::Refused {
                code,
                reason: fin.start.to_string(),
            })
        }
        None => return Err(HandshakeFailure::Unexpected(fin.start.to_string())),
    }
    let deflate_in = shared.config.compress && hs::says_deflate(&fin.headers, "Content-Encoding");
    shared.establish(NewLink {
        info: hs::peer_info(theirs, remote),
        stream,
        remote,
        listen,
        servent_id: guid,
        direction: Direction::Incoming,
        deflate_in,
        deflate_out,
        pending: buf,
    });
    Ok(())
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
