//! Options for creating, opening and querying stores.

use std::path::PathBuf;

use crate::filter::FilterExpr;

/// How distances are measured. Smaller is always closer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DistanceMetric {
    /// Squared Euclidean distance.
    #[default]
    L2,
    /// The negated inner product, so that smaller is closer.
    InnerProduct,
    /// `1 - cos(a, b)`; a zero vector has cosine 0 with everything (distance 1).
    Cosine,
}

/// When commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Every commit is synced before the call returns (the default).
    #[default]
    EveryCommit,
    /// Commits are synced and published (to readers and to a crash) only on `flush`,
    /// `branch`, `close` or drop: for bulk loads. A crash loses the unflushed commits but
    /// never leaves the file unreadable.
    OnClose,
}

/// Default byte size of a cluster (the unit a branch copies).
pub const DEFAULT_CLUSTER_BYTES: u32 = 64 * 1024;

/// Options of a new store. Only `dimension` has no useful default.
#[derive(Debug, Clone, PartialEq)]
pub struct RvfOptions {
    pub dimension: u16,
    pub metric: DistanceMetric,
    /// Byte size of a cluster; `vectors_per_cluster = max(1, cluster_bytes / (4 * dimension))`.
    pub cluster_bytes: u32,
    pub durability: Durability,
    /// The ANN index (on by default; `None` keeps every search an exact scan). Stored in
    /// the file, and inherited by branches.
    pub index: Option<IndexOptions>,
}

impl Default for RvfOptions {
    fn default() -> Self {
        RvfOptions {
            dimension: 0,
            metric: DistanceMetric::L2,
            cluster_bytes: DEFAULT_CLUSTER_BYTES,
            durability: Durability::EveryCommit,
            index: Some(IndexOptions::default()),
        }
    }
}

/// Options of the ANN index (a graph per range of vectors: HNSW layers over 8-bit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexOptions {
    /// Neighbours per node on the upper layers (twice as many on the base layer); 2..=256.
    pub m: usize,
    /// Breadth of the search that picks a new node's neighbours; larger builds slower
    /// and finds better neighbours.
    pub ef_construction: usize,
    /// Breadth of a query's search when the query does not set one; `None` chooses
    /// `max(4 k, 40)` for `k` results (see `QueryOptions::ef_search`).
    pub ef_search: Option<usize>,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            m: 16,
            ef_construction: 200,
            ef_search: None,
        }
    }
}

/// Options for opening an existing store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenOptions {
    /// Open without the writer lock; writes fail with `ReadOnly`.
    pub read_only: bool,
    pub durability: Durability,
    /// Extra files or directories searched (by file id) for ancestors that are found
    /// neither at their recorded relative path nor at their original path.
    pub parent_search_paths: Vec<PathBuf>,
    /// Open a file that lost its tail (`RVF_E_TRUNCATED` without this): the store opens
    /// read-only at the newest generation whose bytes are all present and intact, and
    /// [`crate::RvfStore::recovery`] says which epochs were dropped. Every segment of
    /// that generation is verified at open.
    pub recover: bool,
}

/// Options of one query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryOptions {
    /// Only vectors whose metadata matches are returned.
    pub filter: Option<FilterExpr>,
    /// Threads for `query_batch` (0 = one per available core).
    pub threads: usize,
    /// Scan every vector instead of using the ANN index: exact results, at the cost of
    /// reading every vector.
    pub exact: bool,
    /// Breadth of the ANN search (more is slower and finds more of the true neighbours).
    /// `None`: the store's `IndexOptions::ef_search`, else `max(4 k, 40)`.
    pub ef_search: Option<usize>,
}
