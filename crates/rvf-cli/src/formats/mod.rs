//! Readers of vector files, chosen by extension. Each yields batches of rows: a flat
//! row-major `f32` matrix, the rows' ids when the file has them, and their metadata.
//!
//! | extension | layout |
//! |---|---|
//! | `.npy` | numpy array, float32 or float64, 1-D (one vector) or 2-D, C order |
//! | `.fvecs` | per row: `i32` dimension, then that many little-endian `f32` |
//! | `.jsonl` | one object per line: `vector` (array of numbers), optional `id`, other fields are metadata |
//! | `.csv` | a header row; optional `id` column; the vector as a `vector` column holding a JSON array, or as columns `v0`, `v1`, …; other columns are metadata |

mod counting;
mod csv;
mod fvecs;
mod jsonl;
pub mod meta;
mod npy;

use std::path::Path;

use rvf_runtime::Metadata;

use crate::error::{CliError, Result};

pub use counting::Progress;

/// Rows read from a file.
#[derive(Debug, Default)]
pub struct Batch {
    /// `rows × dim` values, row after row.
    pub vectors: Vec<f32>,
    /// One id per row, when the file gives ids.
    pub ids: Option<Vec<u64>>,
    /// One entry per row (possibly empty maps), or empty when the file has no metadata.
    pub metadata: Vec<Metadata>,
}

impl Batch {
    pub fn rows(&self, dim: usize) -> usize {
        self.vectors.len() / dim.max(1)
    }
}

/// A source of vectors.
pub trait VectorReader {
    /// Dimension of every row.
    fn dim(&self) -> usize;
    /// Up to `max_rows` more rows; `None` at the end.
    fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>>;
}

/// Opens `path` with the reader its extension names. `progress` counts the bytes read.
pub fn open(path: &Path, progress: Progress) -> Result<Box<dyn VectorReader>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let file = std::fs::File::open(path).map_err(|e| CliError::io(path, e))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(CliError::InvalidArgument(format!(
            "{}: is a directory, not a vector file",
            path.display()
        )));
    }
    let input = counting::Counting::new(file, progress);
    Ok(match ext.as_str() {
        "npy" => Box::new(npy::NpyReader::new(path, input)?),
        "fvecs" => Box::new(fvecs::FvecsReader::new(path, input)?),
        "jsonl" | "ndjson" => Box::new(jsonl::JsonlReader::new(path, input)?),
        "csv" => Box::new(csv::CsvReader::new(path, input)?),
        _ => {
            return Err(CliError::UnsupportedFormat(format!(
                "{}: unknown vector file type {:?} (expected .npy, .fvecs, .jsonl or .csv)",
                path.display(),
                ext
            )))
        }
    })
}

/// Reads row `row` of a vector file (for `rvf query --vector-file`).
pub fn read_row(path: &Path, row: usize) -> Result<Vec<f32>> {
    let mut reader = open(path, Progress::default())?;
    let dim = reader.dim();
    let mut skipped = 0usize;
    while let Some(batch) = reader.next_batch(4096)? {
        let n = batch.rows(dim);
        if row < skipped + n {
            let at = (row - skipped) * dim;
            return Ok(batch.vectors.get(at..at + dim).unwrap_or(&[]).to_vec());
        }
        skipped += n;
    }
    Err(CliError::InvalidArgument(format!(
        "{}: has {skipped} rows, so there is no row {row}",
        path.display()
    )))
}
