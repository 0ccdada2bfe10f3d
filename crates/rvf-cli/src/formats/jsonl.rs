//! `.jsonl` files: one JSON object per line with a `vector` array, an optional `id`
//! (every line has one, or none does), and other fields that become metadata. Blank
//! lines are skipped.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use rvf_runtime::Metadata;
use serde_json::Value;

use super::counting::Counting;
use super::meta::{json_id, object_to_meta};
use super::{Batch, VectorReader};
use crate::error::{CliError, Result};

pub struct JsonlReader {
    path: PathBuf,
    lines: std::io::Lines<BufReader<Counting<File>>>,
    line: u64,
    dim: usize,
    has_ids: bool,
    pending: Option<Row>,
}

struct Row {
    id: Option<u64>,
    vector: Vec<f32>,
    meta: Metadata,
}

impl JsonlReader {
    pub fn new(path: &Path, input: Counting<File>) -> Result<JsonlReader> {
        let mut r = JsonlReader {
            path: path.to_path_buf(),
            lines: BufReader::with_capacity(1 << 20, input).lines(),
            line: 0,
            dim: 0,
            has_ids: false,
            pending: None,
        };
        let first = r
            .read_row()?
            .ok_or_else(|| CliError::parse(path, "line 1", "the file holds no vectors"))?;
        r.dim = first.vector.len();
        r.has_ids = first.id.is_some();
        r.pending = Some(first);
        Ok(r)
    }

    fn err(&self, detail: impl Into<String>) -> CliError {
        CliError::parse(&self.path, format!("line {}", self.line), detail)
    }

    fn read_row(&mut self) -> Result<Option<Row>> {
        let text = loop {
            let Some(line) = self.lines.next() else {
                return Ok(None);
            };
            self.line += 1;
            let line = line.map_err(|e| self.err(e.to_string()))?;
            if !line.trim().is_empty() {
                break line;
            }
        };
        let v: Value = serde_json::from_str(&text).map_err(|e| self.err(e.to_string()))?;
        let Value::Object(obj) = v else {
            return Err(self.err("expected a JSON object"));
        };
        let id = match obj.get("id") {
            Some(v) => Some(json_id(v).map_err(|e| self.err(e))?),
            None => None,
        };
        let Some(Value::Array(items)) = obj.get("vector") else {
            return Err(self.err("expected a `vector` field holding an array of numbers"));
        };
        let mut vector = Vec::with_capacity(items.len());
        for (i, x) in items.iter().enumerate() {
            let f = x
                .as_f64()
                .ok_or_else(|| self.err(format!("vector[{i}] is {x}, not a number")))?;
            vector.push(f as f32);
        }
        if vector.is_empty() || vector.len() > usize::from(u16::MAX) {
            return Err(self.err(format!(
                "vector has {} values (need 1..=65535)",
                vector.len()
            )));
        }
        let meta = object_to_meta(&obj, &["id", "vector"]).map_err(|e| self.err(e))?;
        Ok(Some(Row { id, vector, meta }))
    }
}

impl VectorReader for JsonlReader {
    fn dim(&self) -> usize {
        self.dim
    }

    fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>> {
        let mut b = Batch {
            ids: self.has_ids.then(Vec::new),
            ..Batch::default()
        };
        let mut rows = 0;
        while rows < max_rows.max(1) {
            let row = match self.pending.take() {
                Some(r) => r,
                None => match self.read_row()? {
                    Some(r) => r,
                    None => break,
                },
            };
            if row.vector.len() != self.dim {
                return Err(self.err(format!(
                    "vector has {} values, the first line's has {}",
                    row.vector.len(),
                    self.dim
                )));
            }
            match (&mut b.ids, row.id) {
                (Some(ids), Some(id)) => ids.push(id),
                (None, None) => {}
                (Some(_), None) => return Err(self.err("no `id`, but the first line has one")),
                (None, Some(_)) => {
                    return Err(self.err(
                        "an `id`, but the first line has none (give every line an id, or none)",
                    ))
                }
            }
            b.vectors.extend_from_slice(&row.vector);
            b.metadata.push(row.meta);
            rows += 1;
        }
        Ok((rows > 0).then_some(b))
    }
}
