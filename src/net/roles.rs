//! Who links to whom in the two-tier network, as 0.6 servents decide it: the role an
//! `auto` servent starts in, which CONNECTs we accept in each role (and the guidance we
//! give: `X-Ultrapeer-Needed`), what we do with the guidance we get, and when an `auto`
//! leaf promotes itself. Pure decisions over counts; the handshake code acts on them.

use std::time::Duration;

use crate::core::{Role, RolePolicy};
use crate::proto::handshake::Headers;

/// An `auto` leaf with no ultrapeer link this long (since start or since its last one
/// closed), though it tried, becomes an ultrapeer: no one took it, and a network of leaves
/// cannot search. Long enough for a few connect attempts and their back-offs.
pub const LEAF_PROMOTE_AFTER: Duration = Duration::from_secs(10);
/// An `auto` servent switches role at most this often when told to (an ultrapeer that does
/// not need it): stops two servents flipping each other back and forth. gtk-gnutella waits
/// 30 minutes and more in the real network; local meshes form in seconds.
pub const ROLE_SWITCH_MIN_INTERVAL: Duration = Duration::from_secs(30);

/// How many links of each kind a servent has (open and being opened).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounts {
    /// Links to ultrapeers.
    pub ultrapeers: usize,
    /// Links to leaves (only an ultrapeer has any).
    pub leaves: usize,
}

/// The limits a servent keeps in each role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleLimits {
    /// An ultrapeer connects to more ultrapeers while it has fewer than this.
    pub min_ultrapeers: usize,
    /// An ultrapeer refuses ultrapeers beyond this many.
    pub max_ultrapeers: usize,
    /// An ultrapeer refuses leaves beyond this many.
    pub max_leaves: usize,
    /// A leaf keeps this many ultrapeers.
    pub leaf_ultrapeers: usize,
}

impl RoleLimits {
    /// Ultrapeer links wanted in `role` (the upkeep connects while below it).
    pub fn ultrapeers_wanted(&self, role: Role) -> usize {
        match role {
            Role::Ultrapeer => self.min_ultrapeers,
            Role::Leaf => self.leaf_ultrapeers,
        }
    }
}

/// The role an `auto` servent starts in: a leaf when there is someone to join (peers to
/// connect to, or hosts remembered from an earlier run), an ultrapeer when there is no one:
/// the first servent of a mesh must take others in.
pub fn initial_role(policy: RolePolicy, hosts_known: bool) -> Role {
    match policy {
        RolePolicy::Ultrapeer => Role::Ultrapeer,
        RolePolicy::Leaf => Role::Leaf,
        RolePolicy::Auto if hosts_known => Role::Leaf,
        RolePolicy::Auto => Role::Ultrapeer,
    }
}

/// What we answer to a CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// 200, with `X-Ultrapeer-Needed` set to the value (sent by ultrapeers to ultrapeers:
    /// `false` tells an `auto` peer it would serve the network better as our leaf).
    Accept {
        /// The `X-Ultrapeer-Needed` value to send, if any.
        ultrapeer_needed: Option<bool>,
    },
    /// 503 with this reason and hosts to try.
    Refuse(&'static str),
}

/// Whether we take a peer that says it is an ultrapeer (`peer_ultrapeer`) or a leaf, in
/// our role with the links we have (the 0.6 ultrapeer proposal's rules):
/// - a leaf takes ultrapeers up to its quota and never another leaf;
/// - an ultrapeer takes leaves up to `max_leaves`; to an ultrapeer it says, as gtk-gnutella
///   does, `X-Ultrapeer-Needed: true` while it has fewer than `max_ultrapeers` ultrapeer
///   links, and once full `false` when it has leaf slots left: the peer may come as our
///   leaf (its final 200 says `X-Ultrapeer: False`) and is refused if it stays an
///   ultrapeer. Full of both, it refuses (503 with hosts to try).
pub fn admit(role: Role, peer_ultrapeer: bool, have: LinkCounts, limits: &RoleLimits) -> Admission {
    match (role, peer_ultrapeer) {
        (Role::Leaf, false) => Admission::Refuse("Shielded leaf node"),
        (Role::Leaf, true) if have.ultrapeers >= limits.leaf_ultrapeers => {
            Admission::Refuse("Leaf has all its ultrapeers")
        }
        (Role::Leaf, true) => Admission::Accept {
            ultrapeer_needed: None,
        },
        (Role::Ultrapeer, false) if have.leaves >= limits.max_leaves => {
            Admission::Refuse("Too many leaves")
        }
        (Role::Ultrapeer, false) => Admission::Accept {
            ultrapeer_needed: None,
        },
        (Role::Ultrapeer, true) if have.ultrapeers < limits.max_ultrapeers => Admission::Accept {
            ultrapeer_needed: Some(true),
        },
        (Role::Ultrapeer, true) if have.leaves < limits.max_leaves => Admission::Accept {
            ultrapeer_needed: Some(false),
        },
        (Role::Ultrapeer, true) => Admission::Refuse("Full"),
    }
}

/// What the connecting side does with the 200 it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Keep the link, in our role.
    Keep,
    /// Keep the link and become a leaf (an ultrapeer that has no leaves was told ultrapeers
    /// are not needed): our final 200 says `X-Ultrapeer: False`, and the other links close.
    BecomeLeaf,
    /// Close with this reason (final 503).
    Decline(&'static str),
}

/// How the connecting side reads the peer's 200: a leaf never links to a leaf; an `auto`
/// ultrapeer with no leaves, told `X-Ultrapeer-Needed: false` (the peer is full of
/// ultrapeers), becomes that ultrapeer's leaf (when it has not switched role recently);
/// any other ultrapeer told so declines, as gtk-gnutella does (it would be refused).
pub fn answer(
    policy: RolePolicy,
    role: Role,
    have: LinkCounts,
    peer_ultrapeer: bool,
    ultrapeer_needed: Option<bool>,
    may_switch: bool,
) -> Answer {
    match (role, peer_ultrapeer) {
        (Role::Leaf, false) => Answer::Decline("Not an ultrapeer"),
        (Role::Leaf, true) => Answer::Keep,
        (Role::Ultrapeer, false) => Answer::Keep,
        (Role::Ultrapeer, true) => {
            let told_not_needed = ultrapeer_needed == Some(false);
            if !told_not_needed {
                Answer::Keep
            } else if policy == RolePolicy::Auto && have.leaves == 0 && may_switch {
                Answer::BecomeLeaf
            } else {
                Answer::Decline("Not becoming a leaf node")
            }
        }
    }
}

/// The peer's `X-Ultrapeer-Needed`, when sent as `true` or `false`.
pub fn ultrapeer_needed(headers: &Headers) -> Option<bool> {
    match headers.get("X-Ultrapeer-Needed")?.trim() {
        v if v.eq_ignore_ascii_case("true") => Some(true),
        v if v.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Whether the peer's headers say it is an ultrapeer (`X-Ultrapeer: True`). A 0.6 servent
/// without the header is an old flat-network servent: it relays like an ultrapeer.
pub fn says_ultrapeer(headers: &Headers) -> bool {
    headers
        .get("X-Ultrapeer")
        .is_none_or(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Whether an `auto` leaf should promote itself now: it has had no ultrapeer since
/// `orphan_since` for at least `after`.
pub fn should_promote(
    policy: RolePolicy,
    role: Role,
    orphan_since: Option<Duration>,
    now: Duration,
    after: Duration,
) -> bool {
    policy == RolePolicy::Auto
        && role == Role::Leaf
        && orphan_since.is_some_and(|t| now.saturating_sub(t) >= after)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: RoleLimits = RoleLimits {
        min_ultrapeers: 3,
        max_ultrapeers: 8,
        max_leaves: 30,
        leaf_ultrapeers: 3,
    };

    fn counts(ultrapeers: usize, leaves: usize) -> LinkCounts {
        LinkCounts { ultrapeers, leaves }
    }

    #[test]
    fn auto_starts_as_a_leaf_only_with_someone_to_join() {
        assert_eq!(initial_role(RolePolicy::Auto, true), Role::Leaf);
        assert_eq!(initial_role(RolePolicy::Auto, false), Role::Ultrapeer);
        assert_eq!(initial_role(RolePolicy::Leaf, false), Role::Leaf);
        assert_eq!(initial_role(RolePolicy::Ultrapeer, true), Role::Ultrapeer);
    }

    #[test]
    fn leaves_take_ultrapeers_up_to_their_quota_and_never_leaves() {
        let leaf = Role::Leaf;
        assert!(matches!(
            admit(leaf, false, counts(0, 0), &LIMITS),
            Admission::Refuse(_)
        ));
        assert_eq!(
            admit(leaf, true, counts(2, 0), &LIMITS),
            Admission::Accept {
                ultrapeer_needed: None
            }
        );
        assert!(matches!(
            admit(leaf, true, counts(3, 0), &LIMITS),
            Admission::Refuse(_)
        ));
    }

    #[test]
    fn ultrapeers_guide_ultrapeers_by_what_they_need() {
        let up = Role::Ultrapeer;
        let needed = |n| Admission::Accept {
            ultrapeer_needed: Some(n),
        };
        // Room for ultrapeers: needed, whatever the minimum (as gtk-gnutella says).
        for have in [counts(0, 0), counts(3, 5), counts(7, 30)] {
            assert_eq!(admit(up, true, have, &LIMITS), needed(true));
        }
        // Full of ultrapeers, room for leaves: come as a leaf if you can.
        assert_eq!(admit(up, true, counts(8, 5), &LIMITS), needed(false));
        assert!(matches!(
            admit(up, true, counts(8, 30), &LIMITS),
            Admission::Refuse(_)
        ));
        assert!(matches!(
            admit(up, false, counts(0, 30), &LIMITS),
            Admission::Refuse(_)
        ));
    }

    #[test]
    fn only_an_auto_ultrapeer_without_leaves_becomes_a_leaf_when_told() {
        let a =
            |policy, have, needed, may| answer(policy, Role::Ultrapeer, have, true, needed, may);
        assert_eq!(
            a(RolePolicy::Auto, counts(2, 0), Some(false), true),
            Answer::BecomeLeaf
        );
        for (policy, have, may) in [
            (RolePolicy::Auto, counts(2, 1), true),
            (RolePolicy::Ultrapeer, counts(0, 0), true),
            (RolePolicy::Auto, counts(0, 0), false),
        ] {
            assert!(matches!(
                a(policy, have, Some(false), may),
                Answer::Decline(_)
            ));
        }
        assert_eq!(
            a(RolePolicy::Auto, counts(0, 0), Some(true), true),
            Answer::Keep
        );
        assert!(matches!(
            answer(
                RolePolicy::Auto,
                Role::Leaf,
                counts(0, 0),
                false,
                None,
                true
            ),
            Answer::Decline(_)
        ));
    }

    #[test]
    fn an_orphan_auto_leaf_promotes_after_the_wait() {
        let s = Duration::from_secs;
        let p = |policy, since, now| should_promote(policy, Role::Leaf, since, s(now), s(10));
        assert!(!p(RolePolicy::Auto, Some(s(0)), 9));
        assert!(p(RolePolicy::Auto, Some(s(0)), 10));
        assert!(!p(RolePolicy::Auto, None, 100));
        assert!(!p(RolePolicy::Leaf, Some(s(0)), 100));
    }
}
