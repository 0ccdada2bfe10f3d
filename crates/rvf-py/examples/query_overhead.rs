//! The Rust side of the binding-overhead benchmark (`bench/python_bench.py`): times
//! `RvfStore::query` (k=10) on a store, exactly as `Store.search` is timed from Python
//! on the same file, so the difference is what the binding adds per call.
//!
//! ```text
//! cargo run --release -p rvf-py --example query_overhead -- PATH CALLS
//! ```
//!
//! The queries are the store's own vectors, in id order, cycled. Prints one JSON object:
//! the mean microseconds per call of each block of 1,000 calls, after a warm-up block.

use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use rvf_runtime::{QueryOptions, RvfStore};

const BLOCK: usize = 1000;

fn run(path: &Path, calls: usize) -> rvf_runtime::Result<Vec<f64>> {
    let store = RvfStore::open_readonly(path)?;
    let mut queries = Vec::new();
    for id in store.ids()? {
        if let Some(r) = store.get(id)? {
            queries.push(r.vector);
        }
    }
    if queries.is_empty() {
        return Err(rvf_runtime::RvfError::InvalidArgument("empty store".into()));
    }
    let opts = QueryOptions::default();
    let mut per_call_us = Vec::new();
    let blocks = calls.div_ceil(BLOCK) + 1;
    for b in 0..blocks {
        let t = Instant::now();
        for i in 0..BLOCK {
            let q = &queries[(b * BLOCK + i) % queries.len()];
            black_box(store.query(black_box(q), 10, &opts)?);
        }
        if b > 0 {
            per_call_us.push(t.elapsed().as_secs_f64() * 1e6 / BLOCK as f64);
        }
    }
    Ok(per_call_us)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(Ok(calls))) = (args.first(), args.get(1).map(|c| c.parse())) else {
        eprintln!("usage: query_overhead PATH CALLS");
        return ExitCode::from(2);
    };
    match run(Path::new(path), calls) {
        Ok(blocks) => {
            let list: Vec<String> = blocks.iter().map(|x| format!("{x:.4}")).collect();
            println!("{{\"block_us_per_call\": [{}]}}", list.join(", "));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("query_overhead: {e}");
            ExitCode::FAILURE
        }
    }
}
