//! `rvf.Membership`: the filter that decides which inherited vectors a branch shows.

use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rvf_runtime::{MembershipFilter, MembershipMode, RvfError, RvfStore};

use crate::convert::ids as to_ids;
use crate::errors::Failure;
use crate::store::Store;

/// A branch's membership filter over the vectors it inherits from its parent.
///
/// In "exclude" mode (the default) every inherited vector is shown except the listed
/// ids; in "include" mode only the listed ids are shown (an empty list shows none).
/// include(ids) and exclude(ids) show or hide inherited ids whatever the mode.
/// Vectors the branch itself adds are not affected. This is a live view: it reads the
/// store each time.
#[pyclass(module = "rvf", frozen)]
pub struct Membership {
    store: Py<Store>,
}

impl Membership {
    pub fn new(store: Py<Store>) -> Membership {
        Membership { store }
    }

    fn with_filter<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        F: FnOnce(&MembershipFilter) -> R + Send,
        R: Send,
    {
        self.store.get().read(py, |s| Ok(f(filter_of(s)?)))
    }

    /// Shows (`visible`) or hides inherited ids whatever the mode: listing an id shows it
    /// in include mode and hides it in exclude mode, so one of add/remove does it.
    fn show(&self, py: Python<'_>, ids: &Bound<'_, PyAny>, visible: bool) -> PyResult<()> {
        let ids = to_ids(ids, "ids")?;
        self.store.get().write(py, |s| {
            let include = filter_of(s)?.mode() == MembershipMode::Include;
            if include == visible {
                s.membership_add(&ids)?;
            } else {
                s.membership_remove(&ids)?;
            }
            Ok(())
        })
    }
}

fn filter_of(s: &RvfStore) -> Result<&MembershipFilter, Failure> {
    s.membership_filter().ok_or_else(|| {
        Failure::Rvf(RvfError::NotAChild {
            path: s.path().to_path_buf(),
        })
    })
}

fn mode_name(m: MembershipMode) -> &'static str {
    match m {
        MembershipMode::Include => "include",
        MembershipMode::Exclude => "exclude",
    }
}

#[pymethods]
impl Membership {
    /// "exclude" or "include".
    #[getter]
    fn mode(&self, py: Python<'_>) -> PyResult<&'static str> {
        self.with_filter(py, |f| mode_name(f.mode()))
    }

    /// The listed ids (excluded or included, depending on the mode), ascending.
    #[getter]
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let ids = self.with_filter(py, |f| f.ids().collect::<Vec<u64>>())?;
        Ok(PyArray1::from_vec(py, ids))
    }

    /// Inherited vectors the filter lets through.
    #[getter]
    fn member_count(&self, py: Python<'_>) -> PyResult<u64> {
        self.with_filter(py, MembershipFilter::member_count)
    }

    /// Vectors inherited from the parent (those it showed when the branch was made).
    #[getter]
    fn vector_count(&self, py: Python<'_>) -> PyResult<u64> {
        self.with_filter(py, MembershipFilter::vector_count)
    }

    /// Switches to "include" or "exclude" mode with an empty list: "include" then shows
    /// no inherited vector, "exclude" shows all of them.
    fn set_mode(&self, py: Python<'_>, mode: String) -> PyResult<()> {
        let mode = match mode.as_str() {
            "include" => MembershipMode::Include,
            "exclude" => MembershipMode::Exclude,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown membership mode {mode:?}: use \"include\" or \"exclude\""
                )))
            }
        };
        self.store
            .get()
            .write(py, |s| Ok(s.set_membership_mode(mode)?))
    }

    /// Shows these inherited ids in the branch.
    fn include(&self, py: Python<'_>, ids: &Bound<'_, PyAny>) -> PyResult<()> {
        self.show(py, ids, true)
    }

    /// Hides these inherited ids in the branch.
    fn exclude(&self, py: Python<'_>, ids: &Bound<'_, PyAny>) -> PyResult<()> {
        self.show(py, ids, false)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        match self.with_filter(py, |f| {
            (mode_name(f.mode()), f.ids().count(), f.member_count())
        }) {
            Ok((mode, listed, members)) => {
                format!("<rvf.Membership mode={mode} listed={listed} member_count={members}>")
            }
            Err(_) => "<rvf.Membership (unavailable)>".to_string(),
        }
    }
}
