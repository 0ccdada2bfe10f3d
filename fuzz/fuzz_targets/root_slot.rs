//! RootSlot::decode and choose_root: never panic; a decoded slot re-encodes to a slot that
//! decodes to the same value; choose_root picks the valid slot with the higher epoch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvf_format::{choose_root, RootSlot};

fuzz_target!(|data: &[u8]| {
    if let Ok(root) = RootSlot::decode(data) {
        let again = RootSlot::decode(&root.encode()).expect("re-encoded root decodes");
        assert_eq!(again, root);
        let _ = root.check_read_features();
        let _ = root.check_write_features();
    }
    let half = data.len() / 2;
    let (a, b) = data.split_at(half);
    let chosen = choose_root(a, b);
    match (RootSlot::decode(a), RootSlot::decode(b)) {
        (Ok(x), Ok(y)) => assert_eq!(chosen.unwrap().epoch, x.epoch.max(y.epoch)),
        (Ok(x), Err(_)) => assert_eq!(chosen.unwrap(), x),
        (Err(_), Ok(y)) => assert_eq!(chosen.unwrap(), y),
        (Err(_), Err(_)) => assert!(chosen.is_err()),
    }
});
