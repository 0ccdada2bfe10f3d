//! Metadata from JSON: typed values, and the side file that `--metadata` joins to the
//! rows of a vector file line by line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use rvf_runtime::{MetaValue, Metadata};
use serde_json::{Map, Value};

use crate::error::{CliError, Result};

/// Converts a JSON value to a metadata value. `null` gives `None` (the field is left
/// out); arrays and objects are refused, since metadata values are scalars.
pub fn json_to_meta(field: &str, v: &Value) -> std::result::Result<Option<MetaValue>, String> {
    Ok(Some(match v {
        Value::Null => return Ok(None),
        Value::Bool(b) => MetaValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => MetaValue::Int(i),
            (None, Some(_)) if n.is_u64() => {
                return Err(format!("field {field:?}: integer {n} does not fit in i64"))
            }
            (None, Some(f)) => MetaValue::Float(f),
            _ => return Err(format!("field {field:?}: number {n} is out of range")),
        },
        Value::String(s) => MetaValue::Str(s.clone()),
        Value::Array(_) | Value::Object(_) => {
            return Err(format!(
                "field {field:?} is an array or object; metadata values are integers, floats, strings or booleans"
            ))
        }
    }))
}

pub fn meta_to_json(v: &MetaValue) -> Value {
    match v {
        MetaValue::Int(i) => Value::from(*i),
        MetaValue::Float(f) => serde_json::Number::from_f64(*f)
            .map_or_else(|| Value::String(f.to_string()), Value::Number),
        MetaValue::Str(s) => Value::String(s.clone()),
        MetaValue::Bool(b) => Value::Bool(*b),
    }
}

pub fn metadata_to_json(m: &Metadata) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), meta_to_json(v)))
            .collect(),
    )
}

/// Reads an `id` field: a non-negative integer.
pub fn json_id(v: &Value) -> std::result::Result<u64, String> {
    v.as_u64()
        .ok_or_else(|| format!("`id` must be a non-negative integer, found {v}"))
}

/// Turns an object's fields (except those in `skip`) into metadata.
pub fn object_to_meta(
    obj: &Map<String, Value>,
    skip: &[&str],
) -> std::result::Result<Metadata, String> {
    let mut m = Metadata::new();
    for (k, v) in obj {
        if skip.contains(&k.as_str()) {
            continue;
        }
        if let Some(mv) = json_to_meta(k, v)? {
            m.insert(k.clone(), mv);
        }
    }
    Ok(m)
}

/// The `--metadata` side file: line `i` describes row `i` of the vector file. An `id`
/// field, when present, gives the row's id; the other fields are its metadata.
pub struct SideFile {
    path: PathBuf,
    lines: std::io::Lines<BufReader<File>>,
    line: u64,
}

/// One row's share of the side file.
pub struct SideRow {
    pub id: Option<u64>,
    pub meta: Metadata,
}

impl SideFile {
    pub fn open(path: &Path) -> Result<SideFile> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "jsonl" | "ndjson") {
            return Err(CliError::UnsupportedFormat(format!(
                "{}: a metadata file must be .jsonl (one JSON object per line)",
                path.display()
            )));
        }
        let f = File::open(path).map_err(|e| CliError::io(path, e))?;
        Ok(SideFile {
            path: path.to_path_buf(),
            lines: BufReader::with_capacity(1 << 20, f).lines(),
            line: 0,
        })
    }

    /// The next line's id and metadata; `None` when the file has no more lines.
    pub fn next_row(&mut self) -> Result<Option<SideRow>> {
        let Some(line) = self.lines.next() else {
            return Ok(None);
        };
        self.line += 1;
        let at = format!("line {}", self.line);
        let line = line.map_err(|e| CliError::parse(&self.path, at.clone(), e.to_string()))?;
        let v: Value = serde_json::from_str(&line)
            .map_err(|e| CliError::parse(&self.path, at.clone(), e.to_string()))?;
        let Value::Object(obj) = v else {
            return Err(CliError::parse(&self.path, at, "expected a JSON object"));
        };
        let id = match obj.get("id") {
            Some(v) => Some(json_id(v).map_err(|e| CliError::parse(&self.path, at.clone(), e))?),
            None => None,
        };
        let meta = object_to_meta(&obj, &["id"]).map_err(|e| CliError::parse(&self.path, at, e))?;
        Ok(Some(SideRow { id, meta }))
    }

    pub fn lines_read(&self) -> u64 {
        self.line
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
