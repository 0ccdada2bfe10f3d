//! Delta::decode: never panics, never expands past its limit; accepted deltas round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::Delta;

fuzz_target!(|data: &[u8]| {
    // The runtime passes eight values per payload byte as the limit; the first byte
    // varies it here.
    let Some((&k, payload)) = data.split_first() else {
        return;
    };
    let max = (payload.len() as u64).saturating_mul(u64::from(k % 16));
    if let Ok(d) = Delta::decode(payload, max) {
        for set in [&d.dead_slots, &d.members_added, &d.members_removed] {
            assert!(set.len() as u64 <= max);
            assert!(set.windows(2).all(|w| w[0] < w[1]), "sets are ascending");
        }
        let enc = d.encode();
        assert_eq!(Delta::decode(&enc, max), Ok(d));
    }
});
