//! The `rvf` Python package: a thin PyO3 layer over `rvf_runtime`.
//!
//! Each module has one job: `store` (the `Store` class, its locking and lifecycle),
//! `ingest` and `search` (numpy in and out of the two hot calls), `membership`,
//! `filters` (`where=` dicts to `FilterExpr`), `convert` (numpy and metadata),
//! `options` (names and `QueryOptions`), `errors` (the exception hierarchy).

use pyo3::prelude::*;

mod convert;
mod errors;
mod filters;
mod ingest;
mod membership;
mod options;
mod search;
mod store;

#[pymodule]
fn _rvf(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<store::Store>()?;
    m.add_class::<membership::Membership>()?;
    m.add_class::<ingest::AddResult>()?;
    m.add("MISSING_ID", search::MISSING_ID)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
