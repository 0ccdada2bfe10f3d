//! Building RVF stores from datasets, and keeping the expensive ones between runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rvf_runtime::{Durability, RvfOptions, RvfStore};

use crate::data::Dataset;
use crate::timing::{fmt_secs, timed};
use crate::BenchResult;

/// Vectors per `ingest_batch` call when loading a dataset.
pub const LOAD_BATCH: usize = 100_000;

/// Options of the stores of the exact-search, ingest, open and branch benchmarks:
/// default cluster size, `OnClose`, and no ANN index (those rows measure the store
/// itself; the index has its own benchmark, `ann.rs`).
pub fn options(ds: &Dataset) -> RvfOptions {
    RvfOptions {
        dimension: ds.base.dim as u16,
        metric: ds.metric,
        durability: Durability::OnClose,
        index: None,
        ..RvfOptions::default()
    }
}

/// Creates `path` holding rows `0..n` of `ds` under ids `0..n`, in batches of `batch`,
/// and closes it.
pub fn build(path: &Path, ds: &Dataset, n: usize, batch: usize) -> BenchResult<()> {
    let mut store = RvfStore::create(path, options(ds))?;
    let mut start = 0;
    while start < n {
        let end = (start + batch).min(n);
        let ids: Vec<u64> = (start as u64..end as u64).collect();
        let res = store.ingest_batch(&ds.base.rows(start, end), &ids, None)?;
        if res.accepted != ids.len() as u64 {
            return Err(format!("ingest accepted {} of {}", res.accepted, ids.len()).into());
        }
        start = end;
    }
    store.close()?;
    Ok(())
}

/// Path of the kept store holding the first `n` rows of `ds`.
pub fn cached_path(dir: &Path, ds: &Dataset, n: usize) -> PathBuf {
    dir.join("stores").join(format!("{}-{n}.rvf", ds.key))
}

/// Whether `path` is a complete store of `n` vectors of `ds`'s dimension.
pub fn is_complete(path: &Path, ds: &Dataset, n: usize) -> bool {
    RvfStore::open_readonly(path)
        .is_ok_and(|s| s.len() == n as u64 && usize::from(s.dimension()) == ds.base.dim)
}

/// Stores built by this process. Stores left by an earlier run are rebuilt, since the
/// runtime (and its file layout) may have changed since; building costs seconds.
static BUILT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Records that this process built the complete store at `path`.
pub fn mark_built(path: &Path) {
    BUILT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(path.to_path_buf());
}

fn built_here(path: &Path) -> bool {
    BUILT
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|p| p == path)
}

/// The kept store of the first `n` rows of `ds`, built by this process if needed.
pub fn cached(dir: &Path, ds: &Dataset, n: usize) -> BenchResult<PathBuf> {
    let path = cached_path(dir, ds, n);
    if built_here(&path) && is_complete(&path, ds, n) {
        return Ok(path);
    }
    std::fs::create_dir_all(path.parent().unwrap_or(dir))?;
    remove_if_exists(&path)?;
    crate::progress(format!("building store {}", path.display()));
    let (res, t) = timed(|| build(&path, ds, n, LOAD_BATCH));
    res?;
    mark_built(&path);
    crate::progress(format!("built in {}", fmt_secs(t.as_secs_f64())));
    Ok(path)
}

pub fn remove_if_exists(path: &Path) -> BenchResult<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// Set by `--keep-scratch`: scratch directories survive the run (for profiling).
pub static KEEP_SCRATCH: AtomicBool = AtomicBool::new(false);

/// A scratch directory under the data directory, emptied now and removed on drop.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(data_dir: &Path, name: &str) -> BenchResult<Scratch> {
        let dir = data_dir.join("tmp").join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch { dir })
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !KEEP_SCRATCH.load(Ordering::Relaxed) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
