//! Flooded Queries at a servent that relays them: the first copy is answered and relayed;
//! a later copy carrying more TTL than every earlier one is relayed again (bounded) and
//! takes over the reverse route; every other copy is a duplicate. Also builds our QueryHits.

use std::time::Duration;

use crate::proto::ggep::{cobs_encode, GgepBlock, GgepExtension};
use crate::proto::payload::hash::{h_extension, parse_sha1_urn, sha1_urn};
use crate::proto::payload::{Extension, HitResult, QueryHit, Trailer};
use crate::proto::walker::WalkerTag;
use crate::proto::{Descriptor, Payload};

use super::state::{Origin, QueryRoute};
use super::Servent;
use crate::core::config::{DEFAULT_MAX_RESULTS, MAX_RESULTS_PER_QUERY_HIT};
use crate::core::event::Priority;
use crate::core::matcher::LocalFile;
use crate::core::peer::PeerId;
use crate::core::role::Role;
use crate::core::strategy::QueryTraffic;

/// Times (per Query GUID) a servent relays a later copy again for carrying more TTL than
/// every earlier one. With TTL strictly increasing too, a servent sends at most
/// `1 + MAX_BETTER_TTL_RELAYS` times a plain flood's copies for one Query, so a peer
/// replaying a GUID with rising TTLs cannot turn us into an amplifier. Two, not one: a
/// copy on a middling detour may overtake the slowest one and still lose to the copy on
/// the shortest path, arriving last on a loaded host.
pub const MAX_BETTER_TTL_RELAYS: u8 = 2;

impl Servent {
    /// A flooded Query (not a walker of a walker-aware peer) that passed the TTL rules.
    pub(super) fn on_query(&mut self, now: Duration, from: PeerId, d: Descriptor, ttl: u8) {
        let route = QueryRoute {
            origin: Origin::Peer(from),
            traffic: QueryTraffic::default(),
            flood_ttl: Some(ttl),
            better_relays: 0,
        };
        if let Some(seen) = self.query_routes.insert_new_or_get(d.guid, route, now) {
            seen.traffic.duplicates += 1;
            let better = seen.flood_ttl.is_some_and(|best| ttl > best)
                && seen.better_relays < MAX_BETTER_TTL_RELAYS
                && !is_walker(&d);
            if !better {
                self.drop_duplicate(from);
                return;
            }
            // More TTL left means fewer hops from the requester (TTL + hops is what it
            // sent, or our clamp): this copy came the shorter way. Its sender becomes the
            // reverse route, so QueryHits from the servents it reaches take the short way
            // back and arrive with TTL to spare. Answered once already: only relayed, and
            // not to leaves, which had the first copy.
            seen.flood_ttl = Some(ttl);
            seen.better_relays += 1;
            seen.origin = Origin::Peer(from);
            self.stats.relayed_better_ttl += 1;
            let sent = self.relay_query(Some(from), &d, ttl, false);
            self.count_traffic(d.guid, now, |t| t.queries += sent);
            return;
        }
        let Payload::Query(query) = &*d.payload else {
            return;
        };
        let limit = query.max_hits().map_or(DEFAULT_MAX_RESULTS, |n| n as usize);
        let files = if self.answers(query) {
            self.shared.matcher.matches(query, limit)
        } else {
            Vec::new()
        };
        if !files.is_empty() {
            self.stats.queries_answered += 1;
            let reply_ttl = self.reply_ttl(d.hops);
            let hits = self.build_query_hits(&files);
            self.count_traffic(d.guid, now, |t| t.hits += hits.len() as u32);
            for hit in hits {
                let reply = Descriptor::new(d.guid, reply_ttl, 0, Payload::QueryHit(hit));
                self.send(from, reply, Priority::Reply);
            }
        }
        // An ultrapeer runs a leaf's Query as a dynamic query when the leaf asks for it.
        if self.dq_leaf_query(now, from, &d, ttl) {
            return;
        }
        let sent = self.relay_query(Some(from), &d, ttl, true);
        if sent > 0 {
            self.count_traffic(d.guid, now, |t| t.queries += sent);
        }
    }

    /// Sends a Query one hop on (`from`: the neighbour it came from; `None`: ours, `d`
    /// as it leaves us) and returns the copies sent. A leaf sends only its own Queries, to
    /// its ultrapeers; it relays nothing. An ultrapeer sends a relayed Query to every
    /// other ultrapeer while TTL lasts (on the last hop only where the ultrapeer's merged
    /// table may match) and, with `leaves`, to every other leaf whose table may match,
    /// whatever the TTL: its leaves' files are as good as its own.
    pub(super) fn relay_query(
        &mut self,
        from: Option<PeerId>,
        d: &Descriptor,
        ttl: u8,
        leaves: bool,
    ) -> u32 {
        let Payload::Query(query) = &*d.payload else {
            return 0;
        };
        let (up, leaf) = match from {
            Some(_) => (d.next_hop(ttl), d.next_hop(ttl.max(2))),
            None => (d.clone(), d.clone()),
        };
        let ours = from.is_none();
        if self.config.role == Role::Leaf {
            if !ours {
                return 0;
            }
            let mut targets = std::mem::take(&mut self.relay_targets);
            targets.clear();
            targets.extend(
                self.peers
                    .iter()
                    .filter(|(_, p)| p.info.ultrapeer)
                    .map(|(id, _)| *id),
            );
            let sent = self.send_each(&targets, &up, Priority::Own);
            self.relay_targets = targets;
            return sent;
        }
        let priority = if ours {
            Priority::Own
        } else {
            Priority::RelayedBroadcast
        };
        // Ultrapeers first, then leaves, in one list reused from Query to Query: relaying
        // allocates nothing once it has seen the most neighbours.
        let mut targets = std::mem::take(&mut self.relay_targets);
        targets.clear();
        // Hashed only when a table is asked (a leaf, or an ultrapeer on the last hop): a
        // flat mesh relays without hashing a word.
        let keys = std::cell::OnceCell::new();
        let keys = || keys.get_or_init(|| self.query_keys(query));
        let up_ttl_left = up.ttl >= 1;
        let last_hop = up.ttl == 1;
        for (&id, p) in &self.peers {
            let asks_table = last_hop && self.qrp_table_of(id).is_some();
            if Some(id) != from
                && p.info.ultrapeer
                && up_ttl_left
                && (!asks_table || self.query_goes_to(id, keys(), true))
            {
                targets.push(id);
            }
        }
        let ups = targets.len();
        if leaves || ours {
            for (&id, p) in &self.peers {
                if Some(id) != from && !p.info.ultrapeer && self.query_goes_to(id, keys(), false) {
                    targets.push(id);
                }
            }
        }
        if !ours && !targets.is_empty() {
            self.stats.routed += 1;
        }
        let mut sent = self.send_each(&targets[..ups], &up, priority);
        sent += self.send_each(&targets[ups..], &leaf, priority);
        self.relay_targets = targets;
        sent
    }

    /// Sends one descriptor to each of `peers` (the payload shared), counted per type.
    fn send_each(&mut self, peers: &[PeerId], d: &Descriptor, priority: Priority) -> u32 {
        for &peer in peers {
            self.send(peer, d.clone(), priority);
        }
        peers.len() as u32
    }

    /// Builds our QueryHits for `files`, split so no hit carries more than
    /// [`MAX_RESULTS_PER_QUERY_HIT`] results.
    pub(super) fn build_query_hits(&self, files: &[LocalFile]) -> Vec<QueryHit> {
        files
            .chunks(MAX_RESULTS_PER_QUERY_HIT)
            .map(|chunk| QueryHit {
                port: self.config.port,
                ip: self.config.ip,
                speed: self.config.speed_kbps,
                results: chunk.iter().map(hit_result).collect(),
                trailer: Some(Trailer::new(
                    self.config.vendor_code,
                    self.config.firewalled,
                    false,
                    false,
                    false,
                )),
                servent_id: self.config.servent_id,
            })
            .collect()
    }
}

/// A walker-marked Query (from a peer that did not announce walker support, so it reached
/// the flood path): a walk, not a flood, so never relayed again for its TTL.
fn is_walker(d: &Descriptor) -> bool {
    matches!(&*d.payload, Payload::Query(q) if WalkerTag::find(q).is_some())
}

/// One result: index, size, name, then the extension area gtk-gnutella reads: the SHA-1 as
/// text `urn:sha1:` (for every servent) and, in one GGEP block after it, as `H` type 1
/// (for servents that asked for `H`) and the `LF` of a file of 4 GiB and more.
fn hit_result(f: &LocalFile) -> HitResult {
    let sha1 = f.sha1_urn.as_deref().and_then(parse_sha1_urn);
    let mut extensions: Vec<Extension> = sha1.iter().map(|d| Extension::Urn(sha1_urn(d))).collect();
    let mut ggep: Vec<GgepExtension> = sha1.iter().map(h_extension).collect();
    // Files of 4 GiB and more: size 0xFFFFFFFF plus GGEP "LF" with the 64-bit size,
    // little-endian without trailing zero bytes (as LimeWire writes it), COBS-encoded
    // when it holds a zero byte: a result's extension area ends at the first NUL.
    let size = match u32::try_from(f.size) {
        Ok(s) if s != u32::MAX => s,
        _ => {
            let le = f.size.to_le_bytes();
            let raw = &le[..8 - (f.size.leading_zeros() / 8) as usize];
            let mut lf = GgepExtension::new("LF", raw.to_vec());
            if raw.contains(&0) {
                lf.cobs = true;
                lf.data = cobs_encode(raw);
            }
            ggep.push(lf);
            u32::MAX
        }
    };
    if !ggep.is_empty() {
        extensions.push(Extension::Ggep(GgepBlock::Parsed(ggep)));
    }
    HitResult {
        index: f.index,
        size,
        name: f.name.as_bytes().to_vec(),
        extensions,
    }
}
