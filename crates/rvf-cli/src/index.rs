//! `rvf index build|status`: the store's ANN index.

use std::time::Instant;

use rvf_runtime::RvfStore;
use serde_json::{json, Value};

use crate::error::Result;

/// What `index status` reports (also part of `status` and the server's collection).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexStatus {
    pub exists: bool,
    pub detail: String,
    pub json: Value,
}

impl IndexStatus {
    pub fn to_json(&self) -> Value {
        self.json.clone()
    }
}

pub fn status(store: &RvfStore) -> IndexStatus {
    match store.index_status() {
        None => IndexStatus {
            exists: false,
            detail: "the ANN index is off for this store; queries scan every vector".into(),
            json: json!({ "exists": false, "enabled": false }),
        },
        Some(st) => IndexStatus {
            exists: st.graphs > 0,
            detail: format!(
                "{} vectors indexed in {} graph(s) ({} bytes in this file), {} pending (scanned exactly){}; m {}, ef_construction {}",
                st.indexed_vectors,
                st.graphs,
                st.bytes,
                st.pending_vectors,
                if st.building { ", a build is running" } else { "" },
                st.m,
                st.ef_construction
            ),
            json: json!({
                "exists": st.graphs > 0,
                "enabled": true,
                "indexed_vectors": st.indexed_vectors,
                "pending_vectors": st.pending_vectors,
                "bytes": st.bytes,
                "graphs": st.graphs,
                "building": st.building,
                "m": st.m,
                "ef_construction": st.ef_construction,
            }),
        },
    }
}

/// Builds the index of everything pending, with a progress bar on a terminal.
pub fn build(store: &mut RvfStore, quiet: bool) -> Result<IndexStatus> {
    let started = Instant::now();
    let bar = crate::cli::progress::bar(0, quiet);
    let report = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    store.build_index_with_progress(&report)?;
    bar.finish_and_clear();
    let mut st = status(store);
    st.detail = format!(
        "{} (built in {:.1} s)",
        st.detail,
        started.elapsed().as_secs_f64()
    );
    Ok(st)
}
