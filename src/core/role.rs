//! A servent's place in the two-tier 0.6 network: an ultrapeer (routes Queries between
//! ultrapeers and to its leaves) or a leaf (shielded: sends its own Queries through its
//! ultrapeers, answers what they route to it, relays nothing), with the link limits each
//! keeps.

use std::fmt;
use std::str::FromStr;

/// Ultrapeers a leaf keeps: gtk-gnutella's and LimeWire's 3; one is enough to search,
/// three survive the loss of two.
pub const LEAF_ULTRAPEERS: usize = 3;
/// Leaves an ultrapeer serves at most: LimeWire's 30 (gtk-gnutella allows more); each leaf
/// costs an ultrapeer one link, one routing table and its share of Queries.
pub const MAX_LEAVES: usize = 30;
/// Ultrapeer links an ultrapeer keeps at most in the real network (LimeWire's 32 with
/// high-degree dynamic querying). Local meshes use fewer (`--max-peers`).
pub const MAX_ULTRAPEER_LINKS: usize = 32;

/// What a servent is in the two-tier network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Links to other ultrapeers and serves leaves: relays Queries, keeps one query routing
    /// table per leaf.
    Ultrapeer,
    /// Links only to ultrapeers and relays nothing; tells them what it shares with a query
    /// routing table.
    Leaf,
}

impl Role {
    /// `ultrapeer` or `leaf`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Ultrapeer => "ultrapeer",
            Role::Leaf => "leaf",
        }
    }

    /// The `X-Ultrapeer` header's value: `True` or `False`.
    pub fn x_ultrapeer(&self) -> &'static str {
        match self {
            Role::Ultrapeer => "True",
            Role::Leaf => "False",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The role a user asks for (`--role`): a fixed one, or `auto` (the servent decides, as
/// real servents do, from who it finds to connect to and who asks it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RolePolicy {
    /// Start as a leaf when there are servents to join, as an ultrapeer when there is no
    /// one; switch as the network needs (see `net::roles`).
    #[default]
    Auto,
    /// Always an ultrapeer.
    Ultrapeer,
    /// Always a leaf.
    Leaf,
}

impl FromStr for RolePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(RolePolicy::Auto),
            "ultrapeer" | "up" => Ok(RolePolicy::Ultrapeer),
            "leaf" => Ok(RolePolicy::Leaf),
            _ => Err(format!("unknown role {s:?}: use auto, ultrapeer or leaf")),
        }
    }
}

impl fmt::Display for RolePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RolePolicy::Auto => "auto",
            RolePolicy::Ultrapeer => "ultrapeer",
            RolePolicy::Leaf => "leaf",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_print() {
        for p in [RolePolicy::Auto, RolePolicy::Ultrapeer, RolePolicy::Leaf] {
            assert_eq!(p.to_string().parse::<RolePolicy>(), Ok(p));
        }
        assert!("boss".parse::<RolePolicy>().is_err());
        assert_eq!(Role::Leaf.x_ultrapeer(), "False");
    }
}
