//! Link upkeep, once per tick: keep-alive Pings on idle links, closing dead links,
//! connecting to hosts from the cache while below the minimum degree, discovery Pings
//! (when below it and short of hosts, and every pong refresh period), and saving the host
//! cache. The core's own deadlines are the timer task's (`timer.rs`), not the tick's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::roles;
use super::shared::Shared;
use super::state::{CloseReason, State};
use crate::core::Role;
use crate::rt;

/// How often the host cache is written when it changed.
const HOST_CACHE_SAVE_EVERY: Duration = Duration::from_secs(30);

pub(super) async fn run(shared: Arc<Shared>) {
    let timing = shared.config.timing.clone();
    let limits = shared.config.role_limits();
    let mut last_save = Duration::ZERO;
    let mut last_refresh = Duration::ZERO;
    while !shared.is_shutting_down() {
        rt::sleep(timing.upkeep_tick).await;
        if shared.is_shutting_down() {
            break;
        }
        let now = shared.now();
        let to_connect: Vec<SocketAddr> = {
            let mut st = shared.lock();
            let mut dead = Vec::new();
            let mut idle = Vec::new();
            for (&peer, link) in st.links.iter_mut() {
                let silent = now.saturating_sub(link.last_rx);
                if silent >= timing.dead_after {
                    dead.push(peer);
                } else if silent >= timing.idle_ping_after
                    && now.saturating_sub(link.last_alive_ping) >= timing.idle_ping_after
                {
                    link.last_alive_ping = now;
                    idle.push(peer);
                }
            }
            for peer in dead {
                st.close_link(now, peer, CloseReason::Dead);
            }
            for peer in idle {
                st.servent.ping_peer(now, peer);
            }
            st.pump(now);
            if now.saturating_sub(last_save) >= HOST_CACHE_SAVE_EVERY {
                last_save = now;
                if let Some(dir) = &shared.config.data_dir {
                    if let Err(e) = st.hosts.save(dir) {
                        log::warn!("cannot save host cache: {e}");
                    }
                }
            }
            update_role(&shared, &mut st, now);
            // A rescanned library changes our query routing table: patches go out.
            st.servent.check_shared(now);
            let role = st.servent.role();
            let have = st.link_counts().ultrapeers;
            let want = limits.ultrapeers_wanted(role).saturating_sub(have);
            let to_connect: Vec<SocketAddr> = if want == 0 {
                Vec::new()
            } else {
                let connected: Vec<SocketAddr> =
                    st.links.values().filter_map(|l| l.listen).collect();
                st.hosts
                    .candidates(now)
                    .into_iter()
                    .filter(|a| {
                        *a != shared.listen && !connected.contains(a) && !st.connecting.contains(a)
                    })
                    .take(want)
                    .collect()
            };
            // Short of neighbours and of hosts to try: ask the neighbours we have for
            // more (the core spaces these 3 s apart). Otherwise refresh the pong cache
            // now and then, so what we answer Pings with stays current.
            let short = want > 0 && to_connect.len() < want;
            let stale = now.saturating_sub(last_refresh) >= timing.pong_refresh_every;
            if (short || stale) && st.servent.discover_hosts(now).is_some() {
                last_refresh = now;
                st.pump(now);
            }
            to_connect
        };
        for addr in to_connect {
            spawn_connect(&shared, addr);
        }
    }
}

/// An `auto` leaf that has had no ultrapeer for `leaf_promote_after` becomes one: no one
/// took it in, and someone must take others in.
fn update_role(shared: &Shared, st: &mut State, now: Duration) {
    let role = st.servent.role();
    if role == Role::Leaf && st.links.values().all(|l| !l.ultrapeer) {
        st.orphan_since.get_or_insert(now);
    } else {
        st.orphan_since = None;
    }
    let after = shared.config.timing.leaf_promote_after;
    if roles::should_promote(shared.config.role, role, st.orphan_since, now, after) {
        st.switch_role(now, Role::Ultrapeer, None);
        st.pump(now);
    }
}

/// Connects in the background, logging the outcome.
pub(super) fn spawn_connect(shared: &Arc<Shared>, addr: SocketAddr) {
    let shared = Arc::clone(shared);
    rt::spawn(async move {
        if let Err(e) = super::connect::connect(&shared, addr).await {
            log::debug!("{e}");
        }
    });
}
