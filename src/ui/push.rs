//! Downloads from firewalled servents for whatever runs a servent (the command line, the
//! web interface): the downloader's [`Pusher`] over a running [`Node`] (it sends the Push
//! along the QueryHit's reverse path and waits for the GIV on the node's port), and the
//! choice of a source's URL: `push://` for a hit flagged firewalled or with an address we
//! cannot reach, `http://` otherwise (with `push://` kept for when the direct connect
//! fails).

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::download::{push_url, PushFuture, PushedConnection, Pusher};
use crate::library::hits::SearchHit;
use crate::net::push::GIV_WAIT;
use crate::net::Node;
use crate::proto::Guid;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(ip: [u8; 4], id: u8) -> SearchHit {
        SearchHit {
            addr: std::net::SocketAddrV4::new(ip.into(), 6346),
            servent_id: Guid([id; 16]),
            speed: 0,
            index: 7,
            size: 10,
            name: "a b.ogg".into(),
            sha1_urn: None,
        }
    }

    #[test]
    fn firewalled_and_unreachable_sources_are_pushed() {
        let hits = [
            hit([10, 0, 0, 1], 1),
            hit([10, 0, 0, 2], 2),
            hit([0, 0, 0, 0], 3),
        ];
        let firewalled = HashSet::from([Guid([2; 16])]);
        let (first, pushed) = source_urls(&hits, &firewalled);
        assert_eq!(first[0], "http://10.0.0.1:6346/get/7/a%20b.ogg");
        let push2 = format!("push://{}:10.0.0.2:6346/get/7/a%20b.ogg", "02".repeat(16));
        assert_eq!(first[1], push2);
        assert!(first[2].starts_with(&format!("push://{}:0.0.0.0:6346/get/7/", "03".repeat(16))));
        assert_eq!(pushed.len(), 3);
        assert!(pushed.iter().all(|u| u.starts_with("push://")));
        assert_eq!(pushed[1], push2);
    }
}
