//! Feeds arbitrary bytes to the Query and QueryHit payload decoders directly (the
//! descriptor target reaches them only behind a valid header): the first byte picks
//! which, the rest is the payload. What decodes re-encodes and decodes to the same value,
//! and reading its URNs and text never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use servent::proto::payload::{Query, QueryHit};
use servent_fuzz::bounded;

/// Fixed allocation allowance: a GGEP value may inflate to 64 KiB.
const FIXED_ALLOC: usize = 128 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&which, payload)) = data.split_first() else {
        return;
    };
    bounded(data.len(), FIXED_ALLOC, 8, || {
        let mut out = Vec::new();
        if which & 1 == 0 {
            let Ok(q) = Query::decode(payload) else {
                return;
            };
            let _ = (q.sha1_urn(), q.text_lossy(), q.max_hits());
            q.encode(&mut out);
            assert_eq!(
                Query::decode(&out).as_ref(),
                Ok(&q),
                "Query decode(encode(q)) != q"
            );
        } else {
            let Ok(hit) = QueryHit::decode(payload) else {
                return;
            };
            for r in &hit.results {
                let _ = (r.sha1_urn(), r.name_lossy());
            }
            hit.encode(&mut out);
            assert_eq!(
                QueryHit::decode(&out).as_ref(),
                Ok(&hit),
                "QueryHit decode(encode(h)) != h"
            );
        }
    })
});
