//! The HTTP client side used by the downloader: `http://host:port/path` URLs, one hyper
//! HTTP/1.1 connection per source over the runtime's TCP stream (keep-alive: many ranged
//! requests on one connection), with deadlines on connecting and on each response head.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};

use super::io::HyperIo;
use crate::rt;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad URL {url:?}: {reason}")]
    BadUrl { url: String, reason: &'static str },
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("HTTP error with {addr}: {source}")]
    Http {
        addr: SocketAddr,
        source: hyper::Error,
    },
    #[error("{addr} did not answer within {within:?}")]
    Timeout { addr: SocketAddr, within: Duration },
}

/// An `http://` URL: host, port (default 80) and the path with its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl {
    pub host: String,
    pub port: u16,
    /// Starts with `/`.
    pub path: String,
}

impl HttpUrl {
    pub(crate) fn parse(url: &str) -> Result<HttpUrl, ClientError> {
        let bad = |reason| ClientError::BadUrl {
            url: url.to_owned(),
            reason,
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("expected http://HOST:PORT/PATH"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, p) = v6
                .split_once(']')
                .ok_or_else(|| bad("unclosed [ in host"))?;
            (h, p.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad("port is not a number"))?,
            None => 80,
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        Ok(HttpUrl {
            host: host.to_owned(),
            port,
            path: path.to_owned(),
        })
    }

    /// `Host` header value.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Resolves the host (off the executor: name lookup blocks).
    pub(crate) async fn resolve(&self) -> Result<SocketAddr, ClientError> {
        let (host, port) = (self.host.clone(), self.port);
        let h = host.clone();
        rt::spawn_blocking(move || (h.as_str(), port).to_socket_addrs())
            .await
            .and_then(|mut a| {
                a.next()
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
            })
            .map_err(|source| ClientError::Resolve { host, source })
    }
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.path)
    }
}

/// One keep-alive HTTP/1.1 connection.
pub(crate) struct Connection {
    addr: SocketAddr,
    sender: SendRequest<Empty<Bytes>>,
}

impl Connection {
    /// Connects within `within` and starts the connection task.
    pub(crate) async fn open(
        addr: SocketAddr,
        within: Duration,
    ) -> Result<Connection, ClientError> {
        let stream = rt::connect(addr, within)
            .await
            .map_err(|source| ClientError::Connect { addr, source })?;
        Connection::over(stream, addr).await
    }

    /// Speaks HTTP as the client on a connection opened otherwise (one a firewalled
    /// servent opened to us with `GIV`), `addr` naming its peer.
    pub(crate) async fn over(
        stream: rt::TcpStream,
        addr: SocketAddr,
    ) -> Result<Connection, ClientError> {
        let _ = stream.set_nodelay(true);
        let (sender, conn) =
            hyper::client::conn::http1::handshake(HyperIo::new(stream, Vec::new()))
                .await
                .map_err(|source| ClientError::Http { addr, source })?;
        rt::spawn(async move {
            if let Err(e) = conn.await {
                log::debug!("http client connection to {addr}: {e}");
            }
        });
        Ok(Connection { addr, sender })
    }

    /// Whether another request can be sent on this connection.
    pub(crate) fn is_open(&self) -> bool {
        !self.sender.is_closed()
    }

    /// Sends a request and waits (at most `within`) for the response head.
    pub(crate) async fn send(
        &mut self,
        req: Request<Empty<Bytes>>,
        within: Duration,
    ) -> Result<Response<Incoming>, ClientError> {
        let addr = self.addr;
        let ready = async {
            self.sender.ready().await?;
            self.sender.send_request(req).await
        };
        match rt::timeout(within, ready).await {
            Ok(r) => r.map_err(|source| ClientError::Http { addr, source }),
            Err(_) => Err(ClientError::Timeout { addr, within }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpUrl::parse("http://127.0.0.1:6346/get/3/a%20b.iso").unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 6346);
        assert_eq!(u.path, "/get/3/a%20b.iso");
        let u = HttpUrl::parse("http://[::1]:80").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("::1", 80, "/"));
        assert!(HttpUrl::parse("https://x/").is_err());
        assert!(HttpUrl::parse("http://:80/").is_err());
    }
}
