//! IdIndex::decode (ID_INDEX checkpoint payload): never panics; accepts exactly one id
//! per counted slot and encodes back to the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{encode_id_index, IdIndex};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (head, payload) = data.split_at(8);
    let slots = u64::from_le_bytes(head.try_into().unwrap()) % 64;
    if let Ok(index) = IdIndex::decode(payload, slots) {
        assert_eq!(index.len() as u64, slots);
        let ids: Vec<u64> = (0..index.len()).map(|i| index.get(i)).collect();
        assert_eq!(encode_id_index(&ids), payload);
    }
});
