//! Pings and Pongs: answering a Ping (our Pong, and with pong caching up to ten cached
//! Pongs instead of relaying it), routing Pongs back and remembering them, and the
//! discovery Pings a driver sends when it needs hosts beyond its neighbours.

use std::time::Duration;

use crate::core::event::{Event, Priority};
use crate::core::peer::PeerId;
use crate::core::role::Role;
use crate::core::stats::DropReason;
use crate::proto::payload::{Ping, Pong};
use crate::proto::{Descriptor, Guid, Payload};

use super::{Origin, Servent};

/// `Servent::last_discovery_ms` before the first discovery Ping.
pub(super) const NEVER_MS: u64 = u64::MAX;

impl Servent {
    /// Pings every neighbour with the maximum TTL to learn hosts, at most once per
    /// `discovery_ping_interval`: each answers with its Pong and its cached ones (or, with
    /// peers that flood Pings, the whole reachable network answers). Returns the Ping's
    /// GUID, or `None` when the last one is too recent or there is no neighbour. Drivers
    /// call it when they are below their wanted degree and when their host cache runs dry,
    /// and every cache lifespan to keep the pong cache fresh.
    pub fn discover_hosts(&mut self, now: Duration) -> Option<Guid> {
        let due = self.last_discovery_ms == NEVER_MS
            || now.saturating_sub(Duration::from_millis(self.last_discovery_ms))
                >= self.config.discovery_ping_interval;
        if !due || self.peers.is_empty() {
            return None;
        }
        self.last_discovery_ms = u64::try_from(now.as_millis()).unwrap_or(NEVER_MS - 1);
        let guid = self.new_upkeep_guid();
        self.ping_routes.put(guid, Origin::Local, now);
        self.own_pings.put(guid, now, now);
        let ttl = self.config.max_ttl.max(1);
        let d = Descriptor::new(guid, ttl, 0, Payload::Ping(Ping::default()));
        self.send_to_all(None, d, Priority::Own);
        Some(guid)
    }

    /// Pings one (new) neighbour with the maximum TTL: its answer fills our pong cache
    /// with its own Pong and the hosts it knows. Drivers send it when a link opens.
    pub fn discover_from(&mut self, now: Duration, peer: PeerId) -> Guid {
        let guid = self.new_upkeep_guid();
        self.ping_routes.put(guid, Origin::Local, now);
        self.own_pings.put(guid, now, now);
        let ttl = self.config.max_ttl.max(1);
        let d = Descriptor::new(guid, ttl, 0, Payload::Ping(Ping::default()));
        self.send(peer, d, Priority::Own);
        guid
    }

    /// Pongs in the pong cache (fresh or not yet expired).
    pub fn cached_pongs(&self) -> usize {
        self.pong_cache.len()
    }

    pub(super) fn on_ping(&mut self, now: Duration, from: PeerId, d: Descriptor, ttl: u8) {
        let (burst, rate) = (self.config.ping_burst, self.config.ping_rate_per_sec);
        let allowed = self
            .peers
            .get_mut(&from)
            .is_some_and(|p| p.take_ping_token(now, burst, rate));
        if !allowed {
            self.drop_from(from, DropReason::RateLimited);
            return;
        }
        if !self.ping_routes.insert_new(d.guid, Origin::Peer(from), now) {
            self.drop_duplicate(from);
            return;
        }
        let reply_ttl = self.reply_ttl(d.hops);
        let pong = self.our_pong();
        let reply = Descriptor::new(d.guid, reply_ttl, 0, Payload::Pong(pong));
        self.send(from, reply, Priority::Reply);
        // A leaf names only itself: it relays nothing, and the hosts it knows are its
        // ultrapeers, which the asker has better ways to learn.
        if self.config.role == Role::Leaf {
            return;
        }
        if !self.config.pong_caching {
            self.relay_broadcast(from, d, ttl);
            return;
        }
        // 0.6 ping/pong scheme: never relayed. A keep-alive (hops 0, TTL 1) gets our Pong
        // only; a crawler Ping (hops 0, TTL 2) our neighbours'; any other Ping the hosts
        // it could have reached: at most TTL - 1 hops beyond us, and no farther than the
        // reply's TTL + hops may go (the asker would lower its TTL to nothing).
        if d.hops == 0 && d.ttl == 1 {
            return;
        }
        let reach = if d.hops == 0 && d.ttl == 2 {
            1
        } else {
            ttl - 1
        };
        let max_hops = reach.min(self.config.max_ttl.saturating_sub(reply_ttl));
        let n = self.config.cached_pongs_per_ping;
        for (pong, hops) in self.pong_cache.pick(now, from, max_hops, n) {
            let reply = Descriptor::new(d.guid, reply_ttl, hops, Payload::Pong(pong));
            self.stats.pongs_from_cache += 1;
            self.send(from, reply, Priority::Reply);
        }
    }

    /// Our Pong: the advertised address and shared totals.
    pub(super) fn our_pong(&self) -> Pong {
        Pong {
            port: self.config.port,
            ip: self.config.ip,
            files_shared: self.shared.files,
            kbytes_shared: self.shared.kbytes,
            ggep: None,
        }
    }

    pub(super) fn on_pong(&mut self, now: Duration, from: PeerId, d: Descriptor, ttl: u8) {
        let origin = self.ping_routes.get(&d.guid, now).copied();
        let Payload::Pong(pong) = &*d.payload else {
            return;
        };
        if origin == Some(Origin::Local) {
            if let Some(&sent) = self.own_pings.get(&d.guid, now) {
                let hops = u32::from(d.hops) + 1;
                self.hop_latency
                    .sample_path(now.saturating_sub(sent), 2 * hops);
            }
        }
        // A Pong answering a Ping we routed names a live servent: tell the driver's host
        // cache, and remember it for later Pings. An unsolicited Pong (no route) is
        // dropped without feeding either, so a peer cannot fill them with made-up hosts.
        if origin.is_some() {
            let hops = d.hops.saturating_add(1);
            let ours = (pong.ip, pong.port) == (self.config.ip, self.config.port);
            // A leaf neighbour's own Pong names a servent that takes no links: not worth
            // offering to others.
            let leafs_own = d.hops == 0 && self.peers.get(&from).is_some_and(|p| !p.info.ultrapeer);
            if self.config.pong_caching && !ours && !leafs_own {
                self.pong_cache.record(now, from, hops, pong);
            }
            self.events.push_back(Event::Pong {
                ping: d.guid,
                from,
                pong: pong.clone(),
                hops,
                ours: origin == Some(Origin::Local),
            });
        }
        self.route_reply(from, d, ttl, origin);
    }
}
