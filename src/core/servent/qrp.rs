//! Query routing by tables at a servent: receiving the tables leaves (and ultrapeers that
//! speak `X-Ultrapeer-Query-Routing`) send us, sending ours (a leaf its library's, an
//! ultrapeer its leaves' merged with its own), and the decision each Query relay asks:
//! may this neighbour's table match? Tables arrive as hostile RESET + PATCH sequences: a
//! bad one closes the link.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::core::event::{Event, Priority};
use crate::core::peer::PeerId;
use crate::core::qrp::DEFAULT_TABLE_BITS;
use crate::core::qrp::{table_update, QrpReceiver, QueryKeys, QueryRoutingTable};
use crate::core::qrp::{DEFAULT_CHUNK_BYTES, DEFAULT_ENTRY_BITS, DEFAULT_INFINITY};
use crate::core::role::Role;
use crate::core::stats::DropReason;
use crate::proto::payload::Query;
use crate::proto::qrp::QrpMessage;
use crate::proto::{Descriptor, Payload, PayloadType};

use super::Servent;

/// Shortest time between two merged tables sent to ultrapeer neighbours: leaves come and
/// go, and each change would otherwise cost every ultrapeer link a patch. LimeWire and
/// gtk-gnutella propagate leaf changes within about a minute.
pub const MERGED_TABLE_INTERVAL: Duration = Duration::from_secs(30);

/// The query routing state of one servent.
#[derive(Default)]
pub(crate) struct QrpState {
    /// Complete tables received, per neighbour (a leaf's own, an ultrapeer's merged).
    tables: BTreeMap<PeerId, QueryRoutingTable>,
    /// Tables being received (a RESET seen, PATCHes under way).
    receiving: BTreeMap<PeerId, QrpReceiver>,
    /// What each neighbour holds of ours: the table its patches are computed against.
    sent: BTreeMap<PeerId, Arc<QueryRoutingTable>>,
    /// Our library's table (what we share), built when the library changes.
    own: Option<Arc<QueryRoutingTable>>,
    /// The library's generation `own` was built from.
    own_generation: Option<u64>,
    /// Leaves' tables changed since the merged table last went out.
    merged_dirty: bool,
    /// When the merged table last went out to ultrapeers.
    merged_sent_at: Option<Duration>,
    /// The merged table as last built, shared by every ultrapeer link it went to; `None`
    /// when our table or a leaf's changed since.
    merged: Option<Arc<QueryRoutingTable>>,
}

impl crate::core::lazy::Empty for QrpState {
    const EMPTY: &'static QrpState = &QrpState {
        tables: BTreeMap::new(),
        receiving: BTreeMap::new(),
        sent: BTreeMap::new(),
        own: None,
        own_generation: None,
        merged_dirty: false,
        merged_sent_at: None,
        merged: None,
    };
}

impl QrpState {
    /// Drops what we knew of a closed link.
    pub(super) fn forget(&mut self, peer: PeerId) {
        if self.tables.remove(&peer).is_some() {
            self.merged_dirty = true;
            self.merged = None;
        }
        self.receiving.remove(&peer);
        self.sent.remove(&peer);
    }

    /// Our table must be rebuilt (a new matcher).
    pub(super) fn invalidate_own(&mut self) {
        self.own = None;
        self.own_generation = None;
        self.merged = None;
    }

    /// When the merged table is next due (only when something changed).
    pub(super) fn next_deadline(&self) -> Option<Duration> {
        if !self.merged_dirty {
            return None;
        }
        Some(
            self.merged_sent_at
                .map_or(Duration::ZERO, |t| t + MERGED_TABLE_INTERVAL),
        )
    }
}

impl Servent {
    /// The table a neighbour sent us (complete), if any: its slot count and fill for
    /// `/status`.
    pub fn qrp_table_of(&self, peer: PeerId) -> Option<&QueryRoutingTable> {
        self.qrp.tables.get(&peer)
    }

    /// Our own table, as built from what we share (built on first use).
    pub fn own_qrp_table(&mut self) -> Arc<QueryRoutingTable> {
        self.refresh_own_table();
        self.qrp.own.clone().unwrap_or_else(empty_table)
    }

    /// Tells the core what it shares may have changed (the driver calls it now and then):
    /// when the matcher's generation moved, our table is rebuilt and the patches go to
    /// every ultrapeer that takes our table.
    pub fn check_shared(&mut self, now: Duration) {
        let generation = self.shared.matcher.generation();
        if self.qrp.own_generation == Some(generation) {
            return;
        }
        self.refresh_own_table();
        match self.config.role {
            Role::Leaf => {
                let ups: Vec<PeerId> = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.info.ultrapeer && p.info.query_routing)
                    .map(|(id, _)| *id)
                    .collect();
                for up in ups {
                    self.send_own_table(up);
                }
            }
            Role::Ultrapeer => self.mark_merged_dirty(now),
        }
    }

    fn refresh_own_table(&mut self) {
        let generation = self.shared.matcher.generation();
        if self.qrp.own.is_some() && self.qrp.own_generation == Some(generation) {
            return;
        }
        let words = self.shared.matcher.qrp_words();
        let table = QueryRoutingTable::from_keywords(words.iter(), DEFAULT_TABLE_BITS);
        self.qrp.own = Some(Arc::new(table));
        self.qrp.own_generation = Some(generation);
        self.qrp.merged = None;
    }

    /// A link opened: a leaf sends its ultrapeer its table; an ultrapeer sends an
    /// ultrapeer that exchanges tables its merged one.
    pub(super) fn qrp_on_connected(&mut self, peer: PeerId) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let (up, qrp, up_qrp) = (
            p.info.ultrapeer,
            p.info.query_routing,
            p.info.ultrapeer_query_routing,
        );
        match self.config.role {
            Role::Leaf if up && qrp => self.send_own_table(peer),
            Role::Ultrapeer if up && up_qrp => {
                let merged = self.merged_table();
                self.send_table(peer, merged);
            }
            _ => {}
        }
    }

    fn send_own_table(&mut self, peer: PeerId) {
        self.refresh_own_table();
        let own = self.qrp.own.clone().unwrap_or_else(empty_table);
        self.send_table(peer, own);
    }

    /// Sends `peer` what turns its copy of our table into `table`.
    fn send_table(&mut self, peer: PeerId, table: Arc<QueryRoutingTable>) {
        let old = self.qrp.sent.get(&peer).cloned();
        let messages = table_update(
            &table,
            old.as_deref(),
            DEFAULT_INFINITY,
            DEFAULT_ENTRY_BITS,
            DEFAULT_CHUNK_BYTES,
        );
        for m in messages {
            let guid = self.new_upkeep_guid();
            let d = Descriptor::new(
                guid,
                1,
                0,
                Payload::Opaque {
                    kind: PayloadType::Qrp,
                    bytes: m.encode(),
                },
            );
            self.send(peer, d, Priority::Own);
        }
        self.qrp.sent.insert(peer, table);
    }

    /// Our table merged with every leaf's, at our table's size: built once per change
    /// and shared by every ultrapeer link it goes to (each link keeps what it was sent).
    fn merged_table(&mut self) -> Arc<QueryRoutingTable> {
        self.refresh_own_table();
        if let Some(m) = &self.qrp.merged {
            return Arc::clone(m);
        }
        let mut merged = self
            .qrp
            .own
            .as_deref()
            .cloned()
            .unwrap_or_else(|| QueryRoutingTable::new(DEFAULT_TABLE_BITS));
        for (peer, t) in &self.qrp.tables {
            if self.peers.get(peer).is_some_and(|p| !p.info.ultrapeer) {
                merged.merge_from(t);
            }
        }
        let merged = Arc::new(merged);
        self.qrp.merged = Some(Arc::clone(&merged));
        merged
    }

    /// Our merged table changed: due to ultrapeers that take it (one that links later
    /// gets the table of its time when its link opens).
    fn mark_merged_dirty(&mut self, _now: Duration) {
        let takers = self
            .peers
            .values()
            .any(|p| p.info.ultrapeer && p.info.ultrapeer_query_routing);
        if takers {
            self.qrp.merged_dirty = true;
        }
    }

    /// Sends the merged table to ultrapeer neighbours when it is due (called from
    /// `handle_timeout`).
    pub(super) fn qrp_on_timeout(&mut self, now: Duration) {
        if self.config.role != Role::Ultrapeer {
            if let Some(q) = self.qrp.existing_mut() {
                q.merged_dirty = false;
            }
            return;
        }
        match self.qrp.next_deadline() {
            Some(at) if at <= now => {}
            _ => return,
        }
        self.qrp.merged_dirty = false;
        self.qrp.merged_sent_at = Some(now);
        let ups: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.info.ultrapeer && p.info.ultrapeer_query_routing)
            .map(|(id, _)| *id)
            .collect();
        if ups.is_empty() {
            return;
        }
        let merged = self.merged_table();
        for up in ups {
            self.send_table(up, Arc::clone(&merged));
        }
    }

    /// A QRP message (0x30) from `from`: applied to the table it is sending us. Taken
    /// from a leaf when we are an ultrapeer, and from an ultrapeer that exchanges tables;
    /// ignored otherwise. A malformed message or sequence closes the link.
    pub(super) fn on_qrp(&mut self, now: Duration, from: PeerId, bytes: &[u8]) {
        let Some(p) = self.peers.get(&from) else {
            return;
        };
        let wanted = self.config.role == Role::Ultrapeer
            && (!p.info.ultrapeer || p.info.ultrapeer_query_routing);
        if !wanted {
            return;
        }
        let result = QrpMessage::decode(bytes)
            .and_then(|m| self.qrp.receiving.entry(from).or_default().handle(m));
        match result {
            Ok(None) => {}
            Ok(Some(table)) => {
                let leaf = !p.info.ultrapeer;
                self.qrp.tables.insert(from, table);
                if leaf {
                    self.qrp.merged = None;
                }
                if leaf {
                    self.mark_merged_dirty(now);
                }
            }
            Err(e) => {
                log::debug!("peer {}: bad query routing table: {e}", from.0);
                self.drop_from(from, DropReason::Malformed);
                self.qrp.receiving.remove(&from);
                self.bye(from, 400, "Bad query routing table");
                self.events.push_back(Event::Close {
                    peer: from,
                    reason: format!("bad query routing table: {e}"),
                });
            }
        }
    }

    /// What a Query is keyed by for table lookups (the library's folding when it has one).
    pub(super) fn query_keys(&self, query: &Query) -> QueryKeys {
        self.shared.matcher.query_keys(query)
    }

    /// Whether a Query keyed by `keys` goes to neighbour `peer` (`last_hop`: it would
    /// arrive with TTL 1):
    /// - a leaf gets it only when its table may match; no table yet, nothing (as
    ///   gtk-gnutella: a leaf that told us nothing shares nothing we know of);
    /// - an ultrapeer gets it, except on the last hop when its merged table says no.
    pub(super) fn query_goes_to(&self, peer: PeerId, keys: &QueryKeys, last_hop: bool) -> bool {
        let Some(p) = self.peers.get(&peer) else {
            return false;
        };
        let table = self.qrp.tables.get(&peer);
        if !p.info.ultrapeer {
            return table.is_some_and(|t| t.may_route(keys));
        }
        !last_hop || table.is_none_or(|t| t.may_route(keys))
    }
}

fn empty_table() -> Arc<QueryRoutingTable> {
    Arc::new(QueryRoutingTable::new(DEFAULT_TABLE_BITS))
}
