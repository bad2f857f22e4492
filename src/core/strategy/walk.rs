//! k random walkers (Lv, Cao, Cohen, Li, Shenker, ICS 2002): k copies of the Query, each
//! handed to one neighbour chosen at random per step, checking with the requester every
//! few steps whether to go on. This file holds the parameters, the two wire forms (the
//! `RW` GGEP extension that marks a walker, the check vendor message) and the pure
//! neighbour choice; the servent applies them in `servent/walker.rs`. The full rules are
//! in protocol/README.md, section 9.

use std::fmt;

use rand::Rng;

use super::{Param, StrategyError};
use crate::core::peer::PeerId;
use crate::proto::ggep::{GgepBlock, GgepExtension};
use crate::proto::payload::{Extension, Query};

/// Handshake header a servent sends when it forwards walkers as walkers and answers
/// checks. Walkers and checks go only to peers that sent it.
pub const WALKER_HEADER: &str = "X-Random-Walk";
/// Value of [`WALKER_HEADER`]: the version of the rules in protocol/README.md section 9.
pub const WALKER_VERSION: &str = "0.1";
/// GGEP extension ID marking a Query as a walker.
pub const WALKER_GGEP_ID: &str = "RW";
/// Length of the `RW` extension's data.
pub const WALKER_TAG_LEN: usize = 9;
/// Vendor code of our vendor messages (the check exchange).
pub const CHECK_VENDOR: [u8; 4] = *b"SRVT";
/// Vendor message selector: a walker's holder asks the requester whether to go on.
pub const CHECK_REQUEST_SELECTOR: u16 = 1;
/// Vendor message selector: the requester's answer, routed back to the holder.
pub const CHECK_VERDICT_SELECTOR: u16 = 2;
/// Version of both check messages.
pub const CHECK_VERSION: u16 = 1;

/// Walkers when none is given: the paper's recommended 16 to 64, lowest end.
pub const DEFAULT_WALKERS: u8 = 16;
/// Steps per walker when none is given: the paper's TTL for walkers (1024).
pub const DEFAULT_MAX_STEPS: u16 = 1024;
/// Steps between checks: "every 4th step", as in the paper.
pub const DEFAULT_CHECK_EVERY: u8 = 4;

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
}

impl Default for RandomWalk {
    fn default() -> Self {
        RandomWalk {
            walkers: DEFAULT_WALKERS,
            max_steps: DEFAULT_MAX_STEPS,
            check_every: DEFAULT_CHECK_EVERY,
            want_hits: super::ring::DEFAULT_WANT_HITS,
            remember_neighbours: true,
        }
    }
}

impl RandomWalk {
    pub(crate) fn from_params(params: &[Param<'_>]) -> Result<RandomWalk, StrategyError> {
        let mut w = RandomWalk::default();
        for p in params {
            match p.key {
                "k" | "walkers" => w.walkers = p.int(1, u8::MAX as u64)?,
                "steps" => w.max_steps = p.int(1, u16::MAX as u64)?,
                "check" => w.check_every = p.int(0, u8::MAX as u64)?,
                "want" => w.want_hits = p.int(1, u32::MAX as u64)?,
                "remember" => w.remember_neighbours = p.boolean()?,
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
        )
    }
}

/// The `RW` extension: what a walker carries from step to step. Integers little-endian.
///
/// | byte | field |
/// |---|---|
/// | 0 | walker number, 0..k-1 |
/// | 1 | check every (steps; 0 never) |
/// | 2-3 | steps taken, counting the step that delivered it (1 at the first servent) |
/// | 4-5 | steps left after that one |
/// | 6-7 | length of the sender's reverse path to the requester (0 when the requester sends) |
/// | 8 | flags: 0x80 always set (format 1), 0x01 remember neighbours; other bits 0 |
///
/// The flags byte comes last and is never 0: a Query's extension area may end with a NUL
/// that decoders strip (LimeWire sends one), which would clip a last data byte of 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkerTag {
    pub walker: u8,
    pub check_every: u8,
    pub remember_neighbours: bool,
    pub steps: u16,
    pub steps_left: u16,
    pub sender_path: u16,
}

const FLAG_FORMAT: u8 = 0x80;
const FLAG_REMEMBER: u8 = 0x01;

impl WalkerTag {
    pub fn encode(&self) -> [u8; WALKER_TAG_LEN] {
        let mut out = [0u8; WALKER_TAG_LEN];
        out[0] = self.walker;
        out[1] = self.check_every;
        out[2..4].copy_from_slice(&self.steps.to_le_bytes());
        out[4..6].copy_from_slice(&self.steps_left.to_le_bytes());
        out[6..8].copy_from_slice(&self.sender_path.to_le_bytes());
        out[8] = FLAG_FORMAT
            | if self.remember_neighbours {
                FLAG_REMEMBER
            } else {
                0
            };
        out
    }

    /// Reads the extension's data; `None` unless it is exactly 9 bytes with the format
    /// bit set and no unknown flag bit.
    pub fn decode(data: &[u8]) -> Option<WalkerTag> {
        let d: &[u8; WALKER_TAG_LEN] = data.try_into().ok()?;
        if d[8] & FLAG_FORMAT == 0 || d[8] & !(FLAG_FORMAT | FLAG_REMEMBER) != 0 {
            return None;
        }
        Some(WalkerTag {
            walker: d[0],
            check_every: d[1],
            steps: u16::from_le_bytes([d[2], d[3]]),
            steps_left: u16::from_le_bytes([d[4], d[5]]),
            sender_path: u16::from_le_bytes([d[6], d[7]]),
            remember_neighbours: d[8] & FLAG_REMEMBER != 0,
        })
    }

    /// Finds the walker marking of a Query: `None` for a plain Query, `Some(None)` when an
    /// `RW` extension is there but malformed (or COBS/deflate encoded, which we never send).
    pub fn find(query: &Query) -> Option<Option<WalkerTag>> {
        for item in &query.extensions {
            if let Extension::Ggep(GgepBlock::Parsed(exts)) = item {
                if let Some(e) = exts.iter().find(|e| e.id == WALKER_GGEP_ID) {
                    return Some(if e.cobs || e.deflate {
                        None
                    } else {
                        WalkerTag::decode(&e.data)
                    });
                }
            }
        }
        None
    }

    /// `query` marked with this tag: an existing `RW` extension is replaced in place;
    /// otherwise a GGEP block holding only `RW` is appended to the extension area.
    pub fn apply(&self, query: &Query) -> Query {
        let mut q = query.clone();
        let data = self.encode().to_vec();
        for item in &mut q.extensions {
            if let Extension::Ggep(GgepBlock::Parsed(exts)) = item {
                if let Some(e) = exts.iter_mut().find(|e| e.id == WALKER_GGEP_ID) {
                    *e = GgepExtension::new(WALKER_GGEP_ID, data);
                    return q;
                }
            }
        }
        q.extensions.push(Extension::Ggep(GgepBlock::Parsed(vec![
            GgepExtension::new(WALKER_GGEP_ID, data),
        ])));
        q
    }

    /// The tag for the next step, sent by a servent whose reverse path is `my_path` long.
    pub fn next(&self, my_path: u16) -> WalkerTag {
        WalkerTag {
            steps: self.steps.saturating_add(1),
            steps_left: self.steps_left.saturating_sub(1),
            sender_path: my_path,
            ..*self
        }
    }

    /// Whether the servent holding the walker (it arrived with this tag) checks with the
    /// requester before the next step.
    pub fn check_due(&self) -> bool {
        self.check_every > 0 && self.steps_left > 0 && self.steps % u16::from(self.check_every) == 0
    }
}

/// The check exchange: vendor messages (0x31) with vendor `SRVT`, selector, version
/// (little-endian u16 each, the usual vendor-message layout), then the data below. Both
/// carry the walker's Query descriptor ID as their own descriptor ID, TTL 1, hops counting
/// the hops travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMessage {
    /// Selector 1, from the holder back along the walker's reverse path to the requester.
    /// Data: walker number (1), steps taken (2), holder's reverse path length (2).
    Request { walker: u8, steps: u16, path: u16 },
    /// Selector 2, from the requester forward to the holder along the path the request
    /// came. Data: walker number (1), verdict (1: 1 go on, 0 stop), distinct results the
    /// requester has (2, saturating).
    Verdict { walker: u8, go_on: bool, hits: u16 },
}

impl CheckMessage {
    pub fn walker(&self) -> u8 {
        match *self {
            CheckMessage::Request { walker, .. } | CheckMessage::Verdict { walker, .. } => walker,
        }
    }

    /// The vendor message payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(13);
        out.extend_from_slice(&CHECK_VENDOR);
        match *self {
            CheckMessage::Request {
                walker,
                steps,
                path,
            } => {
                out.extend_from_slice(&CHECK_REQUEST_SELECTOR.to_le_bytes());
                out.extend_from_slice(&CHECK_VERSION.to_le_bytes());
                out.push(walker);
                out.extend_from_slice(&steps.to_le_bytes());
                out.extend_from_slice(&path.to_le_bytes());
            }
            CheckMessage::Verdict {
                walker,
                go_on,
                hits,
            } => {
                out.extend_from_slice(&CHECK_VERDICT_SELECTOR.to_le_bytes());
                out.extend_from_slice(&CHECK_VERSION.to_le_bytes());
                out.push(walker);
                out.push(u8::from(go_on));
                out.extend_from_slice(&hits.to_le_bytes());
            }
        }
        out
    }

    /// Reads a vendor message payload: `None` when it is not one of ours (another vendor,
    /// selector or version) or is malformed (wrong length, verdict other than 0 or 1).
    pub fn decode(b: &[u8]) -> Option<CheckMessage> {
        if b.len() < 8 || b[..4] != CHECK_VENDOR {
            return None;
        }
        let selector = u16::from_le_bytes([b[4], b[5]]);
        let version = u16::from_le_bytes([b[6], b[7]]);
        if version != CHECK_VERSION {
            return None;
        }
        let d = &b[8..];
        match (selector, d.len()) {
            (CHECK_REQUEST_SELECTOR, 5) => Some(CheckMessage::Request {
                walker: d[0],
                steps: u16::from_le_bytes([d[1], d[2]]),
                path: u16::from_le_bytes([d[3], d[4]]),
            }),
            (CHECK_VERDICT_SELECTOR, 4) if d[1] <= 1 => Some(CheckMessage::Verdict {
                walker: d[0],
                go_on: d[1] == 1,
                hits: u16::from_le_bytes([d[2], d[3]]),
            }),
            _ => None,
        }
    }
}

/// Picks the neighbour a walker goes to next, or `None` when there is nowhere to go.
/// `candidates` are the neighbours that support walkers, in a fixed order (PeerId order:
/// the choice depends only on the RNG). The sender is left out when another candidate
/// exists; with `remember`, candidates not in `used` (where this servent already sent a
/// walker of this query) are preferred while any remain. Uniform among what is left.
pub fn choose_next<R: Rng + ?Sized>(
    candidates: &[PeerId],
    sender: Option<PeerId>,
    used: &[PeerId],
    remember: bool,
    rng: &mut R,
) -> Option<PeerId> {
    let mut pool: Vec<PeerId> = candidates
        .iter()
        .copied()
        .filter(|&p| Some(p) != sender)
        .collect();
    if pool.is_empty() {
        pool = candidates.to_vec();
    }
    if remember {
        let fresh: Vec<PeerId> = pool.iter().copied().filter(|p| !used.contains(p)).collect();
        if !fresh.is_empty() {
            pool = fresh;
        }
    }
    if pool.is_empty() {
        return None;
    }
    Some(pool[rng.gen_range(0..pool.len())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn tag_round_trips_and_marks_a_query() {
        let tag = WalkerTag {
            walker: 3,
            check_every: 4,
            remember_neighbours: true,
            steps: 8,
            steps_left: 1016,
            sender_path: 5,
        };
        assert_eq!(WalkerTag::decode(&tag.encode()), Some(tag));
        let q = Query::new("abc");
        assert_eq!(WalkerTag::find(&q), None);
        let marked = tag.apply(&q);
        assert_eq!(WalkerTag::find(&marked), Some(Some(tag)));
        let next = tag.next(6);
        let remarked = next.apply(&marked);
        assert_eq!(remarked.extensions.len(), 1, "replaced in place");
        assert_eq!(WalkerTag::find(&remarked), Some(Some(next)));
        assert_eq!(
            (next.steps, next.steps_left, next.sender_path),
            (9, 1015, 6)
        );
        assert!(tag.check_due());
        assert!(!next.check_due());
        let mut bad = tag.encode();
        bad[8] = 0x01;
        assert_eq!(WalkerTag::decode(&bad), None, "format bit missing");
        bad[8] = 0x82;
        assert_eq!(WalkerTag::decode(&bad), None, "unknown flag");
        assert_eq!(WalkerTag::decode(&bad[..8]), None);
    }

    #[test]
    fn check_messages_round_trip() {
        for m in [
            CheckMessage::Request {
                walker: 7,
                steps: 12,
                path: 9,
            },
            CheckMessage::Verdict {
                walker: 7,
                go_on: true,
                hits: 0,
            },
            CheckMessage::Verdict {
                walker: 0,
                go_on: false,
                hits: 3,
            },
        ] {
            assert_eq!(CheckMessage::decode(&m.encode()), Some(m));
        }
        let mut other = CheckMessage::Request {
            walker: 1,
            steps: 1,
            path: 1,
        }
        .encode();
        other[0] = b'L';
        assert_eq!(CheckMessage::decode(&other), None, "other vendor");
        assert_eq!(
            CheckMessage::decode(b"SRVT\x02\x00\x01\x00\x01\x02\x00\x00"),
            None,
            "verdict 2"
        );
    }

    #[test]
    fn choice_avoids_the_sender_and_prefers_fresh_neighbours() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let c = [PeerId(1), PeerId(2), PeerId(3)];
        for _ in 0..100 {
            assert_ne!(
                choose_next(&c, Some(PeerId(2)), &[], false, &mut rng),
                Some(PeerId(2))
            );
            assert_eq!(
                choose_next(&c, Some(PeerId(2)), &[PeerId(1)], true, &mut rng),
                Some(PeerId(3))
            );
        }
        assert_eq!(
            choose_next(&[PeerId(2)], Some(PeerId(2)), &[], true, &mut rng),
            Some(PeerId(2)),
            "back to the sender only when it is the only choice"
        );
        assert_eq!(choose_next(&[], None, &[], true, &mut rng), None);
    }
}
