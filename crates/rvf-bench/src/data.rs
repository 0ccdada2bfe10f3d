//! Datasets: real MiniLM embeddings read from `.npy`, and clustered Gaussian vectors
//! generated deterministically and written to raw `.f32` files the peer reads too.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rvf_runtime::DistanceMetric;

use crate::BenchResult;

/// Row-major `n x dim` float32 matrix.
pub struct Matrix {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Rows `start..end` as slices, the shape `ingest_batch` and `query_batch` take.
    pub fn rows(&self, start: usize, end: usize) -> Vec<&[f32]> {
        (start..end).map(|i| self.row(i)).collect()
    }

    /// The raw little-endian bytes of the matrix.
    pub fn bytes(&self) -> Vec<u8> {
        self.data.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
}

/// A base set and its queries, as files (for the peer) and in memory (for us).
pub struct Dataset {
    /// Short name used in the report, e.g. `synthetic 1M×128`.
    pub name: String,
    /// File-name friendly key, e.g. `synth-1000000x128`.
    pub key: String,
    pub metric: DistanceMetric,
    pub base: Matrix,
    pub queries: Matrix,
    pub base_path: PathBuf,
    pub queries_path: PathBuf,
    /// Exact top ids per query by the dataset's metric (MiniLM ships them).
    pub ground_truth: Option<Vec<Vec<u64>>>,
}

impl Dataset {
    pub fn peer_metric(&self) -> &'static str {
        match self.metric {
            DistanceMetric::InnerProduct => "ip",
            _ => "l2",
        }
    }
}

/// SplitMix64: a tiny, well-mixed, reproducible generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (tiny modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Fills `out` with standard normal samples (Box–Muller).
    pub fn fill_normal(&mut self, out: &mut [f32], scale: f32) {
        for pair in out.chunks_mut(2) {
            let r = (-2.0 * self.unit().ln()).sqrt();
            let t = std::f64::consts::TAU * self.unit();
            pair[0] = (r * t.cos()) as f32 * scale;
            if let Some(second) = pair.get_mut(1) {
                *second = (r * t.sin()) as f32 * scale;
            }
        }
    }

    /// `count` distinct values from `pool`, scattered uniformly.
    pub fn sample<T: Copy>(&mut self, pool: &[T], count: usize) -> Vec<T> {
        let mut idx: Vec<usize> = (0..pool.len()).collect();
        let count = count.min(pool.len());
        for i in 0..count {
            let j = i + self.below((pool.len() - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx[..count].iter().map(|&i| pool[i]).collect()
    }
}

/// Parameters of the clustered Gaussian data: `centroids` centres drawn from N(0, 1) per
/// coordinate, each point a uniformly chosen centre plus N(0, `NOISE`^2) noise.
pub const CENTROIDS: usize = 1000;
const NOISE: f32 = 0.35;
/// Bump when the generator changes, so stale files are not reused.
const GENERATOR_VERSION: u32 = 1;

/// Generates `n` points (and `nq` queries from the same clusters) for `dim`, all from `seed`.
pub fn clustered(n: usize, nq: usize, dim: usize, seed: u64) -> (Matrix, Matrix) {
    let mut rng = Rng::new(seed);
    let mut centres = vec![0f32; CENTROIDS * dim];
    rng.fill_normal(&mut centres, 1.0);
    let draw = |count: usize, rng: &mut Rng| {
        let mut data = vec![0f32; count * dim];
        for row in data.chunks_mut(dim) {
            let c = rng.below(CENTROIDS as u64) as usize;
            rng.fill_normal(row, NOISE);
            for (x, m) in row.iter_mut().zip(&centres[c * dim..(c + 1) * dim]) {
                *x += m;
            }
        }
        Matrix { dim, data }
    };
    let base = draw(n, &mut rng);
    let queries = draw(nq, &mut rng);
    (base, queries)
}

/// The clustered dataset of `n` x `dim`, read from `dir` or generated and written there.
pub fn synthetic(dir: &Path, n: usize, dim: usize, nq: usize) -> BenchResult<Dataset> {
    let key = format!("synth-{n}x{dim}");
    let base_path = dir.join(format!("{key}-v{GENERATOR_VERSION}.f32"));
    let queries_path = dir.join(format!("{key}-v{GENERATOR_VERSION}-queries{nq}.f32"));
    let expect = |rows: usize| (rows * dim * 4) as u64;
    let cached =
        |p: &Path, rows: usize| std::fs::metadata(p).is_ok_and(|m| m.len() == expect(rows));
    let (base, queries) = if cached(&base_path, n) && cached(&queries_path, nq) {
        crate::progress(format!("reading {}", base_path.display()));
        (read_f32(&base_path, dim)?, read_f32(&queries_path, dim)?)
    } else {
        crate::progress(format!("generating {key} ({CENTROIDS} clusters)"));
        let seed = 0x5256_4600 ^ (n as u64) << 16 ^ dim as u64;
        let (base, queries) = clustered(n, nq, dim, seed);
        std::fs::create_dir_all(dir)?;
        write_f32(&base_path, &base)?;
        write_f32(&queries_path, &queries)?;
        (base, queries)
    };
    Ok(Dataset {
        name: format!("synthetic {}×{dim}", count_label(n)),
        key,
        metric: DistanceMetric::L2,
        base,
        queries,
        base_path,
        queries_path,
        ground_truth: None,
    })
}

/// The MiniLM set in `dir` (`minilm-a.npy`, `-queries.npy`, `-gt.npy`).
pub fn minilm(dir: &Path) -> BenchResult<Dataset> {
    let base_path = dir.join("minilm-a.npy");
    let queries_path = dir.join("minilm-a-queries.npy");
    let base = read_npy_f32(&base_path)?;
    let queries = read_npy_f32(&queries_path)?;
    let (rows, cols, gt) = read_npy_i64(&dir.join("minilm-a-gt.npy"))?;
    let ground_truth = (0..rows)
        .map(|r| {
            gt[r * cols..(r + 1) * cols]
                .iter()
                .map(|&x| x as u64)
                .collect()
        })
        .collect();
    Ok(Dataset {
        name: format!("MiniLM {}×{}", count_label(base.len()), base.dim),
        key: "minilm-a".into(),
        metric: DistanceMetric::InnerProduct,
        base,
        queries,
        base_path,
        queries_path,
        ground_truth: Some(ground_truth),
    })
}

/// `1000000` → `1M`, `200000` → `200k`.
pub fn count_label(n: usize) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1000 && n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

fn write_f32(path: &Path, m: &Matrix) -> BenchResult<()> {
    let tmp = path.with_extension("tmp");
    let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    for chunk in m.data.chunks(1 << 16) {
        let bytes: Vec<u8> = chunk.iter().flat_map(|x| x.to_le_bytes()).collect();
        w.write_all(&bytes)?;
    }
    w.flush()?;
    drop(w);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn read_f32(path: &Path, dim: usize) -> BenchResult<Matrix> {
    let bytes = std::fs::read(path)?;
    Ok(Matrix {
        dim,
        data: le_f32(&bytes),
    })
}

fn le_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// A parsed `.npy` header: dtype string, 2-d shape, and where the data starts.
struct NpyHeader {
    descr: String,
    rows: usize,
    cols: usize,
    data_start: usize,
}

/// Parses the header of a C-order 2-d `.npy` file (format versions 1–3).
fn npy_header(bytes: &[u8], path: &Path) -> BenchResult<NpyHeader> {
    let bad = |what: &str| format!("{}: {what}", path.display());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy file").into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unsupported .npy version").into()),
    };
    let text = bytes
        .get(start..start + len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated header"))?;
    let field = |name: &str| -> Option<&str> {
        let at = text.find(&format!("'{name}':"))? + name.len() + 3;
        Some(text[at..].trim_start())
    };
    let descr = field("descr")
        .and_then(|s| s.strip_prefix('\''))
        .and_then(|s| s.split('\'').next())
        .ok_or_else(|| bad("no descr"))?
        .to_string();
    if field("fortran_order").is_some_and(|s| s.starts_with("True")) {
        return Err(bad("Fortran order is not supported").into());
    }
    let shape = field("shape")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| bad("bad shape"))?;
    let [rows, cols] = dims[..] else {
        return Err(bad("expected a 2-d array").into());
    };
    Ok(NpyHeader {
        descr,
        rows,
        cols,
        data_start: start + len,
    })
}

/// Rows, columns and raw data bytes of a `.npy` file whose dtype is `descr`.
fn read_npy(path: &Path, descr: &str, item: usize) -> BenchResult<(usize, usize, Vec<u8>)> {
    let mut bytes = Vec::new();
    File::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .read_to_end(&mut bytes)?;
    let h = npy_header(&bytes, path)?;
    if h.descr != descr {
        return Err(format!("{}: dtype {} (expected {descr})", path.display(), h.descr).into());
    }
    let need = h.rows * h.cols * item;
    let data = bytes
        .get(h.data_start..h.data_start + need)
        .ok_or_else(|| format!("{}: truncated data", path.display()))?
        .to_vec();
    Ok((h.rows, h.cols, data))
}

fn read_npy_f32(path: &Path) -> BenchResult<Matrix> {
    let (_, cols, data) = read_npy(path, "<f4", 4)?;
    Ok(Matrix {
        dim: cols,
        data: le_f32(&data),
    })
}

fn read_npy_i64(path: &Path) -> BenchResult<(usize, usize, Vec<i64>)> {
    let (rows, cols, data) = read_npy(path, "<i8", 8)?;
    let values = data
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        .collect();
    Ok((rows, cols, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_parses() {
        let mut f = b"\x93NUMPY\x01\x00".to_vec();
        let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }";
        f.extend_from_slice(&(h.len() as u16).to_le_bytes());
        f.extend_from_slice(h.as_bytes());
        let p = npy_header(&f, Path::new("x.npy")).unwrap();
        assert_eq!((p.descr.as_str(), p.rows, p.cols), ("<f4", 3, 2));
        assert_eq!(p.data_start, 10 + h.len());
    }

    #[test]
    fn generator_is_deterministic() {
        let (a, qa) = clustered(50, 5, 8, 7);
        let (b, qb) = clustered(50, 5, 8, 7);
        assert_eq!(a.data, b.data);
        assert_eq!(qa.data, qb.data);
        assert!(a.data.iter().all(|x| x.is_finite()));
    }
}
