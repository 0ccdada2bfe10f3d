//! decode_membership (MEMBERSHIP checkpoint payload): never panics, decodes at most one
//! span per two bytes; accepted payloads round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{decode_membership, encode_membership};

fuzz_target!(|data: &[u8]| {
    if let Ok((mode, spans)) = decode_membership(data) {
        assert!(spans.len() <= data.len() / 2 + 1);
        assert!(spans
            .windows(2)
            .all(|w| u128::from(w[0].last) + 1 < u128::from(w[1].first)));
        let enc = encode_membership(mode, &spans);
        assert_eq!(decode_membership(&enc), Ok((mode, spans)));
    }
});
