//! `create`, `status` and `index`.

use std::path::Path;

use rvf_runtime::{DistanceMetric, RvfOptions, RvfStore};

use super::args::{CreateArgs, IndexCommand, MetricArg};
use super::{open_read, open_write};
use crate::error::Result;
use crate::output::{bytes, emit};
use crate::report::{metric_name, status_json};

pub fn metric(m: MetricArg) -> DistanceMetric {
    match m {
        MetricArg::L2 => DistanceMetric::L2,
        MetricArg::Ip => DistanceMetric::InnerProduct,
        MetricArg::Cosine => DistanceMetric::Cosine,
    }
}

pub fn create(a: CreateArgs, json: bool) -> Result<()> {
    let opts = RvfOptions {
        dimension: a.dim,
        metric: metric(a.metric),
        cluster_bytes: a.cluster_bytes,
        index: (!a.no_index).then_some(rvf_runtime::IndexOptions {
            m: a.m,
            ef_construction: a.ef_construction,
            ef_search: None,
        }),
        ..RvfOptions::default()
    };
    let store = RvfStore::create(&a.store, opts)?;
    let v = status_json(&store);
    store.close()?;
    let human = format!(
        "created {} (dimension {}, metric {})",
        a.store.display(),
        a.dim,
        metric_name(metric(a.metric))
    );
    emit(json, &human, &v)
}

pub fn status(path: &Path, json: bool) -> Result<()> {
    let store = open_read(path)?;
    let s = store.status();
    let v = status_json(&store);
    let mut h = format!(
        "store        {}\nfile id      {}\nvectors      {}\ndimension    {}\nmetric       {}\nepoch        {}\nfile size    {} ({} bytes)\nsegments     {}\ndead bytes   {} (reclaimed by compact)\nfrozen       {}\n",
        path.display(),
        v["file_id"].as_str().unwrap_or(""),
        s.total_vectors,
        s.dimension,
        metric_name(s.metric),
        s.epoch,
        bytes(s.file_size),
        s.file_size,
        s.segment_count,
        bytes(s.dead_bytes),
        if s.frozen { "yes" } else { "no" },
    );
    match v["parent_id"].as_str() {
        Some(parent) => {
            h += &format!("lineage      depth {}, parent {parent}\n", s.lineage_depth);
            if let Some(m) = store.membership_filter() {
                h += &format!(
                    "membership   {} mode, {} ids listed, {} of {} inherited vectors visible\n",
                    crate::report::mode_name(m.mode()),
                    m.ids().count(),
                    m.member_count(),
                    m.vector_count()
                );
            }
            if let Some(c) = store.cow_stats() {
                h += &format!(
                    "clusters     {} local of {} ({} bytes each)\n",
                    c.local_cluster_count, c.cluster_count, c.cluster_size
                );
            }
        }
        None => h += "lineage      root store (no parent)\n",
    }
    h += &format!("index        {}\n", crate::index::status(&store).detail);
    emit(json, &h, &v)
}

pub fn index(cmd: IndexCommand, json: bool) -> Result<()> {
    match cmd {
        IndexCommand::Status(a) => {
            let store = open_read(&a.store)?;
            let st = crate::index::status(&store);
            emit(
                json,
                &format!("{}: {}", a.store.display(), st.detail),
                &st.to_json(),
            )
        }
        IndexCommand::Build(a) => {
            let mut store = open_write(&a.store)?;
            let st = crate::index::build(&mut store, false)?;
            store.close()?;
            emit(json, &st.detail, &st.to_json())
        }
    }
}
