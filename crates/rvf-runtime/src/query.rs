//! Exact k-nearest-neighbour search over the visible slots.

use std::sync::atomic::{AtomicUsize, Ordering};

use rvf_distance::{dot_block, l2_sq, l2_sq_block, min_of_pairs, PackedBlock};

use crate::error::{Result, RvfError};
use crate::index::Piece;
use crate::options::{DistanceMetric, QueryOptions};
use crate::store::RvfStore;
use crate::topk::{SearchResult, TopK};
use crate::view::{Run, View};

/// Vectors scored per kernel call in single-query scans.
const SCAN_BLOCK: usize = 256;
/// A block with fewer than one visible vector in this many is scored row by row.
const SPARSE_SCAN_RATIO: usize = 4;
/// How many visible rows ahead the row-by-row scan prefetches.
const PREFETCH_ROWS: usize = 8;
/// Vectors and queries per tile in batch scans: sized so a tile of vectors stays in L1/L2
/// while every query of the group passes over it.
const TILE_VECTORS: usize = 128;
const TILE_QUERIES: usize = 64;

/// Cosine screening error bound: the screened and exact formulas differ by a few ulps of
/// a value at most 2.
const COSINE_MARGIN: f32 = 1e-5;

fn inverse_norm(sq_norm: f32) -> f32 {
    if sq_norm > 0.0 {
        1.0 / sq_norm.sqrt()
    } else {
        0.0
    }
}

/// The distance of the cosine metric from a dot product and the two squared norms.
/// Shared by every path so single, batch and model results agree bit for bit.
#[inline]
pub fn cosine_distance(dot: f32, q_sq_norm: f32, v_sq_norm: f32) -> f32 {
    if q_sq_norm <= 0.0 || v_sq_norm <= 0.0 {
        return 1.0;
    }
    1.0 - dot / (q_sq_norm.sqrt() * v_sq_norm.sqrt())
}

/// The distance from a query to one stored row, as every query path scores it: `q_norm`
/// is the query's squared norm and `v_norm` the row's stored one (cosine only).
#[inline]
pub(crate) fn row_distance(
    metric: DistanceMetric,
    query: &[f32],
    q_norm: f32,
    v: &[f32],
    v_norm: f32,
) -> f32 {
    match metric {
        DistanceMetric::L2 => l2_sq(query, v),
        DistanceMetric::InnerProduct => -rvf_distance::dot(query, v),
        DistanceMetric::Cosine => cosine_distance(rvf_distance::dot(query, v), q_norm, v_norm),
    }
}

/// The distance between two vectors under `metric`, computed as queries compute it.
pub fn distance(metric: DistanceMetric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        DistanceMetric::L2 => l2_sq(a, b),
        DistanceMetric::InnerProduct => -rvf_distance::dot(a, b),
        DistanceMetric::Cosine => cosine_distance(
            rvf_distance::dot(a, b),
            rvf_distance::dot(a, a),
            rvf_distance::dot(b, b),
        ),
    }
}

impl RvfStore {
    pub(crate) fn check_query(&self, q: &[f32]) -> Result<()> {
        let dim = self.view.config.dim;
        if q.len() != usize::from(dim) {
            return Err(RvfError::DimensionMismatch {
                expected: dim,
                got: q.len(),
            });
        }
        if !q.iter().all(|x| x.is_finite()) {
            return Err(RvfError::InvalidArgument(
                "query has a non-finite value".into(),
            ));
        }
        Ok(())
    }

    /// The exact scan of one (checked) query over `pieces` of runs (every run when
    /// `None`), into `top`.
    pub(crate) fn scan_into(
        &self,
        query: &[f32],
        options: &QueryOptions,
        pieces: Option<&[Piece<'_>]>,
        top: &mut TopK,
    ) -> Result<()> {
        let view = &self.view;
        let dim = usize::from(view.config.dim);
        let q_norm = rvf_distance::dot(query, query);
        let mut out = vec![0f32; SCAN_BLOCK];
        let whole: Vec<Piece<'_>>;
        let pieces = match pieces {
            Some(p) => p,
            None => {
                whole = view
                    .runs
                    .values()
                    .map(|r| (r, 0, r.count as usize))
                    .collect();
                &whole
            }
        };
        for &(run, first, count) in pieces {
            let file = view.file(run)?;
            run.ensure(file)?;
            let vectors = run.vectors(file, view.config.dim)?;
            let norms = run.norms(file)?;
            let seg = run.slot_seg(file);
            let n = (first + count).min(run.count as usize);
            let consider = |d: f32, slot: u64, top: &mut TopK| -> Result<()> {
                let idx = run.seg_index(slot);
                let id = seg.id(idx);
                if !top.accepts(d, id) {
                    return Ok(());
                }
                if let Some(filter) = &options.filter {
                    let meta = seg
                        .metadata(idx)
                        .map_err(|e| RvfError::corrupt(&file.path, run.slot_payload().0, e))?;
                    if !filter.matches(meta.as_ref()) {
                        return Ok(());
                    }
                }
                top.push(d, id);
                Ok(())
            };
            let mut i = first;
            while i < n {
                let m = SCAN_BLOCK.min(n - i);
                let base = run.first_slot + i as u64;
                let visible = view.visible.count_range(base, m as u64) as usize;
                if visible * SPARSE_SCAN_RATIO < m {
                    // Mostly hidden (deleted, or outside a membership filter): score
                    // the visible rows one by one instead of the whole block. Both
                    // kernels give the same bits for a pair.
                    // The look-ahead runs on past this block, so the next block's first
                    // rows are on their way before it starts.
                    let mut ahead = view
                        .visible
                        .ones_in_range(base, (n - i) as u64)
                        .skip(PREFETCH_ROWS);
                    for slot in view.visible.ones_in_range(base, m as u64) {
                        // Rows far apart defeat the hardware prefetcher: ask for the
                        // row a few visible rows on while this one is scored.
                        if let Some(next) = ahead.next() {
                            let k = (next - run.first_slot) as usize;
                            if let Some(row) = vectors.get(k * dim..(k + 1) * dim) {
                                rvf_distance::prefetch_l2(bytemuck::cast_slice(row));
                            }
                        }
                        let j = (slot - run.first_slot) as usize;
                        let Some(v) = vectors.get(j * dim..(j + 1) * dim) else {
                            continue;
                        };
                        let v_norm = norms.get(j).copied().unwrap_or(0.0);
                        let d = row_distance(view.config.metric, query, q_norm, v, v_norm);
                        if d <= top.threshold() {
                            consider(d, slot, top)?;
                        }
                    }
                    i += m;
                    continue;
                }
                // The rest of the run, not just this block: the kernel prefetches
                // ahead of the vectors it scores, across block boundaries.
                let block = vectors.get(i * dim..).unwrap_or(&[]);
                let out = &mut out[..m];
                match view.config.metric {
                    DistanceMetric::L2 => l2_sq_block(query, block, out),
                    DistanceMetric::InnerProduct => {
                        dot_block(query, block, out);
                        out.iter_mut().for_each(|d| *d = -*d);
                    }
                    DistanceMetric::Cosine => {
                        dot_block(query, block, out);
                        for (j, d) in out.iter_mut().enumerate() {
                            *d = cosine_distance(
                                *d,
                                q_norm,
                                norms.get(i + j).copied().unwrap_or(0.0),
                            );
                        }
                    }
                }
                let threshold = top.threshold();
                for (j, &d) in out.iter().enumerate() {
                    if d > threshold {
                        continue;
                    }
                    let slot = base + j as u64;
                    if !view.visible.get(slot) {
                        continue;
                    }
                    consider(d, slot, top)?;
                }
                i += m;
            }
        }
        Ok(())
    }

    /// Runs many queries, on several threads. Each result equals what
    /// [`RvfStore::query`] returns for the same query. Exact searches (no index, or
    /// `exact`) make one pass over the vectors for all the queries.
    pub fn query_batch(
        &self,
        queries: &[&[f32]],
        k: usize,
        options: &QueryOptions,
    ) -> Result<Vec<Vec<SearchResult>>> {
        for q in queries {
            self.check_query(q)?;
        }
        let mut flat = Vec::with_capacity(queries.len() * usize::from(self.view.config.dim));
        for q in queries {
            flat.extend_from_slice(q);
        }
        self.batch_checked(&flat, k, options)
    }

    /// [`RvfStore::query_batch`] over queries stored row after row in one slice
    /// (`queries.len()` must be a multiple of the dimension), as numpy and most
    /// embedding libraries hold them: no per-query slices, no copy.
    pub fn query_batch_flat(
        &self,
        queries: &[f32],
        k: usize,
        options: &QueryOptions,
    ) -> Result<Vec<Vec<SearchResult>>> {
        let dim = usize::from(self.view.config.dim);
        if !queries.len().is_multiple_of(dim) {
            return Err(RvfError::InvalidArgument(format!(
                "{} floats are not a whole number of {dim}-dimensional queries",
                queries.len()
            )));
        }
        for q in queries.chunks_exact(dim) {
            self.check_query(q)?;
        }
        self.batch_checked(queries, k, options)
    }

    /// The exact batch scan of (checked) queries stored row after row.
    pub(crate) fn scan_batch(
        &self,
        flat: &[f32],
        k: usize,
        options: &QueryOptions,
    ) -> Result<Vec<Vec<SearchResult>>> {
        let view = &self.view;
        let dim = usize::from(view.config.dim);
        let queries: Vec<&[f32]> = flat.chunks_exact(dim).collect();
        if queries.is_empty() || k == 0 {
            return Ok(vec![Vec::new(); queries.len()]);
        }
        for run in view.runs.values() {
            run.ensure(view.file(run)?)?;
        }
        let q_norms: Vec<f32> = queries.iter().map(|q| rvf_distance::dot(q, q)).collect();
        let threads = match options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            t => t,
        };
        let pieces = split_work(view, threads);
        let batch = Batch {
            view,
            queries: &queries,
            flat,
            q_norms: &q_norms,
            k,
            options,
        };
        let next_piece = AtomicUsize::new(0);
        let worker = || batch.scan_pieces(&pieces, &next_piece);
        let partials: Vec<Result<Vec<TopK>>> = if threads <= 1 || pieces.len() <= 1 {
            vec![worker()]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads.min(pieces.len()))
                    .map(|_| scope.spawn(worker))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|_| Err(RvfError::internal("query thread panicked")))
                    })
                    .collect()
            })
        };
        let mut merged: Vec<TopK> = (0..queries.len()).map(|_| TopK::new(k)).collect();
        for part in partials {
            for (m, p) in merged.iter_mut().zip(part?) {
                m.merge(p);
            }
        }
        Ok(merged.into_iter().map(TopK::into_sorted).collect())
    }
}

/// A piece of the slot space: (run, first index, count) pieces of runs.
type Chunk<'a> = Vec<(&'a Run, usize, usize)>;

/// Pieces per thread in a batch scan. Threads take pieces one at a time, so a thread
/// slowed down by other work on its core (common on shared machines) leaves its
/// remaining pieces to the others instead of holding up the whole batch.
const PIECES_PER_THREAD: usize = 8;
/// Smallest piece, in tiles, so that tiny stores are not cut into slivers.
const MIN_PIECE_TILES: usize = 4;

/// Cuts the slot space into pieces for `threads` workers; piece sizes are whole tiles,
/// so only the last piece of a run ends in a partial tile.
fn split_work(view: &View, threads: usize) -> Vec<Chunk<'_>> {
    let total: usize = view.runs.values().map(|r| r.count as usize).sum();
    let wanted = threads.max(1).saturating_mul(PIECES_PER_THREAD);
    let per = total
        .div_ceil(wanted)
        .next_multiple_of(TILE_VECTORS)
        .max(MIN_PIECE_TILES * TILE_VECTORS);
    let mut chunks: Vec<Chunk<'_>> = vec![Vec::new()];
    let mut filled = 0usize;
    for run in view.runs.values() {
        let mut start = 0usize;
        let n = run.count as usize;
        while start < n {
            if filled == per {
                chunks.push(Vec::new());
                filled = 0;
            }
            let take = (per - filled).min(n - start);
            if let Some(c) = chunks.last_mut() {
                c.push((run, start, take));
            }
            filled += take;
            start += take;
        }
    }
    chunks.retain(|c| !c.is_empty());
    chunks
}

struct Batch<'a> {
    view: &'a View,
    queries: &'a [&'a [f32]],
    flat: &'a [f32],
    q_norms: &'a [f32],
    k: usize,
    options: &'a QueryOptions,
}

impl Batch<'_> {
    /// One worker: takes pieces from `next` until none are left, and returns its
    /// top-k of every query over the pieces it scanned.
    fn scan_pieces(&self, pieces: &[Chunk<'_>], next: &AtomicUsize) -> Result<Vec<TopK>> {
        let mut tops: Vec<TopK> = (0..self.queries.len()).map(|_| TopK::new(self.k)).collect();
        while let Some(piece) = pieces.get(next.fetch_add(1, Ordering::Relaxed)) {
            self.scan(piece, &mut tops)?;
        }
        Ok(tops)
    }

    fn scan(&self, chunk: &Chunk<'_>, tops: &mut [TopK]) -> Result<()> {
        let view = self.view;
        let dim = usize::from(view.config.dim);
        let nq_total = self.queries.len();
        let mut dots = vec![0f32; TILE_QUERIES * TILE_VECTORS];
        let mut screen = vec![0f32; TILE_VECTORS];
        let mut inv_v = vec![0f32; TILE_VECTORS];
        let mut packed = PackedBlock::new();
        let metric = view.config.metric;
        // L2 screens with |q|^2 + |v|^2 - 2 q.v from the tile's dot products. Its float
        // error, and that of the exact distance it stands for, are each below
        // (dim + 32) * eps * (|q| + |v|)^2 <= 2 (dim + 32) * eps * (|q|^2 + |v|^2), so
        // a pair whose screened value minus twice that bound exceeds the threshold
        // cannot enter the top-k; every other pair gets its exact distance.
        let l2_margin = 4.0 * (dim as f32 + 32.0) * f32::EPSILON;
        for &(run, start, count) in chunk {
            let file = view.file(run)?;
            let vectors = run.vectors(file, view.config.dim)?;
            let norms = run.norms(file)?;
            let seg = run.slot_seg(file);
            let mut v0 = start;
            while v0 < start + count {
                let nv = TILE_VECTORS.min(start + count - v0);
                let block = vectors.get(v0 * dim..(v0 + nv) * dim).unwrap_or(&[]);
                // Rearranged once per tile, then scored against every query.
                packed.pack(block, nv, dim);
                let mut q0 = 0;
                while q0 < nq_total {
                    let nq = TILE_QUERIES.min(nq_total - q0);
                    let qs = self.flat.get(q0 * dim..(q0 + nq) * dim).unwrap_or(&[]);
                    let out = &mut dots[..nq * nv];
                    packed.dot_tile(qs, nq, out);
                    let tile_norms = norms.get(v0..v0 + nv).unwrap_or(&[]);
                    if metric == DistanceMetric::Cosine && q0 == 0 {
                        for (inv, &vn) in inv_v.iter_mut().zip(tile_norms) {
                            *inv = inverse_norm(vn);
                        }
                    }
                    for qi in 0..nq {
                        let q_index = q0 + qi;
                        let top = &mut tops[q_index];
                        let qn = self.q_norms[q_index];
                        let row = &out[qi * nv..(qi + 1) * nv];
                        // A lower bound of each pair's distance, computed branch-free.
                        // Most rows hold no candidate once the top-k has filled: they
                        // are skipped after one vectorised pass over the row, without
                        // storing the bounds.
                        let n = row.len().min(tile_norms.len());
                        let (row, tile_norms) = (&row[..n], &tile_norms[..n]);
                        let inv_q = inverse_norm(qn);
                        let bound = |dot: f32, vn: f32, iv: f32| match metric {
                            DistanceMetric::InnerProduct => -dot,
                            DistanceMetric::L2 => qn + vn - 2.0 * dot - l2_margin * (qn + vn),
                            DistanceMetric::Cosine => 1.0 - dot * inv_q * iv - COSINE_MARGIN,
                        };
                        let mut threshold = top.threshold();
                        // The same expressions as `bound`, one instance per metric so
                        // the loop carries no metric test.
                        let lowest = match metric {
                            DistanceMetric::InnerProduct => min_of_pairs(row, row, |d, _| -d),
                            DistanceMetric::L2 => min_of_pairs(row, tile_norms, |d, vn| {
                                qn + vn - 2.0 * d - l2_margin * (qn + vn)
                            }),
                            DistanceMetric::Cosine => {
                                let inv_v = inv_v.get(..n).unwrap_or(&[]);
                                min_of_pairs(row, inv_v, |d, iv| {
                                    1.0 - d * inv_q * iv - COSINE_MARGIN
                                })
                            }
                        };
                        if lowest > threshold {
                            continue;
                        }
                        let screen = &mut screen[..n];
                        for (((s, &dot), &vn), &iv) in
                            screen.iter_mut().zip(row).zip(tile_norms).zip(&inv_v)
                        {
                            *s = bound(dot, vn, iv);
                        }
                        for (vi, &bound) in screen.iter().enumerate() {
                            if bound > threshold {
                                continue;
                            }
                            let v_index = v0 + vi;
                            let d = match metric {
                                DistanceMetric::InnerProduct => bound,
                                DistanceMetric::L2 => {
                                    let v = vectors
                                        .get(v_index * dim..(v_index + 1) * dim)
                                        .unwrap_or(&[]);
                                    l2_sq(self.queries[q_index], v)
                                }
                                DistanceMetric::Cosine => {
                                    cosine_distance(row[vi], qn, tile_norms[vi])
                                }
                            };
                            if d > threshold {
                                continue;
                            }
                            let slot = run.first_slot + v_index as u64;
                            if !view.visible.get(slot) {
                                continue;
                            }
                            let idx = run.seg_index(slot);
                            let id = seg.id(idx);
                            if !top.accepts(d, id) {
                                continue;
                            }
                            if let Some(filter) = &self.options.filter {
                                let meta = seg.metadata(idx).map_err(|e| {
                                    RvfError::corrupt(&file.path, run.slot_payload().0, e)
                                })?;
                                if !filter.matches(meta.as_ref()) {
                                    continue;
                                }
                            }
                            top.push(d, id);
                            threshold = top.threshold();
                        }
                    }
                    q0 += nq;
                }
                v0 += nv;
            }
        }
        Ok(())
    }
}
