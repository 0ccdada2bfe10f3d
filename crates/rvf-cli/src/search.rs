//! The one place where query options are built, for the CLI and the server alike.

use rvf_runtime::{FilterExpr, QueryOptions};

/// How a caller asked to search.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub filter: Option<FilterExpr>,
    /// Scan every vector instead of searching the ANN index.
    pub exact: bool,
    /// Breadth of the ANN search (None: the store's default).
    pub ef: Option<usize>,
}

/// The options to pass to the store, and notes for the caller.
pub fn query_options(req: &SearchRequest) -> (QueryOptions, Vec<String>) {
    let mut notes = Vec::new();
    if req.exact && req.ef.is_some() {
        notes.push("ef was ignored: an exact search scans every vector".to_string());
    }
    let options = QueryOptions {
        filter: req.filter.clone(),
        exact: req.exact,
        ef_search: req.ef,
        ..QueryOptions::default()
    };
    (options, notes)
}

/// Whether a search with these options is exact: asked for, or the store has no graph
/// to search.
pub fn is_exact(req: &SearchRequest, store: &rvf_runtime::RvfStore) -> bool {
    req.exact || store.index_status().is_none_or(|s| s.graphs == 0)
}
