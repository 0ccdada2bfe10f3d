//! Delta::decode: never panics; each set decodes to at most one span per two payload
//! bytes (its memory follows the payload, not the values it covers); accepted deltas
//! round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::Delta;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = Delta::decode(data) {
        for set in [&d.dead_slots, &d.members_added, &d.members_removed] {
            assert!(set.len() <= data.len() / 2 + 1);
            assert!(
                set.windows(2)
                    .all(|w| u128::from(w[0].last) + 1 < u128::from(w[1].first)),
                "sets are ascending and not adjacent"
            );
        }
        let enc = d.encode();
        assert_eq!(Delta::decode(&enc), Ok(d));
    }
});
