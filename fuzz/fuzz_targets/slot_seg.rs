//! SlotSeg::decode, SlotSeg::view and per-slot metadata: never panic; for accepted
//! payloads the unchecked view agrees with the checked decode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::SlotSeg;

fuzz_target!(|data: &[u8]| {
    let view = SlotSeg::view(data);
    let n = (view.count as usize).min(1024);
    for i in 0..n + 2 {
        let _ = view.id(i);
        let _ = view.metadata_bytes(i);
        let _ = view.metadata(i);
    }
    let _ = view.id_bytes();
    if let Ok(seg) = SlotSeg::decode(data) {
        assert_eq!(seg.count, view.count);
        assert_eq!(seg.first_slot, view.first_slot);
        assert_eq!(seg.id_bytes(), view.id_bytes());
        assert_eq!(seg.has_metadata(), view.has_metadata());
        for i in 0..(seg.count as usize).min(1024) {
            assert_eq!(seg.id(i), view.id(i));
            assert_eq!(seg.metadata_bytes(i), view.metadata_bytes(i));
            let _ = seg.metadata(i);
        }
    }
});
