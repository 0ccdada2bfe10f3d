//! The exception hierarchy: `rvf.RvfError` and one subclass per kind of failure, each
//! instance carrying the stable `code` of `rvf_runtime::RvfError::code`.
//!
//! The classes are made at module import with `type(name, bases, ns)`, because a few of
//! them also derive from a builtin (`DimensionError` is a `ValueError`, `NotFoundError` a
//! `FileNotFoundError`) so that ordinary `except ValueError:` code keeps working.

use std::collections::HashMap;
use std::path::Path;

use pyo3::exceptions::{
    PyException, PyFileExistsError, PyFileNotFoundError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use rvf_runtime::RvfError;

/// Codes the binding raises itself; the others come from `RvfError::code`.
pub const CODE_CLOSED: &str = "RVF_E_CLOSED";
pub const CODE_UNSUPPORTED: &str = "RVF_E_UNSUPPORTED";
const CODE_POISONED: &str = "RVF_E_POISONED";

/// A builtin exception a class derives from besides `RvfError`.
#[derive(Clone, Copy)]
enum Also {
    Nothing,
    ValueError,
    FileNotFound,
    FileExists,
}

struct Class {
    name: &'static str,
    code: &'static str,
    also: Also,
    doc: &'static str,
}

const BASE: &str = "RvfError";

const CLASSES: &[Class] = &[
    Class { name: "IoError", code: "RVF_E_IO", also: Also::Nothing,
        doc: "An operating-system I/O call failed (the message names the file and the operation)." },
    Class { name: "CorruptError", code: "RVF_E_CORRUPT", also: Also::Nothing,
        doc: "The file is damaged; the message names the byte offset and what was wrong." },
    Class { name: "NotAStoreError", code: "RVF_E_NOT_A_STORE", also: Also::Nothing,
        doc: "The file is not an RVF store (no valid root), e.g. a damaged header or another kind of file." },
    Class { name: "IncompatibleError", code: "RVF_E_INCOMPATIBLE", also: Also::Nothing,
        doc: "The file needs a feature or format version this build cannot read or write." },
    Class { name: "ExistsError", code: "RVF_E_EXISTS", also: Also::FileExists,
        doc: "`Store.create` or `branch` was given a path that already exists." },
    Class { name: "NotFoundError", code: "RVF_E_NOT_FOUND", also: Also::FileNotFound,
        doc: "No file at the path given to `Store.open`." },
    Class { name: "LockedError", code: "RVF_E_LOCKED", also: Also::Nothing,
        doc: "Another writer holds the store open; open it with `read_only=True`, or close the other writer." },
    Class { name: "InvalidArgumentError", code: "RVF_E_INVALID_ARGUMENT", also: Also::ValueError,
        doc: "An argument the store refused (e.g. a NaN in a query, a bad cluster size)." },
    Class { name: "DimensionError", code: "RVF_E_DIMENSION", also: Also::ValueError,
        doc: "A vector or query whose dimension differs from the store's." },
    Class { name: "FrozenError", code: "RVF_E_FROZEN", also: Also::Nothing,
        doc: "A write to a frozen store; branch from it to keep writing." },
    Class { name: "ReadOnlyError", code: "RVF_E_READ_ONLY", also: Also::Nothing,
        doc: "A write to a store opened with `read_only=True`." },
    Class { name: "PoisonedError", code: CODE_POISONED, also: Also::Nothing,
        doc: "An earlier write failed part-way; reopen the store before writing again." },
    Class { name: "NotAChildError", code: "RVF_E_NOT_A_CHILD", also: Also::Nothing,
        doc: "A branch-only operation (membership) on a store that has no parent." },
    Class { name: "ParentMissingError", code: "RVF_E_PARENT_MISSING", also: Also::Nothing,
        doc: "A branch's parent file was not found; the message names its file id and the paths tried." },
    Class { name: "ParentMismatchError", code: "RVF_E_PARENT_MISMATCH", also: Also::Nothing,
        doc: "A branch's parent was found but changed or was compacted since the branch was made." },
    Class { name: "LineageTooDeepError", code: "RVF_E_LINEAGE_DEPTH", also: Also::Nothing,
        doc: "A branch would exceed the maximum lineage depth (64)." },
    Class { name: "TruncatedError", code: "RVF_E_TRUNCATED", also: Also::Nothing,
        doc: "The file is shorter than its last commit (a lost tail); `Store.open(path, recover=True)` opens the newest generation it still holds." },
    Class { name: "InternalError", code: "RVF_E_INTERNAL", also: Also::Nothing,
        doc: "A broken invariant inside rvf (a bug): please report it with the message." },
    Class { name: "ClosedError", code: CODE_CLOSED, also: Also::Nothing,
        doc: "The store was closed; every call after `close()` raises this." },
    Class { name: "UnsupportedError", code: CODE_UNSUPPORTED, also: Also::ValueError,
        doc: "An argument this build of rvf does not support yet (see the message)." },
];

/// The classes made at import, by name (`RvfError` included).
struct Registry {
    by_name: HashMap<&'static str, Py<PyType>>,
}

static REGISTRY: PyOnceLock<Registry> = PyOnceLock::new();

/// Makes the classes and adds them to the module. Called once, from the module init.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let type_fn = py.import("builtins")?.getattr("type")?;
    let make = |name: &str, bases: Bound<'_, PyTuple>, doc: &str| -> PyResult<Py<PyType>> {
        let ns = PyDict::new(py);
        ns.set_item("__module__", "rvf")?;
        ns.set_item("__doc__", doc)?;
        ns.set_item("code", py.None())?;
        Ok(type_fn
            .call1((name, bases, ns))?
            .cast_into::<PyType>()?
            .unbind())
    };
    let base = make(
        BASE,
        PyTuple::new(py, [py.get_type::<PyException>()])?,
        "Base of every error rvf raises. `code` holds a stable machine-readable code such \
         as 'RVF_E_LOCKED' (the codes of rvf_runtime::RvfError::code, plus 'RVF_E_CLOSED' \
         and 'RVF_E_UNSUPPORTED' from the binding).",
    )?;
    let mut by_name = HashMap::new();
    for c in CLASSES {
        let mut bases = vec![base.bind(py).clone()];
        match c.also {
            Also::Nothing => {}
            Also::ValueError => bases.push(py.get_type::<PyValueError>()),
            Also::FileNotFound => bases.push(py.get_type::<PyFileNotFoundError>()),
            Also::FileExists => bases.push(py.get_type::<PyFileExistsError>()),
        }
        let ty = make(c.name, PyTuple::new(py, bases)?, c.doc)?;
        m.add(c.name, ty.bind(py))?;
        by_name.insert(c.name, ty);
    }
    m.add(BASE, base.bind(py))?;
    by_name.insert(BASE, base);
    // A second import of the module in the same interpreter keeps the first classes.
    let _ = REGISTRY.set(py, Registry { by_name });
    Ok(())
}

fn class_for_code(code: &str) -> &'static str {
    CLASSES
        .iter()
        .find(|c| c.code == code)
        .map_or(BASE, |c| c.name)
}

/// An exception of the class registered for `code`, with `code` set on the instance.
pub fn raise(py: Python<'_>, code: &str, message: String) -> PyErr {
    let Some(ty) = REGISTRY
        .get(py)
        .and_then(|r| r.by_name.get(class_for_code(code)))
    else {
        return PyRuntimeError::new_err(format!("{code}: {message}"));
    };
    let err = PyErr::from_type(ty.bind(py).clone(), (message,));
    if let Err(e) = err.value(py).setattr("code", code) {
        return e;
    }
    err
}

/// What went wrong inside a call that ran without the GIL; turned into a Python exception
/// once the GIL is held again.
#[derive(Debug)]
pub enum Failure {
    Rvf(RvfError),
    Closed,
    /// An earlier call panicked while holding the store's lock.
    LockPoisoned,
    /// Any other argument error found with the store in hand (`ValueError`).
    Value(String),
}

impl From<RvfError> for Failure {
    fn from(e: RvfError) -> Self {
        Failure::Rvf(e)
    }
}

impl Failure {
    pub fn into_pyerr(self, py: Python<'_>, path: &Path) -> PyErr {
        match self {
            Failure::Rvf(e) => rvf_error(py, &e),
            Failure::Closed => raise(
                py,
                CODE_CLOSED,
                format!("{}: the store is closed", path.display()),
            ),
            Failure::LockPoisoned => raise(
                py,
                CODE_POISONED,
                format!(
                    "{}: an earlier call on this store failed unexpectedly; reopen the store",
                    path.display()
                ),
            ),
            Failure::Value(msg) => PyValueError::new_err(msg),
        }
    }
}

pub fn rvf_error(py: Python<'_>, e: &RvfError) -> PyErr {
    raise(py, e.code(), e.to_string())
}

/// `DimensionError`: a shape that does not fit the store's dimension.
pub fn dimension_error(py: Python<'_>, message: String) -> PyErr {
    raise(py, "RVF_E_DIMENSION", message)
}
