//! decode_metadata: never panics; accepted metadata passes the writer's validation and
//! round-trips through encode_metadata.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{decode_metadata, encode_metadata, validate_metadata};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode_metadata(data) {
        assert!(
            validate_metadata(&m).is_ok(),
            "what is read could be written"
        );
        let mut enc = Vec::new();
        encode_metadata(&m, &mut enc);
        let back = decode_metadata(&enc).expect("re-encoded metadata decodes");
        // Compare encodings: a NaN float is not equal to itself.
        let mut enc2 = Vec::new();
        encode_metadata(&back, &mut enc2);
        assert_eq!(enc, enc2);
    }
});
