//! The ANN index of a store: graphs (crate `rvf-index`) over ranges of slots, stored as
//! INDEX_SEGs and listed by the INDEX_MAP of each generation.
//!
//! * A file's graphs cover some of its own slots; a branch also searches the graphs of
//!   its ancestors, as of the generations it pinned (`View::graphs`).
//! * Vectors no graph covers are *pending*: queries scan them exactly and merge the
//!   results, so a write is searchable at once, whatever the index's lag.
//! * Graphs are built by [`RvfStore::build_index`], at `close`, and on a background
//!   thread once enough vectors are pending; a graph the background built is searched
//!   at once and written to the file by the next call that commits.

mod background;
pub(crate) mod build;
mod coverage;
mod graphs;
mod status;

pub(crate) use background::Background;
pub(crate) use coverage::Piece;
pub(crate) use graphs::{GraphSource, MemGraph, ViewGraph};
pub use status::IndexStatus;

use rvf_format::{IndexMap, IndexSettings};

use crate::options::{DistanceMetric, IndexOptions};

/// Pending vectors of this file that start a background build.
pub(crate) const BACKGROUND_MIN: u64 = 50_000;
/// Pending vectors of this file that `close` indexes before it returns (fewer are
/// cheaper to scan than to index).
pub(crate) const CLOSE_MIN: u64 = 4_096;

pub(crate) fn settings_of(options: Option<&IndexOptions>) -> IndexSettings {
    let o = options.copied().unwrap_or_default();
    IndexSettings {
        enabled: options.is_some(),
        m: o.m.clamp(2, 256) as u16,
        ef_construction: o.ef_construction.clamp(1, u32::MAX as usize) as u32,
        ef_search: o.ef_search.unwrap_or(0).min(u32::MAX as usize) as u32,
    }
}

/// The index map of a file written before the index existed: on, with the defaults.
pub(crate) fn default_map() -> IndexMap {
    IndexMap {
        settings: settings_of(Some(&IndexOptions::default())),
        graphs: Vec::new(),
    }
}

pub(crate) fn metric_of(m: DistanceMetric) -> rvf_index::Metric {
    match m {
        DistanceMetric::L2 => rvf_index::Metric::L2,
        DistanceMetric::InnerProduct => rvf_index::Metric::InnerProduct,
        DistanceMetric::Cosine => rvf_index::Metric::Cosine,
    }
}

/// The default breadth of a search for `k` results.
pub(crate) fn default_ef(k: usize) -> usize {
    (4 * k).max(40)
}
