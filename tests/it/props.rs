//! Property tests of the descriptor codec: every descriptor in canonical form survives
//! encode -> check -> parse; framing and decoding never panic on arbitrary bytes; a stream
//! fed in pieces yields the same descriptors as fed whole; walker tags and check messages
//! round-trip, and their decoders refuse arbitrary bytes without panicking.
//!
//! Canonical forms (what a decoder can give back), read off the decoders:
//! - A trailing GGEP block (Ping, Pong, Push) is `Parsed` with at least one extension, or
//!   `Raw` bytes that do not parse as exactly one block.
//! - Extension items: a `Urn` starts with `urn:` (any case) and is longer than 4 bytes;
//!   `Other` does not start with 0xC3 and is not such a URN; neither contains 0x1C; a `Raw`
//!   GGEP item starts with 0xC3, does not parse, and is the last item; a lone empty `Other`
//!   is the empty list. In a QueryHit result nothing may contain NUL (the area ends at one);
//!   a Query's area must not end with NUL (one trailing NUL is taken as LimeWire's end mark).
//! - Texts (query text, Bye reason, result names) contain no NUL.
//! - Trailer: private data does not start with 0xC3 without a GGEP block, and follows no
//!   `Raw` block.

use std::net::Ipv4Addr;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use servent::proto::error::FrameError;
use servent::proto::frame::{check, parse, Check};
use servent::proto::ggep::{GgepBlock, GgepExtension, GGEP_MAGIC};
use servent::proto::limits::{HEADER_LEN, MAX_PAYLOAD_LEN};
use servent::proto::payload::extension::{encode_area, Extension, EXTENSION_SEPARATOR};
use servent::proto::payload::{Bye, HitResult, Ping, Pong, Push, Query, QueryHit, Trailer};
use servent::proto::walker::{CheckMessage, WalkerTag, WALKER_TAG_LEN};
use servent::proto::{Descriptor, Guid, Payload, PayloadType};

fn guid() -> impl Strategy<Value = Guid> {
    any::<[u8; 16]>().prop_map(Guid)
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn bytes_without(forbidden: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max).prop_map(move |mut b| {
        b.retain(|x| !forbidden.contains(x));
        b
    })
}

/// A parsed GGEP block of 1-3 extensions; `nul_free` for a QueryHit result's area.
fn ggep_parsed(nul_free: bool) -> impl Strategy<Value = GgepBlock> {
    let forbidden: &'static [u8] = if nul_free { &[0] } else { &[] };
    let ext = (
        "[!-~]{1,15}",
        any::<bool>(),
        any::<bool>(),
        bytes_without(forbidden, 100),
    )
        .prop_map(|(id, cobs, deflate, data)| GgepExtension {
            id,
            cobs,
            deflate,
            data,
        });
    vec(ext, 1..4).prop_map(GgepBlock::Parsed)
}

/// Bytes kept Raw when they fill the rest of a payload: they do not parse as one block.
fn ggep_raw_tail() -> impl Strategy<Value = GgepBlock> {
    vec(any::<u8>(), 1..40)
        .prop_filter("parses as a block", |b| {
            GgepBlock::parse(b).map_or(true, |(_, used)| used != b.len())
        })
        .prop_map(GgepBlock::Raw)
}

/// Raw where a GGEP block is recognised by its magic (extension area, trailer).
fn ggep_raw_magic(nul_free: bool) -> impl Strategy<Value = GgepBlock> {
    let forbidden: &'static [u8] = if nul_free { &[0] } else { &[] };
    bytes_without(forbidden, 30)
        .prop_map(|b| [&[GGEP_MAGIC][..], &b].concat())
        .prop_filter("parses as a block", |b| GgepBlock::parse(b).is_err())
        .prop_map(GgepBlock::Raw)
}

fn trailing_ggep() -> impl Strategy<Value = Option<GgepBlock>> {
    option::of(prop_oneof![ggep_parsed(false), ggep_raw_tail()])
}

fn is_urn(b: &[u8]) -> bool {
    b.len() > 4 && b[..4].eq_ignore_ascii_case(b"urn:") && std::str::from_utf8(b).is_ok()
}

fn extension_area(nul_free: bool) -> impl Strategy<Value = Vec<Extension>> {
    let forbidden: &'static [u8] = if nul_free {
        &[0, EXTENSION_SEPARATOR]
    } else {
        &[EXTENSION_SEPARATOR]
    };
    let item = prop_oneof![
        "[uU][rR][nN]:[^\\x00\\x1C]{1,40}".prop_map(Extension::Urn),
        ggep_parsed(nul_free).prop_map(Extension::Ggep),
        bytes_without(forbidden, 30)
            .prop_filter("not other", |b| b.first() != Some(&GGEP_MAGIC)
                && !is_urn(b))
            .prop_map(Extension::Other),
    ];
    let last = option::of(ggep_raw_magic(nul_free).prop_map(Extension::Ggep));
    (vec(item, 0..4), last)
        .prop_map(|(mut items, last)| {
            items.extend(last);
            items
        })
        .prop_filter(
            "a lone empty item decodes as none",
            |items| !matches!(&items[..], [Extension::Other(b)] if b.is_empty()),
        )
}

fn query() -> impl Strategy<Value = Query> {
    (any::<u16>(), bytes_without(&[0], 60), extension_area(false))
        .prop_map(|(flags, text, extensions)| Query {
            flags,
            text,
            extensions,
        })
        .prop_filter("area ends with NUL", |q| {
            let mut area = Vec::new();
            encode_area(&q.extensions, &mut area);
            area.last() != Some(&0)
        })
}

fn trailer() -> impl Strategy<Value = Trailer> {
    let ggep_and_private = prop_oneof![
        bytes_without(&[], 20)
            .prop_filter("starts with GGEP magic", |p| p.first() != Some(&GGEP_MAGIC))
            .prop_map(|p| (None, p)),
        (ggep_parsed(false), bytes_without(&[], 20)).prop_map(|(g, p)| (Some(g), p)),
        ggep_raw_magic(false).prop_map(|g| (Some(g), Vec::new())),
    ];
    (any::<[u8; 4]>(), vec(any::<u8>(), 0..6), ggep_and_private).prop_map(
        |(vendor, open_data, (ggep, private))| Trailer {
            vendor,
            open_data,
            ggep,
            private,
        },
    )
}

fn query_hit() -> impl Strategy<Value = QueryHit> {
    let result = (
        any::<u32>(),
        any::<u32>(),
        bytes_without(&[0], 40),
        extension_area(true),
    )
        .prop_map(|(index, size, name, extensions)| HitResult {
            index,
            size,
            name,
            extensions,
        });
    (
        any::<u16>(),
        ipv4(),
        any::<u32>(),
        vec(result, 0..10),
        option::of(trailer()),
        guid(),
    )
        .prop_map(|(port, ip, speed, results, trailer, servent_id)| QueryHit {
            port,
            ip,
            speed,
            results,
            trailer,
            servent_id,
        })
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        trailing_ggep().prop_map(|ggep| Payload::Ping(Ping { ggep })),
        (
            any::<u16>(),
            ipv4(),
            any::<u32>(),
            any::<u32>(),
            trailing_ggep()
        )
            .prop_map(
                |(port, ip, files_shared, kbytes_shared, ggep)| Payload::Pong(Pong {
                    port,
                    ip,
                    files_shared,
                    kbytes_shared,
                    ggep,
                })
            ),
        (any::<u16>(), "[^\\x00]{0,40}")
            .prop_map(|(code, reason)| Payload::Bye(Bye { code, reason })),
        (guid(), any::<u32>(), ipv4(), any::<u16>(), trailing_ggep()).prop_map(
            |(servent_id, file_index, ip, port, ggep)| Payload::Push(Push {
                servent_id,
                file_index,
                ip,
                port,
                ggep,
            })
        ),
        query().prop_map(Payload::Query),
        query_hit().prop_map(Payload::QueryHit),
        (
            prop::sample::select(
                &[
                    PayloadType::Qrp,
                    PayloadType::Vendor,
                    PayloadType::StandardVendor
                ][..]
            ),
            vec(any::<u8>(), 0..100)
        )
            .prop_map(|(kind, bytes)| Payload::Opaque { kind, bytes }),
    ]
}

fn descriptor() -> impl Strategy<Value = Descriptor> {
    (guid(), any::<u8>(), any::<u8>(), payload())
        .prop_map(|(guid, ttl, hops, payload)| Descriptor::new(guid, ttl, hops, payload))
}

/// A header announcing exactly `payload`, with any type byte (known ones more often).
fn frame_with_random_payload() -> impl Strategy<Value = Vec<u8>> {
    let known: Vec<u8> = PayloadType::ALL.iter().map(|t| t.to_byte()).collect();
    let type_byte = prop_oneof![3 => prop::sample::select(known), 1 => any::<u8>()];
    (
        guid(),
        type_byte,
        any::<u8>(),
        any::<u8>(),
        vec(any::<u8>(), 0..300),
    )
        .prop_map(|(guid, kind, ttl, hops, payload)| {
            let mut out = guid.0.to_vec();
            out.extend([kind, ttl, hops]);
            out.extend((payload.len() as u32).to_le_bytes());
            out.extend(payload);
            out
        })
}

/// What a reader does with a buffer: frame and parse until more bytes are needed.
fn drain(buf: &mut Vec<u8>, out: &mut Vec<Descriptor>) {
    while let Check::Complete(n) = check(buf).expect("valid stream frames") {
        out.push(parse(&buf[..n]).expect("valid descriptor parses"));
        buf.drain(..n);
    }
}

/// Frames and parses whatever `buf` holds; the invariants hold for any input.
fn check_and_parse_any(buf: &[u8]) -> Result<(), TestCaseError> {
    match check(buf) {
        Ok(Check::Complete(n)) => {
            prop_assert!((HEADER_LEN..=buf.len()).contains(&n));
            if let Ok(d) = parse(&buf[..n]) {
                // Whatever parses re-encodes to a frame that parses again.
                if let Ok(bytes) = d.rebuilt().to_bytes() {
                    prop_assert_eq!(check(&bytes), Ok(Check::Complete(bytes.len())));
                    prop_assert!(parse(&bytes).is_ok());
                }
            }
        }
        Ok(Check::Incomplete) => {
            if buf.len() >= HEADER_LEN {
                let len = u32::from_le_bytes([buf[19], buf[20], buf[21], buf[22]]);
                prop_assert!(HEADER_LEN + len as usize > buf.len());
            }
        }
        Err(FrameError::PayloadTooLarge { len, .. }) => {
            prop_assert!(len as usize > MAX_PAYLOAD_LEN)
        }
    }
    let _ = parse(buf);
    Ok(())
}

proptest! {
    #[test]
    fn canonical_descriptors_round_trip(d in descriptor()) {
        let bytes = d.rebuilt().to_bytes().expect("small descriptors encode");
        prop_assert_eq!(check(&bytes), Ok(Check::Complete(bytes.len())));
        prop_assert_eq!(parse(&bytes), Ok(d));
    }

    #[test]
    fn arbitrary_bytes_never_panic(buf in vec(any::<u8>(), 0..2000)) {
        check_and_parse_any(&buf)?;
    }

    #[test]
    fn valid_headers_with_random_payloads_never_panic(
        frame in frame_with_random_payload(),
        extra in vec(any::<u8>(), 0..8),
    ) {
        let n = frame.len();
        prop_assert_eq!(check(&frame), Ok(Check::Complete(n)));
        check_and_parse_any(&frame)?;
        let longer = [&frame[..], &extra].concat();
        prop_assert_eq!(check(&longer), Ok(Check::Complete(n)));
        prop_assert_eq!(check(&frame[..n - 1]), Ok(Check::Incomplete));
    }

    #[test]
    fn length_field_decides_framing(head in vec(any::<u8>(), 19), len in any::<u32>()) {
        let mut buf = head;
        buf.extend(len.to_le_bytes());
        let got = check(&buf);
        if len as usize > MAX_PAYLOAD_LEN {
            prop_assert_eq!(got, Err(FrameError::PayloadTooLarge { len, limit: MAX_PAYLOAD_LEN }));
        } else if len == 0 {
            prop_assert_eq!(got, Ok(Check::Complete(HEADER_LEN)));
        } else {
            prop_assert_eq!(got, Ok(Check::Incomplete));
        }
    }

    #[test]
    fn stream_split_anywhere_yields_same_descriptors(ds in vec(descriptor(), 1..4)) {
        let stream: Vec<u8> = ds.iter().flat_map(|d| d.rebuilt().to_bytes().expect("encodes")).collect();
        for at in 0..=stream.len() {
            let (mut buf, mut got) = (Vec::new(), Vec::new());
            for piece in [&stream[..at], &stream[at..]] {
                buf.extend_from_slice(piece);
                drain(&mut buf, &mut got);
            }
            prop_assert!(buf.is_empty());
            prop_assert_eq!(&got, &ds);
        }
        let (mut buf, mut got) = (Vec::new(), Vec::new());
        for &b in &stream {
            buf.push(b);
            drain(&mut buf, &mut got);
        }
        prop_assert_eq!(&got, &ds);
    }
}

fn walker_tag() -> impl Strategy<Value = WalkerTag> {
    (any::<[u8; 2]>(), any::<[bool; 3]>(), any::<[u16; 3]>()).prop_map(|(b, f, w)| WalkerTag {
        walker: b[0],
        check_every: b[1],
        remember_neighbours: f[0],
        look_ahead: f[1],
        degree_bias: f[2],
        steps: w[0],
        steps_left: w[1],
        sender_path: w[2],
    })
}

fn check_message() -> impl Strategy<Value = CheckMessage> {
    prop_oneof![
        (any::<u8>(), any::<u16>(), any::<u16>()).prop_map(|(walker, steps, path)| {
            CheckMessage::Request {
                walker,
                steps,
                path,
            }
        }),
        (any::<u8>(), any::<bool>(), any::<u16>()).prop_map(|(walker, go_on, hits)| {
            CheckMessage::Verdict {
                walker,
                go_on,
                hits,
            }
        }),
    ]
}

proptest! {
    #[test]
    fn walker_tags_round_trip_through_bytes_and_queries(tag in walker_tag(), q in query()) {
        let data = tag.encode();
        prop_assert_eq!(data.len(), WALKER_TAG_LEN);
        prop_assert_ne!(data[WALKER_TAG_LEN - 1], 0, "the flags byte is never 0");
        prop_assert_eq!(WalkerTag::decode(&data), Ok(tag));
        // A raw (unparsed) GGEP item must stay last, so a tag appended after one would be
        // read back as part of it: we only append a tag to our own Queries, which have
        // none (a relay replaces the tag in place).
        prop_assume!(!q
            .extensions
            .iter()
            .any(|e| matches!(e, Extension::Ggep(GgepBlock::Raw(_)))));
        let marked = tag.apply(&q);
        prop_assert_eq!(WalkerTag::find(&marked), Some(Ok(tag)));
        // The walker Query survives the wire, and re-marking replaces the tag in place.
        let d = Descriptor::new(Guid([7; 16]), 1, 1, Payload::Query(marked.clone()));
        let back = parse(&d.to_bytes().expect("small queries encode"));
        prop_assert_eq!(back.map(|b| b.payload), Ok(d.payload));
        prop_assert_eq!(tag.apply(&marked), marked);
    }

    #[test]
    fn check_messages_round_trip(m in check_message()) {
        prop_assert_eq!(CheckMessage::decode(&m.encode()), Ok(m));
    }

    #[test]
    fn walker_decoders_never_panic(buf in vec(any::<u8>(), 0..64)) {
        if let Ok(tag) = WalkerTag::decode(&buf) {
            prop_assert_eq!(&tag.encode()[..], &buf[..]);
        }
        if let Ok(m) = CheckMessage::decode(&buf) {
            prop_assert_eq!(m.encode(), buf);
        }
    }
}

#[test]
fn huge_length_is_a_frame_error() {
    let mut buf = vec![0u8; HEADER_LEN];
    buf[16] = 0x80;
    buf[19..].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = Err(FrameError::PayloadTooLarge {
        len: u32::MAX,
        limit: MAX_PAYLOAD_LEN,
    });
    assert_eq!(check(&buf), err);
    buf.extend([0; 100]);
    assert_eq!(check(&buf), err);
    assert_eq!(check(&buf[..HEADER_LEN - 1]), Ok(Check::Incomplete));
}
