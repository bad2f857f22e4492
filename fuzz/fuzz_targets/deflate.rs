//! Feeds arbitrary bytes to a compressed link's decoder as the link does: the inflater
//! (at most `INFLATE_CHUNK` bytes per call, however much the input claims to hold) and the
//! descriptor framing behind it. The first byte picks the mode: odd, the rest is taken as
//! the peer's raw zlib stream; even, the rest is compressed by our own deflater in two
//! sync-flushed batches and must inflate back to exactly the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::net::compress::{Deflater, Inflater, INFLATE_CHUNK};
use servent::proto::frame::{check, Check};
use servent_fuzz::bounded;

/// Fixed allocation allowance: the inflater's state (~40 KiB) and one output chunk on top
/// of a partial frame, grown by doubling.
const FIXED_ALLOC: usize = 4 * INFLATE_CHUNK;

/// Inflates `wire` to the end the way a link does, returning what came out (bounded: a
/// bomb stops at `cap` bytes).
fn inflate_all(wire: &[u8], cap: usize) -> Result<Vec<u8>, ()> {
    let mut inf = Inflater::default();
    let mut out = Vec::new();
    let mut input = wire;
    // Each call consumes input or produces output; 4096 calls bound a 64 MiB bomb.
    for _ in 0..4096 {
        let before = out.len();
        let used = inf.inflate(input, &mut out).map_err(|_| ())?;
        assert!(out.len() - before <= INFLATE_CHUNK, "one call inflated too much");
        input = &input[used..];
        // The link frames descriptors out of what was inflated and keeps the rest.
        let mut framed = 0;
        while let Ok(Check::Complete(n)) = check(&out[framed..]) {
            framed += n;
        }
        if out.len() >= cap || (used == 0 && out.len() == before) {
            break;
        }
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 1 {
        bounded(rest.len(), FIXED_ALLOC, 8, || {
            let _ = inflate_all(rest, 2 * INFLATE_CHUNK);
        });
    } else {
        let mut d = Deflater::default();
        let mut wire = Vec::new();
        let cut = usize::from(mode) * rest.len() / 256;
        d.compress(&rest[..cut], &mut wire).unwrap();
        d.compress(&rest[cut..], &mut wire).unwrap();
        let back = inflate_all(&wire, usize::MAX).expect("our own stream inflates");
        assert_eq!(back, rest, "inflate(deflate(x)) != x");
    }
});
