//! `.npy` files: the numpy format's magic, version, a Python-literal header, then the
//! array's bytes. Only what embeddings use is read: float32 or float64 (either byte
//! order), C order, one or two dimensions.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::counting::Counting;
use super::{Batch, VectorReader};
use crate::error::{CliError, Result};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy writes headers of a few hundred bytes; anything far larger is not one.
const MAX_HEADER: usize = 1 << 20;

pub struct NpyReader {
    path: PathBuf,
    input: BufReader<Counting<File>>,
    dim: usize,
    rows_left: u64,
    row: u64,
    item: Item,
    buf: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Item {
    size: usize,
    big_endian: bool,
}

impl NpyReader {
    pub fn new(path: &Path, input: Counting<File>) -> Result<NpyReader> {
        let mut input = BufReader::with_capacity(1 << 20, input);
        let bad = |detail: String| CliError::parse(path, "header", detail);
        let mut pre = [0u8; 8];
        input
            .read_exact(&mut pre)
            .map_err(|_| bad("too short to be a .npy file".into()))?;
        if &pre[..6] != MAGIC {
            return Err(bad("not a .npy file (bad magic bytes)".into()));
        }
        let header_len = match pre[6] {
            1 => {
                let mut b = [0u8; 2];
                input
                    .read_exact(&mut b)
                    .map_err(|_| bad("truncated".into()))?;
                usize::from(u16::from_le_bytes(b))
            }
            2 | 3 => {
                let mut b = [0u8; 4];
                input
                    .read_exact(&mut b)
                    .map_err(|_| bad("truncated".into()))?;
                u32::from_le_bytes(b) as usize
            }
            v => return Err(bad(format!("unsupported .npy version {v}"))),
        };
        if header_len > MAX_HEADER {
            return Err(bad(format!(
                "header of {header_len} bytes is implausibly large"
            )));
        }
        let mut header = vec![0u8; header_len];
        input
            .read_exact(&mut header)
            .map_err(|_| bad("truncated header".into()))?;
        let text = String::from_utf8_lossy(&header);
        let h = parse_header(&text).map_err(bad)?;
        let item = match h.descr.as_str() {
            "<f4" | "=f4" => Item {
                size: 4,
                big_endian: false,
            },
            ">f4" => Item {
                size: 4,
                big_endian: true,
            },
            "<f8" | "=f8" => Item {
                size: 8,
                big_endian: false,
            },
            ">f8" => Item {
                size: 8,
                big_endian: true,
            },
            other => {
                return Err(bad(format!(
                    "dtype {other:?} is not supported (use float32 or float64)"
                )))
            }
        };
        if h.fortran_order {
            return Err(bad(
                "Fortran-order arrays are not supported (save with np.ascontiguousarray)".into(),
            ));
        }
        let (rows, dim) = match h.shape[..] {
            [d] => (1, d),
            [r, d] => (r, d),
            _ => {
                return Err(bad(format!(
                    "shape {:?} is not supported (need 1 or 2 dimensions)",
                    h.shape
                )))
            }
        };
        if dim == 0 || dim > u64::from(u16::MAX) {
            return Err(bad(format!("dimension {dim} is out of range 1..=65535")));
        }
        Ok(NpyReader {
            path: path.to_path_buf(),
            input,
            dim: dim as usize,
            rows_left: rows,
            row: 0,
            item,
            buf: Vec::new(),
        })
    }
}

impl VectorReader for NpyReader {
    fn dim(&self) -> usize {
        self.dim
    }

    fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>> {
        if self.rows_left == 0 {
            return Ok(None);
        }
        let n = (max_rows.max(1) as u64).min(self.rows_left) as usize;
        let bytes = n * self.dim * self.item.size;
        self.buf.resize(bytes, 0);
        self.input.read_exact(&mut self.buf).map_err(|e| {
            CliError::parse(
                &self.path,
                format!("row {}", self.row),
                format!("the array data ends early ({e}); the header promises more rows"),
            )
        })?;
        let vectors: Vec<f32> = match self.item {
            Item {
                size: 4,
                big_endian,
            } => self
                .buf
                .chunks_exact(4)
                .map(|c| {
                    let b = [c[0], c[1], c[2], c[3]];
                    if big_endian {
                        f32::from_be_bytes(b)
                    } else {
                        f32::from_le_bytes(b)
                    }
                })
                .collect(),
            Item { big_endian, .. } => self
                .buf
                .chunks_exact(8)
                .map(|c| {
                    let b = [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
                    let v = if big_endian {
                        f64::from_be_bytes(b)
                    } else {
                        f64::from_le_bytes(b)
                    };
                    v as f32
                })
                .collect(),
        };
        self.rows_left -= n as u64;
        self.row += n as u64;
        Ok(Some(Batch {
            vectors,
            ids: None,
            metadata: Vec::new(),
        }))
    }
}

#[derive(Debug, PartialEq)]
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

/// A value of the header's Python dict literal.
#[derive(Debug, PartialEq)]
enum Lit {
    Str(String),
    Bool(bool),
    Int(u64),
    Tuple(Vec<Lit>),
}

fn parse_header(text: &str) -> std::result::Result<Header, String> {
    let mut p = Lex {
        s: text.trim_end().as_bytes(),
        i: 0,
    };
    p.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let Lit::Str(key) = p.value(0)? else {
            return Err("header keys must be strings".into());
        };
        p.expect(b':')?;
        let v = p.value(0)?;
        match (key.as_str(), v) {
            ("descr", Lit::Str(s)) => descr = Some(s),
            ("fortran_order", Lit::Bool(b)) => fortran = Some(b),
            ("shape", Lit::Tuple(items)) => {
                let dims = items
                    .into_iter()
                    .map(|x| match x {
                        Lit::Int(n) => Ok(n),
                        _ => Err("shape holds a non-integer".to_string()),
                    })
                    .collect::<std::result::Result<Vec<u64>, String>>()?;
                shape = Some(dims);
            }
            (k, _) => return Err(format!("unexpected header entry {k:?}")),
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.expect(b'}')?;
            break;
        }
    }
    match (descr, fortran, shape) {
        (Some(descr), Some(fortran_order), Some(shape)) => Ok(Header {
            descr,
            fortran_order,
            shape,
        }),
        _ => Err("header lacks descr, fortran_order or shape".into()),
    }
}

struct Lex<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lex<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "expected {:?} at byte {} of the header",
                c as char, self.i
            ))
        }
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Lit, String> {
        self.skip_ws();
        let rest = self.s.get(self.i..).unwrap_or(&[]);
        match rest.first() {
            Some(&q @ (b'\'' | b'"')) => {
                let len = rest[1..]
                    .iter()
                    .position(|&c| c == q)
                    .ok_or("unterminated string in the header")?;
                self.i += len + 2;
                Ok(Lit::Str(
                    String::from_utf8_lossy(&rest[1..1 + len]).into_owned(),
                ))
            }
            Some(b'(') if depth < 4 => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.eat(b')') {
                        return Ok(Lit::Tuple(items));
                    }
                    items.push(self.value(depth + 1)?);
                    if !self.eat(b',') {
                        self.expect(b')')?;
                        return Ok(Lit::Tuple(items));
                    }
                }
            }
            Some(c) if c.is_ascii_digit() => {
                let len = rest.iter().take_while(|c| c.is_ascii_digit()).count();
                let text = String::from_utf8_lossy(&rest[..len]);
                self.i += len;
                // numpy may write `50000L` on Python 2.
                if self.s.get(self.i) == Some(&b'L') {
                    self.i += 1;
                }
                text.parse()
                    .map(Lit::Int)
                    .map_err(|_| format!("integer {text} too large"))
            }
            _ if rest.starts_with(b"True") => {
                self.i += 4;
                Ok(Lit::Bool(true))
            }
            _ if rest.starts_with(b"False") => {
                self.i += 5;
                Ok(Lit::Bool(false))
            }
            _ => Err(format!("unexpected text at byte {} of the header", self.i)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_numpy_writes() {
        let h = parse_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (50000, 384), }          \n",
        )
        .unwrap();
        assert_eq!(h.shape, vec![50000, 384]);
        assert_eq!(h.descr, "<f4");
        assert!(!h.fortran_order);
        let h = parse_header("{'descr': '>f8', 'fortran_order': True, 'shape': (7,), }").unwrap();
        assert_eq!(h.shape, vec![7]);
        assert!(h.fortran_order);
        assert!(parse_header("{'descr': '<f4'}").is_err());
        assert!(
            parse_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 'x')}").is_err()
        );
        assert!(parse_header("{'shape': ((((((1))))))}").is_err());
        assert!(parse_header("").is_err());
        assert!(parse_header("{'descr': '<f4', 'shape': (99999999999999999999999,)}").is_err());
    }
}
