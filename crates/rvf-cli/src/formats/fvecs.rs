//! `.fvecs` files (the TEXMEX / ANN-benchmarks layout): each row is a little-endian
//! `i32` dimension followed by that many little-endian `f32`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::counting::Counting;
use super::{Batch, VectorReader};
use crate::error::{CliError, Result};

pub struct FvecsReader {
    path: PathBuf,
    input: BufReader<Counting<File>>,
    dim: usize,
    row: u64,
    /// The first row's values, read to learn the dimension.
    first: Option<Vec<f32>>,
    buf: Vec<u8>,
}

impl FvecsReader {
    pub fn new(path: &Path, input: Counting<File>) -> Result<FvecsReader> {
        let mut r = FvecsReader {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(1 << 20, input),
            dim: 0,
            row: 0,
            first: None,
            buf: Vec::new(),
        };
        match r.read_dim()? {
            None => Err(CliError::parse(path, "row 0", "the file holds no vectors")),
            Some(d) => {
                r.dim = d;
                r.first = Some(r.read_values(d)?);
                Ok(r)
            }
        }
    }

    /// The next row's dimension, or `None` at a clean end of file.
    fn read_dim(&mut self) -> Result<Option<usize>> {
        let mut b = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match self.input.read(&mut b[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(self.err("the file ends inside a row's dimension")),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CliError::io(&self.path, e)),
            }
        }
        let d = i32::from_le_bytes(b);
        if d <= 0 || d > i32::from(u16::MAX) {
            return Err(self.err(&format!("dimension {d} is out of range 1..=65535")));
        }
        Ok(Some(d as usize))
    }

    fn read_values(&mut self, d: usize) -> Result<Vec<f32>> {
        self.buf.resize(d * 4, 0);
        if self.input.read_exact(&mut self.buf).is_err() {
            return Err(self.err("the file ends inside a row"));
        }
        Ok(self
            .buf
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn err(&self, detail: &str) -> CliError {
        CliError::parse(&self.path, format!("row {}", self.row), detail)
    }
}

impl VectorReader for FvecsReader {
    fn dim(&self) -> usize {
        self.dim
    }

    fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>> {
        let mut vectors = Vec::with_capacity(max_rows.min(1 << 16) * self.dim);
        let mut rows = 0;
        if let Some(first) = self.first.take() {
            vectors.extend_from_slice(&first);
            rows += 1;
            self.row += 1;
        }
        while rows < max_rows.max(1) {
            let Some(d) = self.read_dim()? else { break };
            if d != self.dim {
                return Err(self.err(&format!(
                    "dimension {d} differs from the first row's {}",
                    self.dim
                )));
            }
            let v = self.read_values(d)?;
            vectors.extend_from_slice(&v);
            rows += 1;
            self.row += 1;
        }
        Ok((rows > 0).then_some(Batch {
            vectors,
            ids: None,
            metadata: Vec::new(),
        }))
    }
}
