//! The Rust half of the Python interop test (`tests/test_interop.py`): a store written
//! by Python is read here, and a store written here is read by Python.
//!
//! ```text
//! cargo run -p rvf-py --example interop -- dump PATH     # print PATH's content as JSON
//! cargo run -p rvf-py --example interop -- write DIR     # write DIR/rust.rvf (+ a branch)
//! ```
//!
//! `dump` prints one JSON object: the store's identity, every visible id with its
//! vector and metadata, and the k=5 neighbours of the first vector. `write` makes the
//! store that `expected_rust_store()` in the test describes.

use std::path::Path;
use std::process::ExitCode;

use rvf_runtime::options::DistanceMetric;
use rvf_runtime::{MetaValue, Metadata, QueryOptions, RvfOptions, RvfStore};
use serde_json::{json, Value};

fn meta_json(m: Option<&Metadata>) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in m.into_iter().flatten() {
        let v = match v {
            MetaValue::Int(i) => json!({ "int": i }),
            MetaValue::Float(f) => json!({ "float": f }),
            MetaValue::Str(s) => json!({ "str": s }),
            MetaValue::Bool(b) => json!({ "bool": b }),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

fn dump(path: &Path) -> rvf_runtime::Result<Value> {
    let store = RvfStore::open_readonly(path)?;
    let mut records = Vec::new();
    for id in store.ids()? {
        if let Some(r) = store.get(id)? {
            records.push(json!({
                "id": id, "vector": r.vector, "metadata": meta_json(r.metadata.as_ref()),
            }));
        }
    }
    let first = store
        .ids()?
        .first()
        .and_then(|&id| store.get(id).ok().flatten());
    let neighbours = match first {
        Some(r) => store
            .query(&r.vector, 5, &QueryOptions::default())?
            .iter()
            .map(|h| json!([h.id, h.distance]))
            .collect(),
        None => Vec::new(),
    };
    let metric = match store.metric() {
        DistanceMetric::L2 => "l2",
        DistanceMetric::InnerProduct => "ip",
        DistanceMetric::Cosine => "cosine",
    };
    Ok(json!({
        "dimension": store.dimension(), "metric": metric, "len": store.len(),
        "lineage_depth": store.lineage_depth(), "records": records, "neighbours": neighbours,
    }))
}

/// Vector `i` of the Rust-written store: `[i, i + 0.5, i + 1, ...]`, exact in f32.
fn vector(i: u64, dim: usize) -> Vec<f32> {
    (0..dim).map(|j| i as f32 + j as f32 * 0.5).collect()
}

fn write(dir: &Path) -> rvf_runtime::Result<()> {
    let dim = 6;
    let opts = RvfOptions {
        dimension: dim as u16,
        metric: DistanceMetric::L2,
        ..Default::default()
    };
    let mut store = RvfStore::create(&dir.join("rust.rvf"), opts)?;
    let ids: Vec<u64> = (100..120).collect();
    let flat: Vec<f32> = ids.iter().flat_map(|&i| vector(i, dim)).collect();
    let metas: Vec<Metadata> = ids
        .iter()
        .map(|&i| {
            let mut m = Metadata::new();
            m.insert("n".into(), MetaValue::Int(i as i64));
            m.insert("half".into(), MetaValue::Float(i as f64 / 2.0));
            m.insert("name".into(), MetaValue::Str(format!("rust-{i}")));
            m.insert("odd".into(), MetaValue::Bool(i % 2 == 1));
            m
        })
        .collect();
    store.ingest_flat(&flat, &ids, Some(&metas))?;
    let mut branch = store.branch(&dir.join("rust-branch.rvf"))?;
    branch.delete(&[100, 101, 102])?;
    branch.close()?;
    store.close()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [cmd, path] if cmd == "dump" => dump(Path::new(path)).map(|v| println!("{v}")),
        [cmd, dir] if cmd == "write" => write(Path::new(dir)),
        _ => {
            eprintln!("usage: interop dump PATH | interop write DIR");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("interop: {e} ({})", e.code());
            ExitCode::FAILURE
        }
    }
}
