//! Feeds arbitrary bytes to the one port as a connection would: `classify` decides from
//! the first bytes (read 64 at a time, as the dispatcher does) and must agree with every
//! longer prefix; an HTTP connection is then served by the real server (hyper's request
//! head parser, our routes, `Range` and `If-Range` on a shared file, `/status`) from
//! memory until the input ends. Nothing may panic, and every answer starts with a status
//! line.
#![no_main]

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::io::{AsyncRead, AsyncWrite};
use libfuzzer_sys::fuzz_target;
use servent::http::server::{serve_accepted, HttpContext};
use servent::library::{Library, LibraryConfig};
use servent::net::dispatch::{classify, Protocol};

/// Bytes the dispatcher reads at a time while classifying.
const CLASSIFY_CHUNK: usize = 64;
/// Size of the one shared file: over the 64 KiB inline-read limit, so large ranges
/// stream in chunks and small ones are read inline.
const SHARED_FILE_LEN: usize = 100_000;

/// A connection from memory: reads the input, then end of stream; keeps what is written.
struct MemConn {
    input: Vec<u8>,
    at: usize,
    output: Arc<std::sync::Mutex<Vec<u8>>>,
}

impl AsyncRead for MemConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let rest = &self.input[self.at..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for MemConn {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.output.lock().unwrap().extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The server's context, sharing one file `song.mp3` (index 0), built once.
fn context() -> Arc<HttpContext> {
    static CTX: OnceLock<Arc<HttpContext>> = OnceLock::new();
    Arc::clone(CTX.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("servent-fuzz-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let body: Vec<u8> = (0..SHARED_FILE_LEN).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("song.mp3"), body).unwrap();
        let lib = Library::open(LibraryConfig {
            roots: vec![PathBuf::from(&dir)],
            ..LibraryConfig::default()
        })
        .unwrap();
        assert!(
            lib.wait_hashed(Duration::from_secs(30)),
            "shared file not hashed"
        );
        Arc::new(HttpContext::new("servent-fuzz", || "{}".into()).with_library(lib))
    }))
}

fuzz_target!(|data: &[u8]| {
    let ctx = context();
    let mut read = 0;
    let proto = loop {
        if let Some(p) = classify(&data[..read]) {
            break p;
        }
        if read == data.len() {
            return; // The peer went quiet before it said what it is.
        }
        read = (read + CLASSIFY_CHUNK).min(data.len());
    };
    for longer in read..=data.len().min(read + 32) {
        assert_eq!(
            classify(&data[..longer]),
            Some(proto),
            "longer prefix classified apart"
        );
    }
    if proto != Protocol::Http {
        return;
    }
    let output = Arc::new(std::sync::Mutex::new(Vec::new()));
    let conn = MemConn {
        input: data[read..].to_vec(),
        at: 0,
        output: Arc::clone(&output),
    };
    let peer: SocketAddr = ([127, 0, 0, 1], 6346).into();
    let started = std::time::Instant::now();
    let _ = servent::rt::block_on(serve_accepted(conn, data[..read].to_vec(), started, peer, ctx));
    let out = output.lock().unwrap();
    assert!(
        out.is_empty() || out.starts_with(b"HTTP/1."),
        "answer without a status line"
    );
});
