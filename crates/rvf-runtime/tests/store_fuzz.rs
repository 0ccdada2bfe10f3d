//! The model-based store fuzzer (see `harness/mod.rs`), bounded for `cargo test`: a few
//! seeded runs per metric, with contiguous ranges of up to 100,000 ids. The cargo-fuzz
//! target `store_ops` runs the same harness for as long as it is given.

mod harness;

use harness::{Config, Family, Rng};
use rvf_runtime::options::{DistanceMetric, IndexOptions};

fn run(seed: u64, metric: DistanceMetric, cluster_bytes: u32, cfg: Config) {
    let mut family = Family::new(metric, cluster_bytes, cfg);
    family.run(&mut Rng(seed));
    family.finish();
}

/// Seeds per test: 4, or `RVF_STORE_FUZZ_SEEDS` for a longer hunt
/// (`RVF_STORE_FUZZ_SEEDS=200 cargo test --release -p rvf-runtime --test store_fuzz`).
fn seeds(first: u64) -> std::ops::Range<u64> {
    let n = std::env::var("RVF_STORE_FUZZ_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    first..first + n
}

fn small() -> Config {
    Config {
        max_range: 3_000,
        id_space: 600,
        max_nodes: 6,
        steps: 60,
        index: IndexOptions::default(),
    }
}

#[test]
fn store_fuzz_l2() {
    for seed in seeds(0) {
        run(seed, DistanceMetric::L2, 256, small());
    }
}

#[test]
fn store_fuzz_inner_product() {
    for seed in seeds(1_000_000) {
        run(seed, DistanceMetric::InnerProduct, 64 * 1024, small());
    }
}

#[test]
fn store_fuzz_cosine() {
    for seed in seeds(2_000_000) {
        run(seed, DistanceMetric::Cosine, 1024, small());
    }
}

/// Fewer, longer steps with ranges of up to 100,000 ids.
#[test]
fn store_fuzz_large_ranges() {
    let cfg = Config {
        max_range: 100_000,
        id_space: 2_000,
        max_nodes: 4,
        steps: 25,
        index: IndexOptions::default(),
    };
    run(300, DistanceMetric::L2, 64 * 1024, cfg);
}
