//! The one place where query options are built, for the CLI and the server alike.

use rvf_runtime::{FilterExpr, QueryOptions};

/// How a caller asked to search.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub filter: Option<FilterExpr>,
    /// Asked for exact search. Every search is exact until the ANN index exists.
    pub exact: bool,
    /// ANN beam width; there is no ANN index yet, so it cannot take effect.
    pub ef: Option<usize>,
}

/// The options to pass to the store, and notes for the caller about what was ignored.
pub fn query_options(req: &SearchRequest) -> (QueryOptions, Vec<String>) {
    let mut notes = Vec::new();
    if req.ef.is_some() {
        notes.push(
            "ef was ignored: this store has no ANN index yet, so the search is exact".to_string(),
        );
    }
    let options = QueryOptions {
        filter: req.filter.clone(),
        ..QueryOptions::default()
    };
    (options, notes)
}

/// Whether a search with these options is exact (always, until the ANN index exists).
pub fn is_exact(_req: &SearchRequest) -> bool {
    true
}
