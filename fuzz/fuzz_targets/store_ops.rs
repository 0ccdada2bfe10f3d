//! The model-based store fuzzer: the fuzzer's bytes choose a family of stores' metric,
//! cluster size and a sequence of operations (ingest, upsert, delete of single ids,
//! scattered ids and ranges of up to 20,000 ids, delete by filter, membership changes,
//! branch, freeze, compact, materialize, reopen read-write and read-only), and the
//! harness shared with `cargo test` (`crates/rvf-runtime/tests/harness`) checks every
//! store against its brute-force model after every step. Ranges stop at 20,000 ids here
//! (an input must finish within libFuzzer's timeout under coverage instrumentation, graph
//! builds included); `cargo test`'s `store_fuzz_large_ranges` runs them up to 100,000
//! and `tests/large_states.rs` at 1,000,000.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/rvf-runtime/tests/harness/mod.rs"]
mod harness;

use harness::{Bytes, Config, Family};
use rvf_runtime::options::{DistanceMetric, IndexOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&shape, ops)) = data.split_first() else {
        return;
    };
    let metric = match shape % 3 {
        0 => DistanceMetric::L2,
        1 => DistanceMetric::InnerProduct,
        _ => DistanceMetric::Cosine,
    };
    let cluster_bytes = [64, 256, 1024, 64 * 1024][usize::from(shape / 3) % 4];
    let cfg = Config {
        max_range: 20_000,
        id_space: 2_000,
        max_nodes: 6,
        steps: 200,
        index: IndexOptions {
            m: 4,
            ef_construction: 16,
            ef_search: None,
        },
    };
    let mut family = Family::new(metric, cluster_bytes, cfg);
    family.run(&mut Bytes(ops));
    family.finish();
});
