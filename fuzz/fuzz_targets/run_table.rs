//! decode_run_table and RunTable (COW_MAP payload): never panic; accepted tables encode
//! back to the input, and the in-place view gives the same descriptors as the decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{decode_run_table, encode_run_table, RunTable};

fuzz_target!(|data: &[u8]| {
    let table = RunTable::decode(data);
    if let Ok(runs) = decode_run_table(data) {
        for r in &runs {
            assert!(r.count > 0);
            assert!(r.end_slot() > r.first_slot);
        }
        assert_eq!(encode_run_table(&runs), data);
        let table = table.expect("the decoder accepted the table the view refused");
        assert_eq!(table.len(), runs.len());
        assert!(table.iter().eq(runs.iter().copied()));
        for (i, r) in runs.iter().enumerate() {
            assert_eq!(table.get(i), Some(*r));
        }
        assert_eq!(table.get(runs.len()), None);
    } else {
        assert!(table.is_err());
    }
});
