//! `rvf.Store`: one open `.rvf` file, shared safely between Python threads.
//!
//! The `RvfStore` sits in a `RwLock<Option<..>>`: queries take the read lock (many at
//! once), writes the write lock, and `close` takes the store out, after which every call
//! raises `ClosedError`. Every lock is taken with the GIL released, so a long write in
//! one thread never stalls the other Python threads, and no thread ever holds a store
//! lock while it waits for the GIL (no lock-order deadlock).

use std::path::PathBuf;
use std::sync::RwLock;

use numpy::PyArray1;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use rvf_runtime::{DistanceMetric, OpenOptions, RvfOptions, RvfStore};

use crate::errors::{rvf_error, Failure};
use crate::ingest::{self, AddResult};
use crate::membership::Membership;
use crate::{convert, filters, options, search};

/// An RVF store: one `.rvf` file of vectors with ids and metadata, which can be branched
/// copy-on-write.
///
/// Make one with `Store.create(path, dim)` or `Store.open(path)`, and close it with
/// `close()` or a `with` block. A store may be shared between threads: searches run in
/// parallel (the GIL is released), writes take turns.
///
/// Distances: smaller is closer. "l2" is the squared Euclidean distance, "ip" the
/// negated inner product, "cosine" is 1 - cos(a, b). Results are sorted by distance,
/// ties by id.
#[pyclass(module = "rvf", frozen)]
pub struct Store {
    inner: RwLock<Option<RvfStore>>,
    path: PathBuf,
    // Fixed for the life of a file (compaction and materialize keep them).
    dim: u16,
    metric: DistanceMetric,
}

impl Store {
    pub(crate) fn wrap(store: RvfStore) -> Store {
        Store {
            path: store.path().to_path_buf(),
            dim: store.dimension(),
            metric: store.metric(),
            inner: RwLock::new(Some(store)),
        }
    }

    pub(crate) fn dim(&self) -> usize {
        usize::from(self.dim)
    }

    /// Runs `f` on the open store under the read lock, without the GIL.
    pub(crate) fn read<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        F: FnOnce(&RvfStore) -> Result<R, Failure> + Send,
        R: Send,
    {
        py.detach(|| {
            let guard = self.inner.read().map_err(|_| Failure::LockPoisoned)?;
            f(guard.as_ref().ok_or(Failure::Closed)?)
        })
        .map_err(|e| e.into_pyerr(py, &self.path))
    }

    /// Runs `f` on the open store under the write lock, without the GIL.
    pub(crate) fn write<R, F>(&self, py: Python<'_>, f: F) -> PyResult<R>
    where
        F: FnOnce(&mut RvfStore) -> Result<R, Failure> + Send,
        R: Send,
    {
        py.detach(|| {
            let mut guard = self.inner.write().map_err(|_| Failure::LockPoisoned)?;
            f(guard.as_mut().ok_or(Failure::Closed)?)
        })
        .map_err(|e| e.into_pyerr(py, &self.path))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn path_text(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

#[pymethods]
impl Store {
    /// Creates a new, empty store at `path` (which must not exist) and opens it for
    /// writing.
    ///
    /// dim: the dimension of every vector (1..65535).
    /// metric: "cosine" (1 - cos), "l2" (squared Euclidean) or "ip" (negated inner
    ///     product). Smaller distances are closer under each.
    /// cluster_bytes: bytes of a cluster, the unit a branch copies (a multiple of 64).
    /// durability: "every_commit" syncs each write before it returns; "on_close" syncs
    ///     only on flush(), branch() and close() (for bulk loads: a crash loses the
    ///     unsynced writes, never the file).
    /// index: keep an ANN index (graphs searched instead of scanning every vector);
    ///     False makes every search exact. Stored in the file; branches inherit it.
    /// m, ef_construction: the index's graph degree and build breadth (HNSW's names).
    ///
    /// Raises ExistsError if the path exists, ValueError for a bad argument.
    #[staticmethod]
    #[pyo3(signature = (path, dim, metric = "cosine".to_string(), *, cluster_bytes = 65536, durability = "every_commit".to_string(), index = true, m = 16, ef_construction = 200))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        py: Python<'_>,
        path: PathBuf,
        dim: i64,
        metric: String,
        cluster_bytes: i64,
        durability: String,
        index: bool,
        m: i64,
        ef_construction: i64,
    ) -> PyResult<Store> {
        let dimension = u16::try_from(dim)
            .ok()
            .filter(|&d| d > 0)
            .ok_or_else(|| PyValueError::new_err(format!("dim must be 1..65535, got {dim}")))?;
        let cluster_bytes = u32::try_from(cluster_bytes).map_err(|_| {
            PyValueError::new_err(format!(
                "cluster_bytes must be a positive multiple of 64, got {cluster_bytes}"
            ))
        })?;
        let m = usize::try_from(m)
            .ok()
            .filter(|m| (2..=256).contains(m))
            .ok_or_else(|| PyValueError::new_err(format!("m must be 2..256, got {m}")))?;
        let ef_construction = usize::try_from(ef_construction)
            .ok()
            .filter(|&e| e >= 1)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "ef_construction must be at least 1, got {ef_construction}"
                ))
            })?;
        let opts = RvfOptions {
            dimension,
            metric: options::metric(&metric)?,
            cluster_bytes,
            durability: options::durability(&durability)?,
            index: index.then_some(rvf_runtime::IndexOptions {
                m,
                ef_construction,
                ef_search: None,
            }),
        };
        let store = py
            .detach(|| RvfStore::create(&path, opts))
            .map_err(|e| rvf_error(py, &e))?;
        Ok(Store::wrap(store))
    }

    /// Opens an existing store.
    ///
    /// read_only: open without the writer lock (several readers, and one writer in
    ///     another process, may have the file open); writes raise ReadOnlyError.
    /// durability: as in create().
    /// parent_search_paths: files or directories searched (by file id) for a branch's
    ///     ancestors that are not at their recorded paths.
    /// recover: open a file that lost its tail (TruncatedError otherwise) read-only,
    ///     at the newest generation it still holds whole; `recovery` says which epochs
    ///     were dropped.
    ///
    /// Raises NotFoundError (a FileNotFoundError) if there is no file, LockedError if
    /// another writer has it open, CorruptError / NotAStoreError for a damaged file,
    /// TruncatedError for a file cut short, ParentMissingError when a branch's parent
    /// cannot be found.
    #[staticmethod]
    #[pyo3(signature = (path, read_only = false, *, durability = "every_commit".to_string(), parent_search_paths = None, recover = false))]
    fn open(
        py: Python<'_>,
        path: PathBuf,
        read_only: bool,
        durability: String,
        parent_search_paths: Option<Vec<PathBuf>>,
        recover: bool,
    ) -> PyResult<Store> {
        let opts = OpenOptions {
            read_only,
            durability: options::durability(&durability)?,
            parent_search_paths: parent_search_paths.unwrap_or_default(),
            recover,
        };
        let store = py
            .detach(|| RvfStore::open_with(&path, opts))
            .map_err(|e| rvf_error(py, &e))?;
        Ok(Store::wrap(store))
    }

    /// Commits what is pending, syncs it and releases the file. Raises if the final sync
    /// fails (the store is closed all the same). Closing twice is allowed; any other
    /// call on a closed store raises ClosedError.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| {
            let mut guard = self.inner.write().map_err(|_| Failure::LockPoisoned)?;
            match guard.take() {
                Some(store) => store.close().map_err(Failure::from),
                None => Ok(()),
            }
        })
        .map_err(|e| e.into_pyerr(py, &self.path))
    }

    /// Publishes and syncs commits held back by durability="on_close".
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        self.write(py, |s| Ok(s.flush()?))
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let py = slf.py();
        slf.get().read(py, |_| Ok(()))?;
        Ok(slf)
    }

    /// Closes the store, also when the block raised (that exception then propagates).
    #[pyo3(signature = (_exc_type = None, _exc = None, _tb = None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc: Option<&Bound<'_, PyAny>>,
        _tb: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// Adds vectors, or replaces those whose ids exist (upsert), in one commit.
    ///
    /// vectors: a 2-D array of shape (n, dim). A C-contiguous float32 numpy array is
    ///     read in place, without a copy (do not modify it from another thread during
    ///     the call); other float or integer arrays and nested lists are converted.
    /// ids: n non-negative integers (a 1-D array or list). When None, the ids are
    ///     generated: consecutive, starting after the largest id the store holds (0 for
    ///     an empty store); they are returned in the result.
    /// metadata: None, or a list of n dicts (or None entries) whose values are int,
    ///     float, str or bool.
    ///
    /// Rows with a NaN or infinite value are skipped and counted as rejected; when an
    /// id repeats, its last row wins. Returns AddResult(accepted, rejected, epoch, ids).
    /// Raises DimensionError (a ValueError) when the rows do not have the store's
    /// dimension, ValueError/TypeError for other malformed input.
    #[pyo3(signature = (vectors, ids = None, metadata = None))]
    fn add(
        &self,
        py: Python<'_>,
        vectors: &Bound<'_, PyAny>,
        ids: Option<&Bound<'_, PyAny>>,
        metadata: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<AddResult> {
        ingest::add(self, py, vectors, ids, metadata)
    }

    /// Deletes vectors by id (`delete([1, 2])`) or by metadata (`delete(where={...})`);
    /// absent ids are ignored. Returns the number of vectors deleted. A deleted id can be
    /// added again. `where={}` (everything) is refused: pass the ids instead.
    #[pyo3(signature = (ids = None, r#where = None))]
    fn delete(
        &self,
        py: Python<'_>,
        ids: Option<&Bound<'_, PyAny>>,
        r#where: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<u64> {
        match (
            ids.filter(|o| !o.is_none()),
            r#where.filter(|o| !o.is_none()),
        ) {
            (Some(ids), None) => {
                let ids = convert::ids(ids, "ids")?;
                self.write(py, |s| Ok(s.delete(&ids)?.deleted))
            }
            (None, Some(w)) => {
                let filter = filters::from_py(w)?;
                if filters::is_match_all(&filter) {
                    return Err(PyValueError::new_err(
                        "delete(where=...) was given a filter that matches every vector; \
                         to empty the store, delete(store.ids())",
                    ));
                }
                self.write(py, |s| Ok(s.delete_by_filter(&filter)?.deleted))
            }
            (Some(_), Some(_)) => Err(PyTypeError::new_err(
                "delete() takes ids or where=, not both",
            )),
            (None, None) => Err(PyTypeError::new_err("delete() needs ids or where=")),
        }
    }

    /// The vector stored under `id` and its metadata: `(vector, metadata)` with vector a
    /// float32 array of shape (dim,) and metadata a dict ({} when it has none), or None
    /// when the store does not show that id.
    fn get<'py>(&self, py: Python<'py>, id: u64) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let Some(rec) = self.read(py, |s| Ok(s.get(id)?))? else {
            return Ok(None);
        };
        let vector = PyArray1::from_vec(py, rec.vector);
        let meta = convert::metadata_to_dict(py, rec.metadata.as_ref())?;
        Ok(Some(PyTuple::new(
            py,
            [vector.into_any(), meta.into_any()],
        )?))
    }

    /// Every id the store shows, ascending, as a uint64 array.
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let ids = self.read(py, |s| Ok(s.ids()?))?;
        Ok(PyArray1::from_vec(py, ids))
    }

    /// The k nearest vectors of a query, or of each row of a batch of queries.
    ///
    /// q: one query of shape (dim,), or a batch of shape (n, dim) (searched in one pass
    ///     over the vectors, on every core). Same conversions as add(); a NaN or
    ///     infinite value raises InvalidArgumentError (a ValueError).
    /// k: neighbours wanted per query.
    /// where: a metadata filter, as a dict: {"lang": "en", "year": {"$gte": 2020}}
    ///     (operators $eq $ne $lt $lte $gt $gte $in $not, and $and / $or / $not over
    ///     filter dicts), or as an expression string in the rvf CLI's syntax:
    ///     'lang = "en" and year >= 2020' (= != < <= > >=, in [..], and, or, not,
    ///     parentheses). A comparison with a field a vector lacks is false.
    /// exact: scan every vector instead of searching the ANN index (exact results).
    /// ef: breadth of the index search (more finds more of the true neighbours, more
    ///     slowly); None chooses max(4 k, 40). Every distance returned is exact either
    ///     way; the index may only miss some neighbours.
    ///
    /// Returns (ids, distances): for a 1-D query, a uint64 array and a float32 array of
    /// the hits (at most k, fewer when fewer vectors match), sorted by ascending
    /// distance, ties by ascending id. For a batch, arrays of shape (n, m) with
    /// m = min(k, len(store)); a row with fewer than m hits is padded with id
    /// rvf.MISSING_ID (2**64 - 1) and distance +inf.
    ///
    /// Distances: smaller is closer. "l2": squared Euclidean; "ip": the negated inner
    /// product; "cosine": 1 - cos(q, v) (a zero vector is at distance 1 from all).
    #[pyo3(signature = (q, k = 10, r#where = None, exact = false, ef = None))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        q: &Bound<'py, PyAny>,
        k: i64,
        r#where: Option<&Bound<'py, PyAny>>,
        exact: bool,
        ef: Option<i64>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let k = usize::try_from(k)
            .map_err(|_| PyValueError::new_err(format!("k must be >= 0, got {k}")))?;
        let filter = r#where
            .filter(|o| !o.is_none())
            .map(filters::from_py)
            .transpose()?;
        let opts = options::query(py, filter, exact, ef)?;
        search::search(self, py, q, k, &opts)
    }

    /// Creates a copy-on-write branch at `path` (which must not exist) and returns it
    /// open for writing. The branch sees this store as it is now; later writes on
    /// either side are invisible to the other. Takes about a millisecond whatever the
    /// store's size; the new file holds only what the branch changes.
    fn branch(&self, py: Python<'_>, path: PathBuf) -> PyResult<Store> {
        let child = self.read(py, |s| Ok(s.branch(&path)?))?;
        Ok(Store::wrap(child))
    }

    /// Makes the store's current state immutable, persistently: later writes raise
    /// FrozenError. Branch from it to keep writing.
    fn freeze(&self, py: Python<'_>) -> PyResult<()> {
        self.write(py, |s| Ok(s.freeze()?))
    }

    /// Turns a branch into a standalone store: every vector it shows is copied into its
    /// file, and it no longer needs its ancestors. Keeps the file id.
    fn materialize(&self, py: Python<'_>) -> PyResult<()> {
        self.write(py, |s| Ok(s.materialize()?))
    }

    /// Rewrites the file with only what the current state needs (atomically: new file,
    /// sync, rename). Branches made from earlier states of this store will no longer
    /// open (ParentMismatchError).
    fn compact(&self, py: Python<'_>) -> PyResult<()> {
        self.write(py, |s| Ok(s.compact()?))
    }

    /// The membership filter of a branch (which inherited vectors it shows), or None
    /// for a store that has no parent. See rvf.Membership.
    #[getter]
    fn membership(slf: &Bound<'_, Self>) -> PyResult<Option<Membership>> {
        let is_child = slf.get().read(slf.py(), |s| Ok(s.is_cow_child()))?;
        Ok(is_child.then(|| Membership::new(slf.clone().unbind())))
    }

    /// This file's id (32 hex digits); kept by compact() and materialize().
    #[getter]
    fn file_id(&self, py: Python<'_>) -> PyResult<String> {
        self.read(py, |s| Ok(hex(s.file_id())))
    }

    /// The parent's file id (32 hex digits), or None for a store with no parent.
    #[getter]
    fn parent_id(&self, py: Python<'_>) -> PyResult<Option<String>> {
        self.read(py, |s| Ok(s.is_cow_child().then(|| hex(s.parent_id()))))
    }

    /// What `open(..., recover=True)` found: a dict with `opened_epoch`,
    /// `newest_epoch`, `dropped_epochs` (a list) and `reasons`; None for a normal open.
    #[getter]
    fn recovery<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(rec) = self.read(py, |s| Ok(s.recovery().cloned()))? else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("opened_epoch", rec.opened_epoch)?;
        d.set_item("newest_epoch", rec.newest_epoch)?;
        d.set_item("dropped_epochs", rec.dropped_epochs().collect::<Vec<u64>>())?;
        d.set_item("reasons", rec.reasons.clone())?;
        Ok(Some(d))
    }

    /// Number of ancestors (0 for a store that is not a branch).
    #[getter]
    fn lineage_depth(&self, py: Python<'_>) -> PyResult<u16> {
        self.read(py, |s| Ok(s.lineage_depth()))
    }

    #[getter]
    fn is_cow_child(&self, py: Python<'_>) -> PyResult<bool> {
        self.read(py, |s| Ok(s.is_cow_child()))
    }

    #[getter]
    fn frozen(&self, py: Python<'_>) -> PyResult<bool> {
        self.read(py, |s| Ok(s.is_frozen()))
    }

    #[getter]
    fn read_only(&self, py: Python<'_>) -> PyResult<bool> {
        self.read(py, |s| Ok(s.is_read_only()))
    }

    /// True once close() has run.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        py.detach(|| self.inner.read().is_ok_and(|g| g.is_none()))
    }

    /// The path the store was opened or created with.
    #[getter]
    fn path(&self) -> String {
        path_text(&self.path)
    }

    #[getter]
    fn dimension(&self) -> u16 {
        self.dim
    }

    /// "cosine", "l2" or "ip".
    #[getter]
    fn metric(&self) -> &'static str {
        options::metric_name(self.metric)
    }

    /// Number of vectors a search can return.
    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.read(py, |s| {
            usize::try_from(s.len()).map_err(|_| Failure::Value("length overflows".into()))
        })
    }

    /// Counters of the store as a dict: vectors, file size, epoch, dead bytes,
    /// lineage, copy-on-write clusters and more.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let (st, cow, ident, ancestors) = self.read(py, |s| {
            let ident = (
                hex(s.file_id()),
                s.is_cow_child().then(|| hex(s.parent_id())),
            );
            Ok((s.status(), s.cow_stats(), ident, s.ancestor_paths()))
        })?;
        let d = PyDict::new(py);
        d.set_item("path", path_text(&self.path))?;
        d.set_item("file_id", ident.0)?;
        d.set_item("parent_id", ident.1)?;
        d.set_item("is_cow_child", st.lineage_depth > 0)?;
        d.set_item("total_vectors", st.total_vectors)?;
        d.set_item("dimension", st.dimension)?;
        d.set_item("metric", options::metric_name(st.metric))?;
        d.set_item("file_size", st.file_size)?;
        d.set_item("epoch", st.epoch)?;
        d.set_item("segment_count", st.segment_count)?;
        d.set_item("dead_bytes", st.dead_bytes)?;
        d.set_item("read_only", st.read_only)?;
        d.set_item("frozen", st.frozen)?;
        d.set_item("lineage_depth", st.lineage_depth)?;
        d.set_item("journal_commits", st.journal_commits)?;
        d.set_item("checkpoint_bytes", st.checkpoint_bytes)?;
        if let Some(c) = cow {
            d.set_item("cluster_count", c.cluster_count)?;
            d.set_item("local_cluster_count", c.local_cluster_count)?;
            d.set_item("cluster_bytes", c.cluster_size)?;
            d.set_item("vectors_per_cluster", c.vectors_per_cluster)?;
        }
        let ancestors: Vec<String> = ancestors.iter().map(|p| path_text(p)).collect();
        d.set_item("ancestors", ancestors)?;
        match self.index_status(py)? {
            Some(ix) => d.set_item("index", ix)?,
            None => d.set_item("index", py.None())?,
        }
        Ok(d)
    }

    /// The state of the ANN index as a dict (indexed_vectors, pending_vectors: those
    /// scanned exactly until a graph covers them, bytes, graphs, building, m,
    /// ef_construction), or None when the store has the index off.
    fn index_status<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(st) = self.read(py, |s| Ok(s.index_status()))? else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("indexed_vectors", st.indexed_vectors)?;
        d.set_item("pending_vectors", st.pending_vectors)?;
        d.set_item("bytes", st.bytes)?;
        d.set_item("graphs", st.graphs)?;
        d.set_item("unwritten_graphs", st.unwritten_graphs)?;
        d.set_item("building", st.building)?;
        d.set_item("m", st.m)?;
        d.set_item("ef_construction", st.ef_construction)?;
        Ok(Some(d))
    }

    /// Brings the ANN index up to date now (with every core; the GIL is released):
    /// every vector no graph covers is indexed and written in one commit. close()
    /// does this too when enough vectors are pending.
    fn build_index(&self, py: Python<'_>) -> PyResult<()> {
        self.write(py, |s| Ok(s.build_index()?))
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let path = path_text(&self.path);
        match self.read(py, |s| Ok(s.len())) {
            Ok(n) => format!(
                "<rvf.Store {path:?} dim={} metric={} len={n}>",
                self.dim,
                options::metric_name(self.metric)
            ),
            Err(_) => format!("<rvf.Store {path:?} closed>"),
        }
    }
}
