//! Manifest::decode: never panics; an accepted manifest is valid and its encoding is the
//! input, byte for byte (the layout is canonical).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::decode(data) {
        assert!(m.validate().is_ok());
        let enc = m.encode();
        assert_eq!(enc, data, "manifest encoding is canonical");
        assert_eq!(Manifest::decode(&enc), Ok(m));
    }
});
