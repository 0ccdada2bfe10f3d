//! Sorted sets of u64: decoding never panics and respects its limits; and any ascending
//! set of u64 (the ids a caller passes to membership_add, say) encodes to bytes that
//! decode back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{decode_sorted_set, decode_sorted_values, encode_sorted_set, ByteReader};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (head, rest) = data.split_at(8);
    let raw_limit = u64::from_le_bytes(head.try_into().unwrap());
    // u64::MAX stands for "no limit" (every u64, so ranges may end at 2^64).
    let limit = if raw_limit == u64::MAX {
        rvf_format::NO_LIMIT
    } else {
        u128::from(raw_limit)
    };

    // Decoding arbitrary bytes.
    let mut ranges = Vec::new();
    let mut r = ByteReader::new(rest, "fuzz");
    if decode_sorted_set(&mut r, limit, |s, l| ranges.push((s, l))).is_ok() {
        let mut prev_end = 0u128;
        for (i, &(s, l)) in ranges.iter().enumerate() {
            assert!(l > 0);
            let s = u128::from(s);
            let end = s + u128::from(l);
            assert!(end <= limit);
            assert!(
                i == 0 || s > prev_end,
                "ranges are ascending and not adjacent"
            );
            prev_end = end;
        }
    }
    let max_values = raw_limit % 4096;
    let mut r = ByteReader::new(rest, "fuzz");
    if let Ok(values) = decode_sorted_values(&mut r, max_values) {
        assert!(values.len() as u64 <= max_values);
        let mut enc = Vec::new();
        encode_sorted_set(&values, &mut enc);
        let back = decode_sorted_values(&mut ByteReader::new(&enc, "fuzz"), max_values);
        assert_eq!(back, Ok(values));
    }

    // Encoding arbitrary ascending sets.
    let mut values: Vec<u64> = rest
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    values.sort_unstable();
    values.dedup();
    let mut enc = Vec::new();
    encode_sorted_set(&values, &mut enc);
    let back = decode_sorted_values(&mut ByteReader::new(&enc, "fuzz"), values.len() as u64);
    assert_eq!(back, Ok(values), "encoded set decodes back");
});
