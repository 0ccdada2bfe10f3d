//! `where=` arguments: a dict in the MongoDB-like form, or an expression string, turned
//! into an `rvf_runtime::FilterExpr`.
//!
//! Dict form: `{"lang": "en", "year": {"$gte": 2020}}`. Each key is a field (a plain value
//! means `$eq`, a dict holds operators `$eq $ne $lt $lte $gt $gte $in $not`) or one of
//! `$and`/`$or` (a list of filters) and `$not` (a filter); several keys are and-ed.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use rvf_runtime::{FilterExpr, MetaValue};

use crate::convert::meta_value;
use crate::errors::rvf_error;

/// Deeper filters are refused: conversion recurses, and a hostile filter nested a million
/// levels must raise, not overflow the stack.
const MAX_DEPTH: usize = 64;

/// The filter of a `where=` argument.
pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<FilterExpr> {
    if let Ok(s) = obj.cast::<PyString>() {
        return parse_string(obj.py(), &s.to_cow()?);
    }
    let dict = obj.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err("where must be a dict (e.g. {\"year\": {\"$gte\": 2020}}) or a string")
    })?;
    from_dict(dict, 0)
}

/// String filters use the library's expression syntax (the CLI's too), so a filter
/// means the same from every way in; a syntax error names its column.
pub fn parse_string(py: Python<'_>, expr: &str) -> PyResult<FilterExpr> {
    FilterExpr::parse(expr).map_err(|e| rvf_error(py, &e))
}

fn check_depth(depth: usize) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!(
            "filter nested deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(())
}

fn all_of(mut parts: Vec<FilterExpr>) -> FilterExpr {
    if parts.len() == 1 {
        if let Some(only) = parts.pop() {
            return only;
        }
    }
    FilterExpr::And(parts)
}

fn key_str(k: &Bound<'_, PyAny>) -> PyResult<String> {
    k.extract()
        .map_err(|_| PyTypeError::new_err(format!("filter keys must be str, got {k}")))
}

fn from_dict(d: &Bound<'_, PyDict>, depth: usize) -> PyResult<FilterExpr> {
    check_depth(depth)?;
    let mut parts = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let key = key_str(&k)?;
        let part = match key.as_str() {
            "$and" => FilterExpr::And(filter_list(&v, "$and", depth)?),
            "$or" => FilterExpr::Or(filter_list(&v, "$or", depth)?),
            "$not" => FilterExpr::Not(Box::new(sub_filter(&v, "$not", depth)?)),
            op if op.starts_with('$') => {
                return Err(PyValueError::new_err(format!(
                    "unknown filter operator {op:?} at the top of a filter \
                     (known: $and, $or, $not, or a field name)"
                )))
            }
            field => field_condition(field, &v, depth + 1)?,
        };
        parts.push(part);
    }
    Ok(all_of(parts))
}

fn sub_filter(v: &Bound<'_, PyAny>, op: &str, depth: usize) -> PyResult<FilterExpr> {
    let d = v
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err(format!("{op} takes a filter dict, got {v}")))?;
    from_dict(d, depth + 1)
}

fn filter_list(v: &Bound<'_, PyAny>, op: &str, depth: usize) -> PyResult<Vec<FilterExpr>> {
    if !(v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>()) {
        return Err(PyTypeError::new_err(format!(
            "{op} takes a list of filter dicts, got {v}"
        )));
    }
    v.try_iter()?
        .map(|item| sub_filter(&item?, op, depth))
        .collect()
}

fn scalar(v: &Bound<'_, PyAny>, field: &str) -> PyResult<MetaValue> {
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() || v.is_instance_of::<PyDict>()
    {
        return Err(PyTypeError::new_err(format!(
            "field {field:?}: expected an int, float, str or bool, got {v} \
             (use {{\"$in\": [...]}} for a list of values)"
        )));
    }
    meta_value(v, field)
}

/// The condition on one field: a plain value (`$eq`) or a dict of operators.
fn field_condition(field: &str, v: &Bound<'_, PyAny>, depth: usize) -> PyResult<FilterExpr> {
    check_depth(depth)?;
    let Ok(ops) = v.cast::<PyDict>() else {
        return Ok(FilterExpr::Eq(field.to_string(), scalar(v, field)?));
    };
    if ops.is_empty() {
        return Err(PyValueError::new_err(format!(
            "field {field:?}: empty operator dict"
        )));
    }
    let mut parts = Vec::with_capacity(ops.len());
    for (k, arg) in ops.iter() {
        let op = key_str(&k)?;
        let f = field.to_string();
        parts.push(match op.as_str() {
            "$eq" => FilterExpr::Eq(f, scalar(&arg, field)?),
            "$ne" => FilterExpr::Ne(f, scalar(&arg, field)?),
            "$lt" => FilterExpr::Lt(f, scalar(&arg, field)?),
            "$lte" => FilterExpr::Le(f, scalar(&arg, field)?),
            "$gt" => FilterExpr::Gt(f, scalar(&arg, field)?),
            "$gte" => FilterExpr::Ge(f, scalar(&arg, field)?),
            "$in" => {
                if !(arg.is_instance_of::<PyList>() || arg.is_instance_of::<PyTuple>()) {
                    return Err(PyTypeError::new_err(format!(
                        "field {field:?}: $in takes a list of values, got {arg}"
                    )));
                }
                let values = arg
                    .try_iter()?
                    .map(|x| scalar(&x?, field))
                    .collect::<PyResult<Vec<_>>>()?;
                FilterExpr::In(f, values)
            }
            "$not" => FilterExpr::Not(Box::new(field_condition(field, &arg, depth + 1)?)),
            other => {
                return Err(PyValueError::new_err(format!(
                    "field {field:?}: unknown operator {other:?} \
                     (known: $eq $ne $lt $lte $gt $gte $in $not)"
                )))
            }
        });
    }
    Ok(all_of(parts))
}

/// True for a filter that matches every vector (`{}`), which `delete(where=...)` refuses.
pub fn is_match_all(f: &FilterExpr) -> bool {
    matches!(f, FilterExpr::And(parts) if parts.is_empty())
}
