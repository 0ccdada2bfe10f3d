//! JSON views of stores and results, shared by the CLI's `--json` output and the server.

use rvf_runtime::inspect::hex_id;
use rvf_runtime::{DistanceMetric, MembershipMode, RvfStore, SearchResult, VectorRecord};
use serde_json::{json, Value};

use crate::formats::meta::metadata_to_json;

pub fn metric_name(m: DistanceMetric) -> &'static str {
    match m {
        DistanceMetric::L2 => "l2",
        DistanceMetric::InnerProduct => "ip",
        DistanceMetric::Cosine => "cosine",
    }
}

pub fn mode_name(m: MembershipMode) -> &'static str {
    match m {
        MembershipMode::Include => "include",
        MembershipMode::Exclude => "exclude",
    }
}

pub fn status_json(store: &RvfStore) -> Value {
    let s = store.status();
    let mut v = json!({
        "path": store.path().display().to_string(),
        "file_id": hex_id(store.file_id()),
        "total_vectors": s.total_vectors,
        "dimension": s.dimension,
        "metric": metric_name(s.metric),
        "epoch": s.epoch,
        "file_size": s.file_size,
        "segment_count": s.segment_count,
        "dead_bytes": s.dead_bytes,
        "frozen": s.frozen,
        "read_only": s.read_only,
        "lineage_depth": s.lineage_depth,
        "journal_commits": s.journal_commits,
        "checkpoint_bytes": s.checkpoint_bytes,
        "parent_id": store.is_cow_child().then(|| hex_id(store.parent_id())),
        "index": crate::index::status(store).to_json(),
    });
    if let (Some(c), true) = (store.cow_stats(), store.is_cow_child()) {
        v["cow"] = json!({
            "cluster_count": c.cluster_count,
            "local_cluster_count": c.local_cluster_count,
            "cluster_size": c.cluster_size,
            "vectors_per_cluster": c.vectors_per_cluster,
        });
    }
    if let Some(m) = store.membership_filter() {
        v["membership"] = membership_json(m, false);
    }
    v
}

pub fn membership_json(m: &rvf_runtime::MembershipFilter, with_ids: bool) -> Value {
    let mut v = json!({
        "mode": mode_name(m.mode()),
        "listed": m.ids().count(),
        "member_count": m.member_count(),
        "inherited_count": m.vector_count(),
    });
    if with_ids {
        v["ids"] = json!(m.ids().collect::<Vec<u64>>());
    }
    v
}

/// An `f32` as the JSON number with its shortest decimal text (`0.01`, not the
/// `0.010000000707805157` its widening to `f64` would print).
pub fn f32_json(x: f32) -> Value {
    x.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

pub fn hit_json(hit: &SearchResult, record: Option<&VectorRecord>) -> Value {
    json!({
        "id": hit.id,
        "distance": f32_json(hit.distance),
        "metadata": record.and_then(|r| r.metadata.as_ref()).map(metadata_to_json),
    })
}

pub fn record_json(r: &VectorRecord) -> Value {
    json!({
        "id": r.id,
        "vector": r.vector.iter().map(|&x| f32_json(x)).collect::<Vec<_>>(),
        "metadata": r.metadata.as_ref().map(metadata_to_json),
    })
}
