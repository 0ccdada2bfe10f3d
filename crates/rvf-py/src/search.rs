//! `Store.search`: one query or a batch, results written into new numpy arrays.

use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyMemoryError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rvf_runtime::{QueryOptions, SearchResult};

use crate::convert::{f32_array, floats, shape_text};
use crate::errors::dimension_error;
use crate::store::Store;

/// The id of a padding cell in a batch result (its distance is +inf).
pub const MISSING_ID: u64 = u64::MAX;

pub fn search<'py>(
    store: &Store,
    py: Python<'py>,
    q: &Bound<'py, PyAny>,
    k: usize,
    opts: &QueryOptions,
) -> PyResult<Bound<'py, PyTuple>> {
    let arr = f32_array(q, "q")?;
    let shape = arr.shape().to_vec();
    let dim = store.dim();
    let mismatch = || {
        dimension_error(
            py,
            format!(
                "query of shape {} for a store of dimension {dim}: expected ({dim},) or (n, {dim})",
                shape_text(&shape)
            ),
        )
    };
    let flat = floats(&arr)?;
    match shape.as_slice() {
        [d] if *d == dim => {
            let hits = store.read(py, |s| Ok(s.query(flat, k, opts)?))?;
            let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
            let dists: Vec<f32> = hits.iter().map(|h| h.distance).collect();
            let ids = PyArray1::from_vec(py, ids).into_any();
            let dists = PyArray1::from_vec(py, dists).into_any();
            PyTuple::new(py, [ids, dists])
        }
        [n, d] if *d == dim => {
            let n = *n;
            let (cols, rows) = store.read(py, |s| {
                // Never more columns than vectors: bounds the result by the store's size
                // whatever k is.
                let cols = usize::try_from(s.len()).map_or(k, |len| k.min(len));
                Ok((cols, s.query_batch_flat(flat, cols, opts)?))
            })?;
            padded(py, n, cols, &rows)
        }
        [_] | [_, _] => Err(mismatch()),
        _ => Err(PyValueError::new_err(format!(
            "q must be 1-D (dim,) or 2-D (n, dim), got shape {}",
            shape_text(&shape)
        ))),
    }
}

/// `(n, cols)` arrays of ids and distances; cells past a row's hits hold `MISSING_ID`
/// and +inf.
fn padded<'py>(
    py: Python<'py>,
    n: usize,
    cols: usize,
    rows: &[Vec<SearchResult>],
) -> PyResult<Bound<'py, PyTuple>> {
    let cells = n
        .checked_mul(cols)
        .ok_or_else(|| PyMemoryError::new_err("result too large"))?;
    let mut ids = vec![MISSING_ID; cells];
    let mut dists = vec![f32::INFINITY; cells];
    if cols > 0 {
        let out = ids.chunks_exact_mut(cols).zip(dists.chunks_exact_mut(cols));
        for ((id_row, dist_row), hits) in out.zip(rows) {
            for ((id, dist), h) in id_row.iter_mut().zip(dist_row.iter_mut()).zip(hits) {
                *id = h.id;
                *dist = h.distance;
            }
        }
    }
    let ids = PyArray1::from_vec(py, ids).reshape([n, cols])?.into_any();
    let dists = PyArray1::from_vec(py, dists).reshape([n, cols])?.into_any();
    PyTuple::new(py, [ids, dists])
}
