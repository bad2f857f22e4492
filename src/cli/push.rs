//! Downloads from firewalled servents for the commands that run a servent: the
//! downloader's [`Pusher`] over a running [`Node`] (it sends the Push along the
//! QueryHit's reverse path and waits for the GIV on the node's port), and the choice of
//! a source's URL: `push://` for a hit flagged firewalled or with an address we cannot
//! reach, `http://` otherwise (with `push://` kept for when the direct connect fails).

use std::collections::HashSet;
use std::net::SocketAddr;

use servent::download::{push_url, PushFuture, PushedConnection, Pusher};
use servent::library::hits::SearchHit;
use servent::net::push::GIV_WAIT;
use servent::net::Node;
use servent::proto::Guid;

/// A [`Pusher`] over a running servent.
pub struct NodePusher(pub Node);

impl Pusher for NodePusher {
    fn connect_back(&self, servent_id: [u8; 16], index: u32) -> PushFuture {
        let node = self.0.clone();
        Box::pin(async move {
            let c = node
                .push_and_wait(Guid(servent_id), index, GIV_WAIT)
                .await
                .map_err(|e| e.to_string())?;
            log::info!("GIV from {} for file {}", c.remote, c.giv.index);
            Ok(PushedConnection {
                stream: c.stream,
                remote: c.remote,
            })
        })
    }
}

/// A source's `push://` URL (its servent ID, advertised address and `/get/` path).
pub fn push_source(h: &SearchHit) -> String {
    let url = h.url();
    let path = url
        .strip_prefix("http://")
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("/");
    push_url(h.servent_id.0, SocketAddr::V4(h.addr), path)
}

/// The URLs to try first for `sources` (`push://` for firewalled or unreachable ones)
/// and, for when the direct ones fail, every source as `push://`.
pub fn source_urls(
    sources: &[SearchHit],
    firewalled: &HashSet<Guid>,
) -> (Vec<String>, Vec<String>) {
    let first = sources
        .iter()
        .map(|h| {
            if firewalled.contains(&h.servent_id) || !h.is_routable() {
                push_source(h)
            } else {
                h.url()
            }
        })
        .collect();
    (first, sources.iter().map(push_source).collect())
}
