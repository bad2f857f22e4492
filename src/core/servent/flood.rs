//! Flooded Queries at a servent that relays them: the first copy is answered and relayed;
//! a later copy carrying more TTL than every earlier one is relayed again (bounded) and
//! takes over the reverse route; every other copy is a duplicate. Also builds our QueryHits.

use std::time::Duration;

use crate::proto::ggep::{cobs_encode, GgepBlock, GgepExtension};
use crate::proto::payload::{Extension, HitResult, QueryHit, Trailer};
use crate::proto::walker::WalkerTag;
use crate::proto::{Descriptor, Payload};

use super::state::{Origin, QueryRoute};
use super::Servent;
use crate::core::config::{DEFAULT_MAX_RESULTS, MAX_RESULTS_PER_QUERY_HIT};
use crate::core::event::Priority;
use crate::core::matcher::LocalFile;
use crate::core::peer::PeerId;
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
        // What relay_broadcast will send, counted up front: one table operation per Query.
        let relayed = if ttl > 1 {
            self.peers.len().saturating_sub(1) as u32
        } else {
            0
        };
        let route = QueryRoute {
            origin: Origin::Peer(from),
            traffic: QueryTraffic {
                queries: relayed,
                ..QueryTraffic::default()
            },
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
            // back and arrive with TTL to spare. Answered once already: only relayed.
            seen.flood_ttl = Some(ttl);
            seen.better_relays += 1;
            seen.origin = Origin::Peer(from);
            seen.traffic.queries += relayed;
            self.stats.relayed_better_ttl += 1;
            self.relay_broadcast(from, d, ttl);
            return;
        }
        let Payload::Query(query) = &*d.payload else {
            return;
        };
        let limit = query.max_hits().map_or(DEFAULT_MAX_RESULTS, |n| n as usize);
        let files = self.shared.matcher.matches(query, limit);
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
        if self.dq_leaf_query(now, from, &d, ttl) {
            return;
        }
        self.relay_broadcast(from, d, ttl);
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
                    false,
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

fn hit_result(f: &LocalFile) -> HitResult {
    let mut extensions: Vec<Extension> = f
        .sha1_urn
        .iter()
        .map(|u| Extension::Urn(u.clone()))
        .collect();
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
            extensions.push(Extension::Ggep(GgepBlock::Parsed(vec![lf])));
            u32::MAX
        }
    };
    HitResult {
        index: f.index,
        size,
        name: f.name.as_bytes().to_vec(),
        extensions,
    }
}
