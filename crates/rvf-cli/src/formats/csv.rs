//! `.csv` files with a header row. The vector is either one `vector` column holding a
//! JSON array (`"[0.1, 0.2]"`) or the columns `v0`, `v1`, … in order; an `id` column, when
//! present, gives ids; every other column is metadata, typed per cell: an integer, a
//! float, `true`/`false`, or else a string; an empty cell leaves the field out.

use std::fs::File;
use std::path::{Path, PathBuf};

use rvf_runtime::{MetaValue, Metadata};

use super::counting::Counting;
use super::{Batch, VectorReader};
use crate::error::{CliError, Result};

/// One row: id, vector, metadata.
type Row = (Option<u64>, Vec<f32>, Metadata);

enum VectorCols {
    /// Index of the `vector` column.
    Json(usize),
    /// Indexes of `v0..vN`, in order.
    Split(Vec<usize>),
}

pub struct CsvReader {
    path: PathBuf,
    reader: csv::Reader<Counting<File>>,
    record: csv::StringRecord,
    id_col: Option<usize>,
    vector: VectorCols,
    meta_cols: Vec<(usize, String)>,
    dim: usize,
    pending: Option<Row>,
}

impl CsvReader {
    pub fn new(path: &Path, input: Counting<File>) -> Result<CsvReader> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(input);
        let headers = reader
            .headers()
            .map_err(|e| CliError::parse(path, "header", e.to_string()))?
            .clone();
        let names: Vec<&str> = headers.iter().map(str::trim).collect();
        let find = |n: &str| names.iter().position(|h| *h == n);
        let id_col = find("id");
        let mut split = Vec::new();
        while let Some(i) = find(&format!("v{}", split.len())) {
            split.push(i);
        }
        let vector = match (find("vector"), split.is_empty()) {
            (Some(i), true) => VectorCols::Json(i),
            (None, false) => VectorCols::Split(split),
            (Some(_), false) => {
                return Err(CliError::parse(
                    path,
                    "header",
                    "has both a `vector` column and `v0`…; use one",
                ))
            }
            (None, true) => {
                return Err(CliError::parse(
                    path,
                    "header",
                    "needs a `vector` column (a JSON array) or columns v0, v1, …",
                ))
            }
        };
        let used: Vec<usize> = match &vector {
            VectorCols::Json(i) => vec![*i],
            VectorCols::Split(v) => v.clone(),
        };
        let meta_cols = names
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != id_col && !used.contains(i))
            .map(|(i, n)| (i, n.to_string()))
            .collect();
        let mut r = CsvReader {
            path: path.to_path_buf(),
            reader,
            record: csv::StringRecord::new(),
            id_col,
            vector,
            meta_cols,
            dim: 0,
            pending: None,
        };
        let first = r
            .read_row()?
            .ok_or_else(|| CliError::parse(path, "row 1", "the file holds no vectors"))?;
        r.dim = first.1.len();
        r.pending = Some(first);
        Ok(r)
    }

    fn err(&self, detail: impl Into<String>) -> CliError {
        let line = self.record.position().map_or(0, |p| p.line());
        CliError::parse(&self.path, format!("line {line}"), detail)
    }

    fn read_row(&mut self) -> Result<Option<Row>> {
        match self.reader.read_record(&mut self.record) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => return Err(self.err(e.to_string())),
        }
        let cell = |i: usize| self.record.get(i).unwrap_or("").trim();
        let id = match self.id_col {
            Some(i) => Some(cell(i).parse::<u64>().map_err(|_| {
                self.err(format!("id {:?} is not a non-negative integer", cell(i)))
            })?),
            None => None,
        };
        let vector: Vec<f32> = match &self.vector {
            VectorCols::Json(i) => {
                let v: Vec<f64> = serde_json::from_str(cell(*i)).map_err(|e| {
                    self.err(format!("`vector` is not a JSON array of numbers: {e}"))
                })?;
                v.into_iter().map(|x| x as f32).collect()
            }
            VectorCols::Split(cols) => {
                let mut v = Vec::with_capacity(cols.len());
                for (k, &i) in cols.iter().enumerate() {
                    let x = cell(i)
                        .parse::<f32>()
                        .map_err(|_| self.err(format!("v{k} {:?} is not a number", cell(i))))?;
                    v.push(x);
                }
                v
            }
        };
        if vector.is_empty() || vector.len() > usize::from(u16::MAX) {
            return Err(self.err(format!(
                "vector has {} values (need 1..=65535)",
                vector.len()
            )));
        }
        let mut meta = Metadata::new();
        for (i, name) in &self.meta_cols {
            let c = cell(*i);
            if !c.is_empty() {
                meta.insert(name.clone(), infer(c));
            }
        }
        Ok(Some((id, vector, meta)))
    }
}

fn infer(cell: &str) -> MetaValue {
    if let Ok(i) = cell.parse::<i64>() {
        return MetaValue::Int(i);
    }
    match cell {
        "true" => return MetaValue::Bool(true),
        "false" => return MetaValue::Bool(false),
        _ => {}
    }
    // Rust also parses "inf" and "NaN"; in a CSV those are more likely words.
    let numeric = cell
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
    match cell.parse::<f64>() {
        Ok(f) if numeric => MetaValue::Float(f),
        _ => MetaValue::Str(cell.to_string()),
    }
}

impl VectorReader for CsvReader {
    fn dim(&self) -> usize {
        self.dim
    }

    fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>> {
        let mut b = Batch {
            ids: self.id_col.map(|_| Vec::new()),
            ..Batch::default()
        };
        let mut rows = 0;
        while rows < max_rows.max(1) {
            let (id, vector, meta) = match self.pending.take() {
                Some(r) => r,
                None => match self.read_row()? {
                    Some(r) => r,
                    None => break,
                },
            };
            if vector.len() != self.dim {
                return Err(self.err(format!(
                    "vector has {} values, the first row's has {}",
                    vector.len(),
                    self.dim
                )));
            }
            if let (Some(ids), Some(id)) = (&mut b.ids, id) {
                ids.push(id);
            }
            b.vectors.extend_from_slice(&vector);
            b.metadata.push(meta);
            rows += 1;
        }
        Ok((rows > 0).then_some(b))
    }
}
