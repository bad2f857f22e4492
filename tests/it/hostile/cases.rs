//! The table: every hostile input, what is sent and what the servent must do.

use super::scripts;
use super::{
    desc, ggep_ext, ggep_len, header, pong, query, sample_query_with, zlib, Case, Ctx, Family,
    Input, Must, OVER_HANDSHAKE, OVER_PAYLOAD, OVER_QUERY, SAMPLE_NAME, SAMPLE_WORD,
};

use Family::{Deflate, Descriptors, Ggep, Handshake, Http};

const fn case(family: Family, name: &'static str, input: Input, must: Must) -> Case {
    Case {
        family,
        name,
        input,
        must,
        slow: false,
        known_defect: None,
    }
}

const fn slow(family: Family, name: &'static str, input: Input) -> Case {
    Case {
        family,
        name,
        input,
        must: Must::Script,
        slow: true,
        known_defect: None,
    }
}

fn connect_with(headers: &str) -> Vec<u8> {
    format!("GNUTELLA CONNECT/0.6\r\nUser-Agent: hostile-test/1\r\n{headers}\r\n").into_bytes()
}

fn get(path: &str, headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n").into_bytes()
}

/// A GET of the sample (by the index its QueryHit gave) with this `Range`.
fn sample_get(ctx: &Ctx, range: &str) -> Vec<u8> {
    get(
        &format!("/get/{}/{SAMPLE_NAME}", ctx.sample_index),
        &format!("Range: {range}\r\n"),
    )
}

pub const CASES: &[Case] = &[
    // ----------------------------------------------------------------- handshake
    case(
        Handshake,
        "garbage first bytes",
        Input::Raw(|_| (0..64u8).map(|i| i.wrapping_mul(37) ^ 0xA5).collect()),
        Must::Silent,
    ),
    case(
        Handshake,
        "CONNECT over MAX_HANDSHAKE_LEN",
        Input::Raw(|_| {
            let mut b = b"GNUTELLA CONNECT/0.6\r\nX-Pad: ".to_vec();
            b.resize(OVER_HANDSHAKE + 100, b'a');
            b
        }),
        Must::Refuse,
    ),
    case(
        Handshake,
        "too many headers (200)",
        Input::Raw(|_| {
            let h: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
            connect_with(&h)
        }),
        Must::Refuse,
    ),
    case(
        Handshake,
        "header line without colon",
        Input::Raw(|_| connect_with("this line has no colon\r\n")),
        Must::Refuse,
    ),
    case(
        Handshake,
        "NUL bytes in a header",
        Input::Raw(|_| connect_with("X-Nul: a\0b\0c\r\n")),
        Must::Refuse,
    ),
    case(
        Handshake,
        "non-UTF-8 header value",
        Input::Raw(|_| {
            let mut b = b"GNUTELLA CONNECT/0.6\r\nUser-Agent: \xff\xfe\xc3\x28\r\n\r\n".to_vec();
            b.extend_from_slice(b"");
            b
        }),
        Must::Refuse,
    ),
    case(
        Handshake,
        "status line of 16 KiB without newline",
        Input::Raw(|_| {
            let mut b = b"GNUTELLA CONNECT/0.6".to_vec();
            b.resize(16 * 1024, b'6');
            b
        }),
        Must::Refuse,
    ),
    slow(
        Handshake,
        "CONNECT then silence (deadline)",
        Input::Script(scripts::connect_then_silence),
    ),
    slow(
        Handshake,
        "connection then silence (classification deadline)",
        Input::Script(scripts::silent_connection),
    ),
    case(
        Handshake,
        "0.6 CONNECT then a 503 third step",
        Input::Script(scripts::non_200_third_step),
        Must::Script,
    ),
    case(
        Handshake,
        "third step cut in the middle",
        Input::Script(scripts::third_step_cut),
        Must::Script,
    ),
    case(
        Handshake,
        "CONNECT block cut in the middle then EOF",
        Input::RawThenEof(|_| b"GNUTELLA CONNECT/0.6\r\nUser-Agent: hal".to_vec()),
        Must::Silent,
    ),
    case(
        Handshake,
        "peer gives our own GUID (409)",
        Input::Raw(|ctx| connect_with(&format!("GUID: {}\r\n", ctx.servent_id))),
        Must::Answer("GNUTELLA/0.6 409"),
    ),
    case(
        Handshake,
        "peer gives our own Listen-IP under another GUID",
        Input::Script(scripts::own_listen_ip),
        Must::Script,
    ),
    case(
        Handshake,
        "CONNECT/0.4",
        Input::Raw(|_| b"GNUTELLA CONNECT/0.4\n\n".to_vec()),
        Must::Answer("GNUTELLA OK"),
    ),
    case(
        Handshake,
        "CONNECT/9.9 (unknown version)",
        Input::Raw(|_| b"GNUTELLA CONNECT/9.9\r\nUser-Agent: x\r\n\r\n".to_vec()),
        // 0.6: a servent answers a newer version in its own.
        Must::Answer("GNUTELLA/0.6 200"),
    ),
    case(
        Handshake,
        "X-Try with 300 bogus hosts",
        Input::Raw(|_| {
            let hosts: Vec<String> = (0..300).map(|i| format!("10.9.{i}.1:6346")).collect();
            connect_with(&format!("X-Try: {}\r\n", hosts.join(",")))
        }),
        Must::Answer("GNUTELLA/0.6 "),
    ),
    // --------------------------------------------------------------- descriptors
    case(
        Descriptors,
        "payload length over 64 KiB",
        Input::Link(|| header(0x00, 1, 0, OVER_PAYLOAD)),
        Must::Cut("payload-too-large"),
    ),
    case(
        Descriptors,
        "payload length 4 GiB",
        Input::Link(|| header(0x80, 1, 0, u32::MAX)),
        Must::Cut("payload-too-large"),
    ),
    case(
        Descriptors,
        "truncated header then EOF",
        Input::LinkThenEof(|| header(0x00, 1, 0, 0)[..11].to_vec()),
        Must::Cut("peer-closed"),
    ),
    case(
        Descriptors,
        "unknown payload type 0x55",
        Input::Link(|| desc(0x55, 1, b"whatever")),
        Must::Drop("malformed"),
    ),
    case(
        Descriptors,
        "TTL 200",
        Input::Link(|| desc(0x80, 200, &query(b"abc", b""))),
        Must::Drop("ttl-too-high"),
    ),
    case(
        Descriptors,
        "TTL 0",
        Input::Link(|| desc(0x80, 0, &query(b"abc", b""))),
        Must::Drop("ttl-expired"),
    ),
    case(
        Descriptors,
        "Pong shorter than 14 bytes",
        Input::Link(|| desc(0x01, 1, &[1, 2, 3, 4, 5, 6, 7])),
        Must::Drop("malformed"),
    ),
    case(
        Descriptors,
        "Query without NUL",
        Input::Link(|| desc(0x80, 1, b"\0\0no terminator here")),
        Must::Drop("malformed"),
    ),
    case(
        Descriptors,
        "Query over 4 KiB",
        Input::Link(|| {
            let text = vec![b'a'; OVER_QUERY];
            desc(0x80, 1, &query(&text, b""))
        }),
        Must::Drop("limit"),
    ),
    case(
        Descriptors,
        "Query of 1 byte",
        Input::Link(|| desc(0x80, 1, &[0])),
        Must::Drop("malformed"),
    ),
    case(
        Descriptors,
        "QueryHit announcing more results than it holds",
        Input::Link(|| {
            let mut p = vec![5u8]; // five results announced
            p.extend(6346u16.to_le_bytes());
            p.extend([10, 0, 0, 1]);
            p.extend(0u32.to_le_bytes());
            p.extend(0u32.to_le_bytes()); // one result: index, size, name, NUL NUL
            p.extend(10u32.to_le_bytes());
            p.extend(b"one.mp3\0\0");
            p.extend([9u8; 16]); // servent ID
            desc(0x81, 3, &p)
        }),
        Must::Drop("malformed"),
    ),
    case(
        Descriptors,
        "Push too short",
        Input::Link(|| desc(0x40, 3, &[1u8; 10])),
        Must::Drop("malformed"),
    ),
    case(
        Descriptors,
        "Bye from a peer",
        Input::Link(|| {
            let mut p = 200u16.to_le_bytes().to_vec();
            p.extend(b"Shutting down\r\n\0");
            desc(0x02, 1, &p)
        }),
        Must::Cut("bye"),
    ),
    case(
        Descriptors,
        "a flood of 10,000 unique Pings",
        Input::Script(scripts::ping_flood),
        Must::Script,
    ),
    case(
        Descriptors,
        "a Pong with no route",
        Input::Link(|| desc(0x01, 3, &pong(b""))),
        Must::Drop("no-route"),
    ),
    case(
        Descriptors,
        "a replayed Query (duplicate)",
        Input::Link(|| {
            let q = desc(0x80, 2, &query(b"replayed words", b""));
            [q.clone(), q].concat()
        }),
        Must::Drop("duplicate"),
    ),
    case(
        Descriptors,
        "a QRP (0x30) blob",
        Input::Link(|| desc(0x30, 1, &[0x01, 0xFF, 0xFF, 0xFF, 0x00, 0x10, 0x07, 0x33])),
        Must::Keep,
    ),
    case(
        Descriptors,
        "a QRP PATCH with a lying size",
        Input::Link(|| desc(0x30, 1, &[0x02, 1, 1, 0, 4, 0xAA, 0xBB])),
        Must::Keep,
    ),
    case(
        Descriptors,
        "a vendor message (0x31)",
        Input::Link(|| desc(0x31, 1, b"LIME\x0b\x00\x01\x00garbage")),
        Must::Keep,
    ),
    case(
        Descriptors,
        "TTL 10 with hops 10",
        Input::Link(|| {
            let p = query(b"hops", b"");
            let mut d = header(0x80, 10, 10, p.len() as u32);
            d.extend(p);
            d
        }),
        Must::Drop("ttl-too-high"),
    ),
    // ---------------------------------------------------------------------- GGEP
    case(
        Ggep,
        "bad GGEP magic in a Pong",
        Input::Link(|| desc(0x01, 3, &pong(&[0xC4, 0x82, b'D', b'U', 0x41, 1]))),
        Must::Drop("no-route"),
    ),
    case(
        Ggep,
        "GGEP length beyond the payload (Query)",
        Input::Link(|| sample_query_with(&[0xC3, 0x82, b'H', b'X', 0x80 | 20, 0x40, 1, 2])),
        Must::Hit,
    ),
    case(
        Ggep,
        "GGEP 4-byte length encoding",
        Input::Link(|| sample_query_with(&[0xC3, 0x82, b'X', b'Y', 0x81, 0x81, 0x81, 0x41, 7])),
        Must::Hit,
    ),
    case(
        Ggep,
        "GGEP COBS flag with bad data",
        Input::Link(|| {
            sample_query_with(
                &[
                    &[0xC3][..],
                    &ggep_ext(0x80 | 0x40, b"XY", &ggep_len(3), &[9, 0, 0]),
                ]
                .concat(),
            )
        }),
        Must::Hit,
    ),
    case(
        Ggep,
        "GGEP deflate flag with garbage",
        Input::Link(|| {
            sample_query_with(
                &[
                    &[0xC3][..],
                    &ggep_ext(0x80 | 0x20, b"XY", &ggep_len(6), b"\x01\x02garb"),
                ]
                .concat(),
            )
        }),
        Must::Hit,
    ),
    case(
        Ggep,
        "GGEP ID length 0",
        Input::Link(|| sample_query_with(&[0xC3, 0x80, 0x41, 1])),
        Must::Hit,
    ),
    case(
        Ggep,
        "GGEP last-extension flag missing at the end",
        Input::Link(|| {
            sample_query_with(&[&[0xC3][..], &ggep_ext(0x00, b"XY", &ggep_len(1), b"z")].concat())
        }),
        Must::Hit,
    ),
    case(
        Ggep,
        "GGEP length 0 with the deflate flag",
        Input::Link(|| {
            sample_query_with(
                &[
                    &[0xC3][..],
                    &ggep_ext(0x80 | 0x20, b"XY", &ggep_len(0), b""),
                ]
                .concat(),
            )
        }),
        Must::Hit,
    ),
    case(
        Ggep,
        "GGEP huge H extension in a Pong (60 KB)",
        Input::Link(|| {
            let data = vec![0x55u8; 60_000];
            desc(
                0x01,
                3,
                &pong(
                    &[
                        &[0xC3][..],
                        &ggep_ext(0x80, b"H", &ggep_len(data.len()), &data),
                    ]
                    .concat(),
                ),
            )
        }),
        Must::Drop("no-route"),
    ),
    case(
        Ggep,
        "GGEP H nested inside a deflated H",
        Input::Link(|| {
            let inner = [
                &[0xC3][..],
                &ggep_ext(0x80, b"H", &ggep_len(4), &[1, 2, 3, 4]),
            ]
            .concat();
            let z = zlib(&[inner.repeat(50)].concat());
            sample_query_with(
                &[
                    &[0xC3][..],
                    &ggep_ext(0x80 | 0x20, b"H", &ggep_len(z.len()), &z),
                ]
                .concat(),
            )
        }),
        Must::Hit,
    ),
    case(
        Ggep,
        "GGEP deflate bomb in a Pong (1 MB inflated)",
        Input::Link(|| {
            let z = zlib(&vec![0u8; 1 << 20]);
            desc(
                0x01,
                3,
                &pong(
                    &[
                        &[0xC3][..],
                        &ggep_ext(0x80 | 0x20, b"DU", &ggep_len(z.len()), &z),
                    ]
                    .concat(),
                ),
            )
        }),
        Must::Drop("no-route"),
    ),
    case(
        Ggep,
        "200 one-byte GGEP extensions in a Pong",
        Input::Link(|| {
            let mut b = vec![0xC3];
            for i in 0..200 {
                let last = if i == 199 { 0x80 } else { 0 };
                b.extend(ggep_ext(last, b"Z", &ggep_len(1), &[i as u8]));
            }
            desc(0x01, 3, &pong(&b))
        }),
        Must::Drop("no-route"),
    ),
    // ------------------------------------------------------------------- deflate
    case(
        Deflate,
        "not-zlib bytes",
        Input::Deflated(|| b"this is not a zlib stream at all, not even close".to_vec()),
        Must::Cut("bad-compression"),
    ),
    case(
        Deflate,
        "zlib stream cut in the middle then EOF",
        Input::Script(scripts::zlib_cut),
        Must::Script,
    ),
    case(
        Deflate,
        "decompression bomb: 100 MB of zeros in one stream",
        Input::Script(scripts::zero_bomb),
        Must::Script,
    ),
    case(
        Deflate,
        "decompression bomb: 100 MB of 0xFF",
        Input::Deflated(|| zlib(&vec![0xFFu8; 100 << 20])),
        Must::Cut("payload-too-large"),
    ),
    case(
        Deflate,
        "inflates to a header claiming a 1 GB payload",
        Input::Compressed(|| header(0x80, 1, 0, 1 << 30)),
        Must::Cut("payload-too-large"),
    ),
    case(
        Deflate,
        "bad Adler-32 checksum",
        Input::Deflated(|| {
            let mut z = zlib(&desc(0x80, 1, &query(b"checksum", b"")));
            let n = z.len();
            z[n - 1] ^= 0xFF;
            z
        }),
        Must::Cut("bad-compression"),
    ),
    case(
        Deflate,
        "stream that needs a preset dictionary",
        Input::Deflated(|| vec![0x78, 0xBB, 0, 0, 0, 1, 0x4B, 0x4C, 0x4A, 0x06, 0x00]),
        Must::Cut("bad-compression"),
    ),
    case(
        Deflate,
        "raw deflate without the zlib header",
        Input::Deflated(|| {
            let mut z = zlib(b"raw deflate data for a hostile test");
            z.drain(..2);
            z
        }),
        Must::Cut("bad-compression"),
    ),
    case(
        Deflate,
        "gzip instead of zlib",
        Input::Deflated(|| vec![0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4]),
        Must::Cut("bad-compression"),
    ),
    case(
        Deflate,
        "stored block whose LEN and NLEN disagree",
        Input::Deflated(|| vec![0x78, 0x01, 0x00, 0x05, 0x00, 0x00, 0x00, b'a', b'b']),
        Must::Cut("bad-compression"),
    ),
    case(
        Deflate,
        "a malformed Query inside a good stream",
        Input::Compressed(|| desc(0x80, 1, b"\0\0no NUL")),
        Must::Drop("malformed"),
    ),
    // ---------------------------------------------------------------------- HTTP
    case(
        Http,
        "request line over the limit (64 KiB)",
        Input::Raw(|_| get(&format!("/{}", "a".repeat(64 * 1024)), "")),
        Must::Answer("HTTP/1.1 414"),
    ),
    case(
        Http,
        "10,000 headers",
        Input::Raw(|_| {
            let h: String = (0..10_000).map(|i| format!("X-{i}: v\r\n")).collect();
            get("/status", &h)
        }),
        Must::Answer("HTTP/1.1 431"),
    ),
    case(
        Http,
        "header without colon",
        Input::Raw(|_| get("/status", "no colon here\r\n")),
        Must::Answer("HTTP/1.1 400"),
    ),
    case(
        Http,
        "Range: bytes=abc",
        Input::Raw(|ctx| sample_get(ctx, "bytes=abc")),
        // RFC 9110 14.2: an invalid range set is ignored (protocol/README.md 10).
        Must::AnswerWith("HTTP/1.1 200", "Content-Length", "100000"),
    ),
    case(
        Http,
        "Range: bytes=5-1",
        Input::Raw(|ctx| sample_get(ctx, "bytes=5-1")),
        // RFC 9110 14.2: an invalid range set is ignored (protocol/README.md 10).
        Must::AnswerWith("HTTP/1.1 200", "Content-Length", "100000"),
    ),
    case(
        Http,
        "Range: bytes=-0",
        Input::Raw(|ctx| sample_get(ctx, "bytes=-0")),
        Must::Answer("HTTP/1.1 416"),
    ),
    case(
        Http,
        "range past the end",
        Input::Raw(|ctx| sample_get(ctx, "bytes=900000-900010")),
        Must::AnswerWith("HTTP/1.1 416", "Content-Range", "bytes */100000"),
    ),
    case(
        Http,
        "1,000 comma-separated ranges",
        Input::Raw(|ctx| {
            let r: Vec<String> = (0..1000).map(|i| format!("{i}-{i}")).collect();
            sample_get(ctx, &format!("bytes={}", r.join(",")))
        }),
        // More than MAX_RANGES (32): ignored as a whole, one 200 (bounded work).
        Must::AnswerWith("HTTP/1.1 200", "Content-Length", "100000"),
    ),
    case(
        Http,
        "non-ASCII path",
        Input::Raw(|_| b"GET /get/0/\xc3\xa9\xff HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        Must::Answer("HTTP/1.1 400"),
    ),
    case(
        Http,
        "../../etc/passwd",
        Input::Raw(|_| get("/get/0/../../etc/passwd", "")),
        Must::Answer("HTTP/1.1 404"),
    ),
    case(
        Http,
        "%2e%2e/ traversal",
        Input::Raw(|_| get("/get/0/%2e%2e/%2e%2e/etc/passwd", "")),
        Must::Answer("HTTP/1.1 404"),
    ),
    case(
        Http,
        "GET for a non-existent index",
        Input::Raw(|_| get("/get/4000000000/nothing.mp3", "")),
        Must::Answer("HTTP/1.1 404"),
    ),
    case(
        Http,
        "OPTIONS",
        Input::Raw(|_| b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        Must::AnswerWith("HTTP/1.1 405", "Allow", "GET"),
    ),
    case(
        Http,
        "PUT",
        Input::Raw(|_| {
            b"PUT /get/0/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".to_vec()
        }),
        Must::AnswerWith("HTTP/1.1 405", "Allow", "GET"),
    ),
    case(
        Http,
        "DELETE",
        Input::Raw(|_| b"DELETE /get/0/x HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        Must::AnswerWith("HTTP/1.1 405", "Allow", "GET"),
    ),
    case(
        Http,
        "TRACE",
        Input::Raw(|_| b"TRACE / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        Must::AnswerWith("HTTP/1.1 405", "Allow", "GET"),
    ),
    case(
        Http,
        "CONNECT as an HTTP method",
        Input::Raw(|_| b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec()),
        Must::AnswerWith("HTTP/1.1 405", "Allow", "GET"),
    ),
    slow(
        Http,
        "a head sent one byte per second (head deadline)",
        Input::Script(scripts::slow_head),
    ),
    case(
        Http,
        "300 idle keep-alive connections (lock-out)",
        Input::Script(scripts::idle_keep_alive_lockout),
        Must::Script,
    ),
    case(
        Http,
        "300 idle connections from one address",
        Input::Script(scripts::one_address_flood),
        Must::Script,
    ),
    case(
        Http,
        "connection reset right after connect",
        Input::Script(scripts::reset_after_connect),
        Must::Script,
    ),
    case(
        Http,
        "Content-Length: 99999999999 on GET",
        Input::Raw(|_| {
            let mut b = get("/status", "Content-Length: 99999999999\r\n");
            b.extend(vec![b'x'; 64 * 1024]);
            b
        }),
        Must::Answer("HTTP/1.1 "),
    ),
    case(
        Http,
        "chunked body with a bad chunk size",
        Input::Raw(|_| {
            let mut b = get("/status", "Transfer-Encoding: chunked\r\n");
            b.extend(b"zz\r\nhello\r\n0\r\n\r\n");
            b
        }),
        Must::Answer("HTTP/1.1 "),
    ),
    case(
        Http,
        "HTTP/0.9-style request",
        Input::Raw(|_| b"GET /status\r\n\r\n".to_vec()),
        Must::Answer("HTTP/1.1 400"),
    ),
    case(
        Http,
        "HTTP/2 preface",
        Input::Raw(|_| b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        Must::Silent,
    ),
    case(
        Http,
        "/status from loopback",
        Input::Raw(|_| get("/status", "")),
        Must::AnswerWith("HTTP/1.1 200", "Content-Type", "application/json"),
    ),
    case(
        Http,
        "100 pipelined requests in one write",
        Input::Script(scripts::pipelined),
        Must::Script,
    ),
    case(
        Http,
        "a query string and fragment on /status",
        Input::Raw(|_| get(&format!("/status?{}#frag", SAMPLE_WORD.repeat(100)), "")),
        Must::Answer("HTTP/1.1 200"),
    ),
];
