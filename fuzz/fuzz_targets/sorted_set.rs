//! Sorted sets of u64: decoding never panics, respects its value limit, and yields at
//! most one span per two input bytes (the bound that keeps a hostile set's memory
//! small, however many values its spans cover); any ascending set of u64 (the ids a
//! caller passes to membership_add, say) encodes to bytes that decode back to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{decode_spans, encode_sorted_set, encode_spans, ByteReader, Span};

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
    let mut r = ByteReader::new(rest, "fuzz");
    if let Ok(spans) = decode_spans(&mut r, limit) {
        assert!(spans.len() <= rest.len() / 2 + 1, "one span per two bytes at most");
        for (i, s) in spans.iter().enumerate() {
            assert!(s.first <= s.last);
            assert!(u128::from(s.last) < limit);
            assert!(
                i == 0 || u128::from(spans[i - 1].last) + 1 < u128::from(s.first),
                "spans are ascending and not adjacent"
            );
        }
        let mut enc = Vec::new();
        encode_spans(&spans, &mut enc);
        let back = decode_spans(&mut ByteReader::new(&enc, "fuzz"), limit);
        assert_eq!(back.as_ref(), Ok(&spans), "decoded spans re-encode");
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
    let back = decode_spans(&mut ByteReader::new(&enc, "fuzz"), rvf_format::NO_LIMIT)
        .expect("an encoded set decodes");
    let expanded: Vec<u64> = back.iter().flat_map(Span::values).collect();
    assert_eq!(expanded, values, "encoded set decodes back");
});
