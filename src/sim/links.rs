//! What simulated servents announce to each other when a link opens (the handshake
//! headers a real servent would send) and the role each runs on a two-tier graph.

use crate::core::{Config, PeerInfo, Role};
use crate::topology::Graph;

/// What servent `b` (configured `b_config`) announces to its neighbour `a` in a real
/// handshake: its role, `X-Query-Routing` on leaf-ultrapeer links,
/// `X-Ultrapeer-Query-Routing` between ultrapeers of a two-tier graph (of a flat one too
/// with `tables`), `X-Dynamic-Querying`, its ultrapeer degree and TTL limit.
pub(super) fn link_info(
    graph: &Graph,
    a: usize,
    b: usize,
    b_config: &Config,
    tables: bool,
) -> PeerInfo {
    let tiers = graph.is_two_tier();
    let (a_leaf, b_leaf) = (graph.is_leaf(a), graph.is_leaf(b));
    PeerInfo {
        walker_support: b_config.walker_support,
        servent_id: Some(b_config.servent_id),
        ultrapeer: !b_leaf,
        query_routing: tiers && a_leaf != b_leaf,
        ultrapeer_query_routing: (tiers || tables) && !a_leaf && !b_leaf,
        dynamic_querying: true,
        degree: (!b_leaf).then(|| graph.ultrapeer_degree(b) as u32),
        max_ttl: Some(b_config.max_ttl),
        ..PeerInfo::default()
    }
}

/// The role node `i` runs with: a two-tier graph's, else what its configuration says.
pub(super) fn with_role(graph: &Graph, i: usize, mut c: Config) -> Config {
    if graph.is_two_tier() {
        c.role = if graph.is_leaf(i) {
            Role::Leaf
        } else {
            Role::Ultrapeer
        };
    }
    c
}
