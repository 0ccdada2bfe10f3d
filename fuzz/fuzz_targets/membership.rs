//! decode_membership (MEMBERSHIP checkpoint payload): never panics; accepted payloads
//! round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{decode_membership, encode_membership};

fuzz_target!(|data: &[u8]| {
    let max = (data.len() as u64).saturating_mul(8);
    if let Ok((mode, ids)) = decode_membership(data, max) {
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let enc = encode_membership(mode, &ids);
        assert_eq!(decode_membership(&enc, max), Ok((mode, ids)));
    }
});
