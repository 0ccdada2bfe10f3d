//! decode_run_table (COW_MAP payload): never panics; accepted tables encode back to the
//! input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{decode_run_table, encode_run_table};

fuzz_target!(|data: &[u8]| {
    if let Ok(runs) = decode_run_table(data) {
        for r in &runs {
            assert!(r.count > 0);
            assert!(r.end_slot() > r.first_slot);
        }
        assert_eq!(encode_run_table(&runs), data);
    }
});
