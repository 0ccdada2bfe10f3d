//! Names of metrics and durability modes, and the one place `QueryOptions` is built.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rvf_runtime::{DistanceMetric, Durability, FilterExpr, QueryOptions};

pub fn metric(name: &str) -> PyResult<DistanceMetric> {
    match name.to_ascii_lowercase().as_str() {
        "cosine" | "cos" => Ok(DistanceMetric::Cosine),
        "l2" | "l2sq" | "euclidean" => Ok(DistanceMetric::L2),
        "ip" | "inner_product" | "dot" => Ok(DistanceMetric::InnerProduct),
        _ => Err(PyValueError::new_err(format!(
            "unknown metric {name:?}: use \"cosine\", \"l2\" (squared Euclidean) or \"ip\" \
             (inner product)"
        ))),
    }
}

pub fn metric_name(m: DistanceMetric) -> &'static str {
    match m {
        DistanceMetric::Cosine => "cosine",
        DistanceMetric::L2 => "l2",
        DistanceMetric::InnerProduct => "ip",
    }
}

pub fn durability(name: &str) -> PyResult<Durability> {
    match name {
        "every_commit" => Ok(Durability::EveryCommit),
        "on_close" => Ok(Durability::OnClose),
        _ => Err(PyValueError::new_err(format!(
            "unknown durability {name:?}: use \"every_commit\" or \"on_close\""
        ))),
    }
}

/// The options of one search, built here and nowhere else.
pub fn query(
    _py: Python<'_>,
    filter: Option<FilterExpr>,
    exact: bool,
    ef: Option<i64>,
) -> PyResult<QueryOptions> {
    let ef_search = match ef {
        None => None,
        Some(ef) => Some(
            usize::try_from(ef)
                .ok()
                .filter(|&e| e >= 1)
                .ok_or_else(|| PyValueError::new_err(format!("ef must be at least 1, got {ef}")))?,
        ),
    };
    Ok(QueryOptions {
        filter,
        // One thread per core for batches; a single query runs on the calling thread.
        threads: 0,
        exact,
        ef_search,
    })
}
