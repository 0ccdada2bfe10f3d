//! VecSegLayout::decode: never panics; an accepted layout fits its payload exactly and
//! its header encodes back to the input's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::VecSegLayout;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let dim = u16::from_le_bytes([data[0], data[1]]);
    let payload = &data[2..];
    if let Ok(l) = VecSegLayout::decode(payload, dim) {
        assert_eq!(l.dim, dim);
        assert_eq!(l.payload_len, payload.len());
        assert!(l.vectors_offset + l.vectors_len() <= l.norms_offset);
        assert!(l.norms_offset + l.count as usize * 4 <= payload.len());
        assert_eq!(l.norms_offset % 64, 0);
        assert_eq!(&l.encode_header()[..], &payload[..64]);
    }
});
