//! SegmentHeader::decode and read_segment: never panic; what they accept lies inside the
//! input; headers round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{read_segment, SegmentHeader, SegmentType};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = SegmentHeader::decode(data) {
        assert_eq!(SegmentHeader::decode(&h.encode()), Ok(h));
        let _ = h.total_len();
    }
    if data.len() < 4 {
        return;
    }
    let offset = u64::from(u16::from_le_bytes([data[0], data[1]]));
    let verify = data[3] & 1 == 1;
    let file = &data[4..];
    let Ok(expected) = SegmentType::from_u8(data[2]) else {
        return;
    };
    if let Ok((h, payload)) = read_segment(file, offset, expected, verify) {
        assert_eq!(h.seg_type, expected);
        assert_eq!(payload.len() as u64, h.payload_len);
        let start = offset as usize + 64;
        assert_eq!(&file[start..start + payload.len()], payload);
        if verify {
            assert!(h.verify_payload(payload).is_ok());
        }
    }
});
