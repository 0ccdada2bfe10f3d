//! Python values in and out: numpy matrices of vectors, id arrays and metadata dicts.

use numpy::{
    PyArray1, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use rvf_runtime::{MetaValue, Metadata};

/// `vectors` as a C-contiguous float32 numpy array. An array that already is one is
/// borrowed in place (the zero-copy path); any other array of floats or integers, or a
/// nested list, is converted by numpy once.
pub fn f32_array<'py>(
    obj: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<PyReadonlyArrayDyn<'py, f32>> {
    if let Ok(arr) = obj.cast::<PyArrayDyn<f32>>() {
        // `as_slice` also accepts Fortran order, whose rows are not contiguous: only a
        // C-ordered array may be read as row-major (and only an aligned one at all).
        if arr.is_c_contiguous() && arr.is_aligned() {
            if let Ok(ro) = arr.try_readonly() {
                return Ok(ro);
            }
        }
    }
    let py = obj.py();
    let np = py.import("numpy")?;
    let arr = np.call_method1("asarray", (obj,))?;
    let arr = arr.cast_into::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be array-like (a numpy array or nested list)"
        ))
    })?;
    let kind = arr.dtype().kind();
    if !matches!(kind, b'f' | b'i' | b'u') {
        return Err(PyTypeError::new_err(format!(
            "{what} must hold floating-point numbers, got dtype {}",
            arr.dtype()
        )));
    }
    let converted = c_aligned(&np, arr.as_any(), "float32")?;
    let converted = converted.cast_into::<PyArrayDyn<f32>>()?;
    Ok(converted.try_readonly()?)
}

/// The row-major floats of an array made by `f32_array`.
pub fn floats<'a>(arr: &'a PyReadonlyArrayDyn<'_, f32>) -> PyResult<&'a [f32]> {
    slice_of(arr)
}

/// `(2, 3)`-style text of a numpy shape, for error messages.
pub fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// Ids as `u64`: a 1-D array or sequence of non-negative integers (a single integer is
/// one id).
pub fn ids(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u64>> {
    if let Ok(arr) = obj.cast::<PyArray1<u64>>() {
        if let Ok(ro) = arr.try_readonly() {
            if let Ok(ids) = ro.as_slice() {
                return Ok(ids.to_vec());
            }
        }
    }
    let py = obj.py();
    let np = py.import("numpy")?;
    let arr = np.call_method1("asarray", (obj,))?;
    let arr = arr
        .cast_into::<PyUntypedArray>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be integers")))?;
    if arr.len() == 0 && arr.ndim() <= 1 {
        // `[]` becomes a float64 array in numpy: an empty list of ids is still valid.
        return Ok(Vec::new());
    }
    let kind = arr.dtype().kind();
    if !matches!(kind, b'i' | b'u') {
        return Err(PyTypeError::new_err(format!(
            "{what} must be integers in [0, 2**64), got dtype {}",
            arr.dtype()
        )));
    }
    if arr.ndim() > 1 {
        return Err(PyValueError::new_err(format!(
            "{what} must be 1-D, got shape {}",
            shape_text(arr.shape())
        )));
    }
    let flat = arr.call_method1("reshape", (-1,))?;
    if kind == b'i' {
        let signed = c_aligned(&np, &flat, "int64")?.cast_into::<PyArray1<i64>>()?;
        let ro = signed.try_readonly()?;
        return slice_of(&ro)?
            .iter()
            .map(|&v| {
                u64::try_from(v).map_err(|_| {
                    PyValueError::new_err(format!("{what} must be non-negative, got {v}"))
                })
            })
            .collect();
    }
    let unsigned = c_aligned(&np, &flat, "uint64")?.cast_into::<PyArray1<u64>>()?;
    let ro = unsigned.try_readonly()?;
    Ok(slice_of(&ro)?.to_vec())
}

/// `arr` as a C-contiguous, aligned array of `dtype`: the array itself when it already is
/// one, else a copy. (Not `ascontiguousarray`, which turns a 0-d array into a 1-d one.)
fn c_aligned<'py>(
    np: &Bound<'py, PyModule>,
    arr: &Bound<'py, PyAny>,
    dtype: &str,
) -> PyResult<Bound<'py, PyAny>> {
    np.call_method1("require", (arr, np.getattr(dtype)?, ["C", "A"]))
}

fn slice_of<'a, T: numpy::Element, D: numpy::ndarray::Dimension>(
    ro: &'a numpy::PyReadonlyArray<'_, T, D>,
) -> PyResult<&'a [T]> {
    ro.as_slice()
        .map_err(|_| PyValueError::new_err("array is not contiguous in memory"))
}

/// One metadata value: int, float, str or bool (numpy integer and floating scalars too).
pub fn meta_value(v: &Bound<'_, PyAny>, field: &str) -> PyResult<MetaValue> {
    // bool before int: Python's bool is an int subclass.
    if v.is_instance_of::<PyBool>() {
        return Ok(MetaValue::Bool(v.extract()?));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(MetaValue::Str(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() || (!v.is_instance_of::<PyFloat>() && v.hasattr("__index__")?) {
        return v.extract::<i64>().map(MetaValue::Int).map_err(|_| {
            PyValueError::new_err(format!(
                "metadata field {field:?}: integer {v} does not fit in 64 bits"
            ))
        });
    }
    if v.is_instance_of::<PyFloat>() || v.hasattr("__float__")? {
        return Ok(MetaValue::Float(v.extract()?));
    }
    Err(PyTypeError::new_err(format!(
        "metadata field {field:?}: values must be int, float, str or bool, got {}",
        v.get_type().name()?
    )))
}

/// One vector's metadata from a dict (`None` is no metadata).
pub fn metadata(obj: &Bound<'_, PyAny>) -> PyResult<Metadata> {
    let mut out = Metadata::new();
    if obj.is_none() {
        return Ok(out);
    }
    let dict = obj.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!(
            "metadata entries must be dicts (or None), got {}",
            obj.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    })?;
    for (k, v) in dict.iter() {
        let key: String = k
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("metadata keys must be str, got {k}")))?;
        let value = meta_value(&v, &key)?;
        out.insert(key, value);
    }
    Ok(out)
}

/// A list of `n` metadata dicts.
pub fn metadata_list(obj: &Bound<'_, PyAny>, n: usize) -> PyResult<Vec<Metadata>> {
    if !(obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>()) {
        return Err(PyTypeError::new_err(
            "metadata must be a list of dicts, one per vector",
        ));
    }
    let len = obj.len()?;
    if len != n {
        return Err(PyValueError::new_err(format!(
            "{len} metadata entries for {n} vectors"
        )));
    }
    obj.try_iter()?.map(|item| metadata(&item?)).collect()
}

pub fn meta_to_py<'py>(py: Python<'py>, v: &MetaValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        MetaValue::Int(i) => i.into_pyobject(py)?.into_any(),
        MetaValue::Float(f) => f.into_pyobject(py)?.into_any(),
        MetaValue::Str(s) => s.into_pyobject(py)?.into_any(),
        MetaValue::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
    })
}

pub fn metadata_to_dict<'py>(
    py: Python<'py>,
    m: Option<&Metadata>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in m.into_iter().flatten() {
        d.set_item(k, meta_to_py(py, v)?)?;
    }
    Ok(d)
}
