//! The event stream (`GET /api/v1/events`, server-sent events): every search hit, search
//! state, download progress and link change is published once to the [`EventBus`], which
//! hands it to each open stream. Streams are bounded in number ([`MAX_STREAMS`]) and in
//! lifetime ([`STREAM_LIFETIME`], the page's `EventSource` reconnects), a comment goes out
//! every [`KEEP_ALIVE`] so proxies and the browser see the stream alive, and a stream that
//! falls [`STREAM_BACKLOG`] events behind is ended rather than buffered without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::mpsc;
use futures::StreamExt;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use crate::http::app::AppBody;
use crate::rt;

/// Event streams open at once: a page holds one; a few tabs or scripts fit, a flood of
/// them cannot pin tasks and buffers. Half the HTTP connections one address may hold
/// (`http::limits::MAX_HTTP_PER_ADDRESS`, 8): a stream is never idle, so it cannot be
/// evicted, and streams alone must not lock the page's own requests out. A page refused
/// a stream (429) still works by polling; its `EventSource` keeps retrying.
pub const MAX_STREAMS: usize = 4;
/// A stream ends after this long; the browser's `EventSource` reconnects by itself.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(3600);
/// A comment line this often keeps an idle stream from looking dead.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Events queued for one stream at most; a client that reads slower than that is cut
/// (it reconnects and reads the current state from the API).
pub const STREAM_BACKLOG: usize = 1024;

/// One event: its SSE name (`hit`, `search`, `download`, `link`) and JSON data.
#[derive(Debug, Clone)]
pub struct UiEvent {
    /// The `event:` field.
    pub kind: &'static str,
    /// The `data:` field (one line of JSON).
    pub data: serde_json::Value,
}

impl UiEvent {
    /// The event in SSE framing.
    pub fn encode(&self) -> Bytes {
        Bytes::from(format!("event: {}\ndata: {}\n\n", self.kind, self.data))
    }
}

/// Hands each published event to every open stream.
#[derive(Default)]
pub struct EventBus {
    streams: Mutex<Vec<mpsc::Sender<Bytes>>>,
    open: Arc<AtomicUsize>,
}

/// Counts a stream as open while it lives.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl EventBus {
    /// Sends `event` to every stream; a stream that is gone or too far behind is dropped.
    pub fn publish(&self, kind: &'static str, data: serde_json::Value) {
        let bytes = UiEvent { kind, data }.encode();
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams.retain_mut(|tx| tx.try_send(bytes.clone()).is_ok());
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// A new stream's body, or `None` when [`MAX_STREAMS`] are open.
    pub fn subscribe(&self) -> Option<AppBody> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_STREAMS).then_some(n + 1)
            });
        taken.ok()?;
        let guard = OpenGuard(Arc::clone(&self.open));
        let (tx, rx) = mpsc::channel(STREAM_BACKLOG);
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        let end = Instant::now() + STREAM_LIFETIME;
        // The first bytes tell the client the stream is up (and how soon to reconnect).
        let hello = Bytes::from_static(b"retry: 2000\n: servent events\n\n");
        let state = (Some(hello), rx, end, guard);
        let stream = futures::stream::unfold(state, |(hello, mut rx, end, guard)| async move {
            if let Some(h) = hello {
                return Some((Ok(Frame::data(h)), (None, rx, end, guard)));
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let bytes = match rt::timeout(KEEP_ALIVE.min(left), rx.next()).await {
                Ok(Some(b)) => b,
                Ok(None) => return None,
                Err(rt::TimedOut) => Bytes::from_static(b": keep-alive\n\n"),
            };
            Some((Ok(Frame::data(bytes)), (None, rx, end, guard)))
        });
        Some(BodyExt::boxed(StreamBody::new(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_framed_as_sse() {
        let e = UiEvent {
            kind: "link",
            data: serde_json::json!({"addr": "127.0.0.1:1", "up": true}),
        };
        assert_eq!(
            &e.encode()[..],
            b"event: link\ndata: {\"addr\":\"127.0.0.1:1\",\"up\":true}\n\n"
        );
    }

    #[test]
    fn streams_are_bounded() {
        let bus = EventBus::default();
        let bodies: Vec<_> = (0..MAX_STREAMS).map_while(|_| bus.subscribe()).collect();
        assert_eq!(bodies.len(), MAX_STREAMS);
        assert!(bus.subscribe().is_none(), "one stream too many");
        drop(bodies);
        assert_eq!(bus.open_streams(), 0);
        assert!(bus.subscribe().is_some(), "a closed stream frees its place");
    }
}
