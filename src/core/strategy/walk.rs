//! k random walkers (Lv, Cao, Cohen, Li, Shenker, ICS 2002): k copies of the Query, each
//! handed to one neighbour chosen at random per step, checking with the requester every
//! few steps whether to go on. This file holds the parameters, the pure rules of a step
//! (the next tag, when a check is due, the neighbour choice); the servent applies them in
//! `servent/walker.rs`. The wire forms (the `RW` tag, the check messages) are
//! `proto::walker`'s. The full rules are in protocol/README.md, section 9.

use std::fmt;

use rand::Rng;

use super::param::{Param, StrategyError};
use crate::core::peer::PeerId;
use crate::proto::walker::WalkerTag;

/// Handshake header a servent sends when it forwards walkers as walkers and answers
/// checks. Walkers and checks go only to peers that sent it.
pub const WALKER_HEADER: &str = "X-Random-Walk";
/// Value of [`WALKER_HEADER`]: the version of the rules in protocol/README.md section 9.
pub const WALKER_VERSION: &str = "0.1";
/// Walkers when none is given: the paper's recommended 16 to 64, lowest end.
pub(crate) const DEFAULT_WALKERS: u8 = 16;
/// Steps per walker when none is given: the paper's TTL for walkers (1024).
pub(crate) const DEFAULT_MAX_STEPS: u16 = 1024;
/// Steps between checks: "every 4th step", as in the paper.
pub(crate) const DEFAULT_CHECK_EVERY: u8 = 4;

/// The walker number of a look-ahead walk's probe (the requester's own look ahead, before
/// any walker leaves): never a walker's, since k <= 255 numbers them 0..=254.
pub const PROBE_WALKER: u8 = u8::MAX;

/// How a walker's holder reaches the requester for a check (`via=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckVia {
    /// Along the walker's reverse path, hop by hop over TCP: 2 x L descriptors for a
    /// holder L hops away (section 9.4). The default: exact counts stay those of the
    /// reverse-path design, and every servent can do it.
    #[default]
    Path,
    /// Directly by UDP to the address the requester put in the walker (`RA`): one request
    /// datagram, one verdict datagram (section 9.7); the reverse path when no verdict
    /// comes in time or the requester gave no address (firewalled).
    Udp,
}

/// A random walk's parameters (`walk:k=16,steps=1024,check=4,want=1,remember=true`;
/// `via=udp` for direct checks, `look=1` to look one hop ahead, `bias=degree`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomWalk {
    /// Number of walkers, 1-255 (the walker number is one byte).
    pub walkers: u8,
    /// Steps (links crossed) per walker at most.
    pub max_steps: u16,
    /// A walker's holder checks with the requester after every this many steps (0: never;
    /// the walker then ends only by `max_steps` or a dead end).
    pub check_every: u8,
    /// Distinct results (servent ID, file index) after which checks answer "stop".
    pub want_hits: u32,
    /// A servent sends the walkers of one query to different neighbours while it can.
    pub remember_neighbours: bool,
    /// How holders check with the requester.
    pub check_via: CheckVia,
    /// `look=1`: every servent a walker reaches first also hands the Query, one hop on,
    /// to its ultrapeer neighbours whose query routing tables may match (the one-hop
    /// index Gia keeps, here from 0.6's inter-ultrapeer QRP), and a walker ends where it
    /// finds: a search covers a servent's whole neighbourhood per step for the messages
    /// of one step and the matches (protocol/README.md section 9.8).
    pub look_ahead: bool,
    /// `bias=degree`: the next neighbour is drawn with weights by its degree (its
    /// `X-Degree`; 1 when unknown) instead of uniformly, so walkers reach the
    /// well-connected servents whose tables cover the most neighbours (Gia's capacity
    /// bias, with degree for capacity).
    pub degree_bias: bool,
}

impl Default for RandomWalk {
    fn default() -> Self {
        RandomWalk {
            walkers: DEFAULT_WALKERS,
            max_steps: DEFAULT_MAX_STEPS,
            check_every: DEFAULT_CHECK_EVERY,
            want_hits: super::ring::DEFAULT_WANT_HITS,
            remember_neighbours: true,
            check_via: CheckVia::Path,
            look_ahead: false,
            degree_bias: false,
        }
    }
}

/// The look-ahead walk the strategy name `look` stands for: 8 degree-biased look-ahead
/// walkers checking every 4 steps by UDP. Measured against 16 plain walkers checking by
/// UDP on three 10,000-servent graphs (README, "Search strategies"): about a third of
/// the messages, a time to the first hit within twice a flood's.
pub fn look_ahead_walk() -> RandomWalk {
    RandomWalk {
        walkers: 8,
        check_via: CheckVia::Udp,
        look_ahead: true,
        degree_bias: true,
        ..RandomWalk::default()
    }
}

impl RandomWalk {
    pub(crate) fn from_params(params: &[Param<'_>]) -> Result<RandomWalk, StrategyError> {
        RandomWalk::from_params_over(RandomWalk::default(), params)
    }

    /// `params` over the walk `w` (the defaults of a preset).
    pub(crate) fn from_params_over(
        mut w: RandomWalk,
        params: &[Param<'_>],
    ) -> Result<RandomWalk, StrategyError> {
        for p in params {
            match p.key {
                "k" | "walkers" => w.walkers = p.int(1, u8::MAX as u64)?,
                "steps" => w.max_steps = p.int(1, u16::MAX as u64)?,
                "check" => w.check_every = p.int(0, u8::MAX as u64)?,
                "want" => w.want_hits = p.int(1, u32::MAX as u64)?,
                "remember" => w.remember_neighbours = p.boolean()?,
                "look" => w.look_ahead = p.int::<u8>(0, 1)? == 1,
                "bias" => {
                    w.degree_bias = match p.value {
                        "degree" => true,
                        "uniform" => false,
                        _ => return Err(p.bad("expected degree or uniform")),
                    }
                }
                "via" => {
                    w.check_via = match p.value {
                        "path" => CheckVia::Path,
                        "udp" => CheckVia::Udp,
                        _ => return Err(p.bad("expected path or udp")),
                    }
                }
                _ => return Err(p.unknown()),
            }
        }
        Ok(w)
    }
}

impl fmt::Display for RandomWalk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "walk:k={},steps={},check={},want={},remember={}",
            self.walkers,
            self.max_steps,
            self.check_every,
            self.want_hits,
            self.remember_neighbours
        )?;
        // `via=path` is the default and left out, so existing names stay as they were.
        if self.check_via == CheckVia::Udp {
            write!(f, ",via=udp")?;
        }
        // Likewise `look=0` and `bias=uniform`.
        if self.look_ahead {
            write!(f, ",look=1")?;
        }
        if self.degree_bias {
            write!(f, ",bias=degree")?;
        }
        Ok(())
    }
}

/// The tag for the next step, sent by a servent whose reverse path is `my_path` long.
pub(crate) fn next_tag(tag: &WalkerTag, my_path: u16) -> WalkerTag {
    WalkerTag {
        steps: tag.steps.saturating_add(1),
        steps_left: tag.steps_left.saturating_sub(1),
        sender_path: my_path,
        ..*tag
    }
}

/// Whether the servent holding the walker (it arrived with `tag`) checks with the
/// requester before the next step.
pub(crate) fn check_due(tag: &WalkerTag) -> bool {
    tag.check_every > 0 && tag.steps_left > 0 && tag.steps % u16::from(tag.check_every) == 0
}

/// Picks the neighbour a walker goes to next, or `None` when there is nowhere to go.
/// `candidates` are the neighbours that support walkers with their degrees, in a fixed
/// order (servent-ID order: the choice depends only on the RNG). The sender is left out
/// when another candidate exists; with `remember`, candidates not in `used` (where this
/// servent already sent a walker of this query) are preferred while any remain. Among
/// what is left: uniformly, or with `by_degree` with weights by degree (at least 1 each).
pub(crate) fn choose_next<R: Rng + ?Sized>(
    candidates: &[(PeerId, u32)],
    sender: Option<PeerId>,
    used: &[PeerId],
    remember: bool,
    by_degree: bool,
    rng: &mut R,
) -> Option<PeerId> {
    let mut pool: Vec<(PeerId, u32)> = candidates
        .iter()
        .copied()
        .filter(|&(p, _)| Some(p) != sender)
        .collect();
    if pool.is_empty() {
        pool = candidates.to_vec();
    }
    if remember {
        let fresh: Vec<(PeerId, u32)> = pool
            .iter()
            .copied()
            .filter(|(p, _)| !used.contains(p))
            .collect();
        if !fresh.is_empty() {
            pool = fresh;
        }
    }
    if pool.is_empty() {
        return None;
    }
    if !by_degree {
        return Some(pool[rng.gen_range(0..pool.len())].0);
    }
    let total: u64 = pool.iter().map(|&(_, d)| u64::from(d.max(1))).sum();
    let mut x = rng.gen_range(0..total);
    for &(p, d) in &pool {
        let w = u64::from(d.max(1));
        if x < w {
            return Some(p);
        }
        x -= w;
    }
    pool.last().map(|&(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn a_step_counts_up_and_checks_fall_due_every_few_steps() {
        let tag = WalkerTag {
            walker: 3,
            check_every: 4,
            remember_neighbours: true,
            look_ahead: false,
            degree_bias: false,
            steps: 8,
            steps_left: 1016,
            sender_path: 5,
        };
        let next = next_tag(&tag, 6);
        assert_eq!(
            next,
            WalkerTag {
                steps: 9,
                steps_left: 1015,
                sender_path: 6,
                ..tag
            }
        );
        assert!(check_due(&tag));
        assert!(!check_due(&next));
        assert!(!check_due(&WalkerTag {
            steps_left: 0,
            ..tag
        }));
        assert!(!check_due(&WalkerTag {
            check_every: 0,
            ..tag
        }));
        let last = WalkerTag {
            steps: u16::MAX,
            steps_left: 0,
            ..tag
        };
        assert_eq!(
            (next_tag(&last, 1).steps, next_tag(&last, 1).steps_left),
            (u16::MAX, 0),
            "saturates"
        );
    }

    #[test]
    fn choice_avoids_the_sender_and_prefers_fresh_neighbours() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let c = [(PeerId(1), 1), (PeerId(2), 1), (PeerId(3), 1)];
        for _ in 0..100 {
            assert_ne!(
                choose_next(&c, Some(PeerId(2)), &[], false, false, &mut rng),
                Some(PeerId(2))
            );
            assert_eq!(
                choose_next(&c, Some(PeerId(2)), &[PeerId(1)], true, false, &mut rng),
                Some(PeerId(3))
            );
        }
        assert_eq!(
            choose_next(
                &[(PeerId(2), 1)],
                Some(PeerId(2)),
                &[],
                true,
                false,
                &mut rng
            ),
            Some(PeerId(2)),
            "back to the sender only when it is the only choice"
        );
        assert_eq!(choose_next(&[], None, &[], true, false, &mut rng), None);
    }

    #[test]
    fn degree_bias_draws_in_proportion_to_degree() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // Degrees 1, 3 and 0 (unknown counts as 1): shares 1/5, 3/5, 1/5.
        let c = [(PeerId(1), 1), (PeerId(2), 3), (PeerId(3), 0)];
        let mut n = [0u32; 4];
        for _ in 0..10_000 {
            let p = choose_next(&c, None, &[], false, true, &mut rng).unwrap();
            n[p.0 as usize] += 1;
        }
        assert!((1_800..2_200).contains(&n[1]), "{n:?}");
        assert!((5_800..6_200).contains(&n[2]), "{n:?}");
        assert!((1_800..2_200).contains(&n[3]), "{n:?}");
        // The sender and used neighbours are left out first, as without the bias.
        for _ in 0..100 {
            assert_eq!(
                choose_next(&c, Some(PeerId(1)), &[PeerId(2)], true, true, &mut rng),
                Some(PeerId(3))
            );
        }
    }
}
