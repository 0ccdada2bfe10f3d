//! decode_slot_bitmap (DEAD_BITMAP checkpoint payload): never panics, never covers more
//! slots than its limit, and whatever it accepts encodes back to the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{decode_slot_bitmap, encode_slot_bitmap};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (head, payload) = data.split_at(8);
    let limit = u64::from_le_bytes(head.try_into().unwrap());
    if let Ok(words) = decode_slot_bitmap(payload, limit) {
        let bit_len = u64::from_le_bytes(payload[..8].try_into().unwrap());
        assert!(bit_len <= limit);
        assert_eq!(words.len() as u64, bit_len.div_ceil(64));
        assert_eq!(encode_slot_bitmap(&words, bit_len), payload);
    }
});
