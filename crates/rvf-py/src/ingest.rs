//! `Store.add`: vectors, ids and metadata from Python into one `ingest_flat` commit.

use numpy::{PyArray1, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rvf_runtime::RvfStore;

use crate::convert::{f32_array, floats, ids as to_ids, metadata_list, shape_text};
use crate::errors::{dimension_error, Failure};
use crate::store::Store;

/// What `Store.add` did: `accepted` rows stored (new or replacing), `rejected` rows
/// skipped for a NaN or infinite value, the store's `epoch` after the commit, and the
/// `ids` of every row in row order (the generated ones when add() was given none).
#[pyclass(module = "rvf", frozen, get_all)]
pub struct AddResult {
    accepted: u64,
    rejected: u64,
    epoch: u64,
    ids: Py<PyArray1<u64>>,
}

#[pymethods]
impl AddResult {
    fn __repr__(&self) -> String {
        format!(
            "AddResult(accepted={}, rejected={}, epoch={})",
            self.accepted, self.rejected, self.epoch
        )
    }
}

pub fn add(
    store: &Store,
    py: Python<'_>,
    vectors: &Bound<'_, PyAny>,
    ids: Option<&Bound<'_, PyAny>>,
    metadata: Option<&Bound<'_, PyAny>>,
) -> PyResult<AddResult> {
    let arr = f32_array(vectors, "vectors")?;
    let dim = store.dim();
    let n = match arr.shape() {
        [n, d] if *d == dim => *n,
        [_, _] => {
            return Err(dimension_error(
                py,
                format!(
                    "vectors of shape {} for a store of dimension {dim}: expected (n, {dim})",
                    shape_text(arr.shape())
                ),
            ))
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "vectors must be 2-D, of shape (n, {dim}); got shape {}",
                shape_text(other)
            )))
        }
    };
    let flat = floats(&arr)?;
    let given = match ids.filter(|o| !o.is_none()) {
        Some(obj) => {
            let ids = to_ids(obj, "ids")?;
            if ids.len() != n {
                return Err(PyValueError::new_err(format!(
                    "{} ids for {n} vectors (vectors of shape {})",
                    ids.len(),
                    shape_text(arr.shape())
                )));
            }
            Some(ids)
        }
        None => None,
    };
    let metas = match metadata.filter(|o| !o.is_none()) {
        Some(obj) => Some(metadata_list(obj, n)?),
        None => None,
    };
    let (result, ids) = store.write(py, |s| {
        let ids = match given {
            Some(ids) => ids,
            None => next_ids(s, n)?,
        };
        let result = s.ingest_flat(flat, &ids, metas.as_deref())?;
        Ok((result, ids))
    })?;
    Ok(AddResult {
        accepted: result.accepted,
        rejected: result.rejected,
        epoch: result.epoch,
        ids: PyArray1::from_vec(py, ids).unbind(),
    })
}

/// `n` consecutive ids after the largest id the store shows (from 0 when it is empty).
fn next_ids(s: &RvfStore, n: usize) -> Result<Vec<u64>, Failure> {
    let start = match s.ids()?.last() {
        Some(&max) => max.checked_add(1),
        None => Some(0),
    };
    let end = start.and_then(|a| a.checked_add(n as u64));
    match (start, end) {
        (Some(a), Some(b)) => Ok((a..b).collect()),
        _ => Err(Failure::Value(
            "cannot generate ids: the store already holds id 2**64-1; pass ids explicitly".into(),
        )),
    }
}
