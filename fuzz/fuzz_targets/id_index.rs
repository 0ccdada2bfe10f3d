//! IdIndex::decode (ID_INDEX checkpoint payload): never panics; accepts exactly one id
//! per slot of its run table and encodes back to the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{encode_id_index, IdIndex, RunDesc, RunKind};

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 8).min(rest.len() / 2);
    let (counts, payload) = rest.split_at(n * 2);
    let runs: Vec<RunDesc> = counts
        .chunks_exact(2)
        .enumerate()
        .map(|(i, c)| RunDesc {
            first_slot: i as u64 * 70_000,
            count: u32::from(u16::from_le_bytes([c[0], c[1]])),
            kind: RunKind::Append,
            vec_seg: 1024,
            vec_seg_len: 128,
            slot_seg: 2048,
            slot_seg_len: 128,
        })
        .collect();
    if let Ok(index) = IdIndex::decode(payload, &runs) {
        let slots: u64 = runs.iter().map(|r| u64::from(r.count)).sum();
        assert_eq!(index.len() as u64, slots);
        let ids: Vec<u64> = (0..index.len()).map(|i| index.get(i)).collect();
        assert_eq!(encode_id_index(&ids), payload);
    }
});
