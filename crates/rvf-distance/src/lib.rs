//! Exact distance kernels for RVF.
//!
//! # Canonical summation order
//!
//! RVF promises that a (query, vector) pair gets the same distance bits
//! whether it is computed alone, inside a block scan, inside a batch tile, or
//! by the portable fallback. Floating-point addition is not associative, so
//! every function here evaluates exactly the following expression, for
//! `n = dim`, `full = n - n % 8`:
//!
//! 1. Eight lane accumulators `l[0..8]`, all starting at `+0.0`. For each
//!    `i < full` in increasing order, lane `j = i % 8` is updated with a fused
//!    multiply-add (one rounding):
//!    - dot: `l[j] = fma(a[i], b[i], l[j])`
//!    - L2:  `d = a[i] - b[i]; l[j] = fma(d, d, l[j])`
//! 2. The lanes are reduced as
//!    `s = ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))`
//!    (add the two 128-bit halves, fold the upper pair, add the last two).
//! 3. The tail `i = full..n` is added in increasing order onto `s`, again
//!    with fused multiply-add (`s = fma(a[i], b[i], s)`, or the L2 form).
//!
//! The AVX2+FMA kernels hold the 8 lanes of one pair in one register and gain
//! speed by computing many pairs at once, except [`PackedBlock`], which holds
//! the same lane of 8 pairs in one register and does the reduction of step 2
//! with vertical additions (same operands, same pairing, same bits); the
//! scalar fallback runs the same arithmetic with `f32::mul_add`. Which kernel
//! runs is decided once at runtime ([`kernel_name`]). NaN payloads are the
//! one thing not promised to match across kernels; every non-NaN result is
//! bit-identical.
//!
//! # Lengths
//!
//! These functions never panic. Callers are expected to pass consistent
//! lengths (checked with `debug_assert!`); in release builds inconsistent
//! inputs are handled by computing over the largest consistent prefix, as
//! each function documents.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod quant;
mod scalar;

pub use quant::{dot_u8, l2_u8, prefetch, prefetch_l2};

#[cfg(test)]
mod tests;

/// Lane count of the canonical order (one AVX2 register of `f32`).
pub(crate) const LANES: usize = 8;

/// Validated shape of a query x vector tile. `stride` is the row length of
/// the output (the caller's `nv`), which may exceed the number of vectors
/// actually available.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TileShape {
    pub(crate) nq: usize,
    pub(crate) nv: usize,
    pub(crate) dim: usize,
    pub(crate) stride: usize,
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn simd() -> Option<avx2::Avx2Fma> {
    avx2::Avx2Fma::get()
}

/// Name of the kernel family selected for this CPU: `"avx2+fma"` or `"scalar"`.
pub fn kernel_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if simd().is_some() {
        return "avx2+fma";
    }
    "scalar"
}

/// Dot product of `a` and `b` in the canonical order.
///
/// `a.len() == b.len()` is expected; otherwise the common prefix is used.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "dot: length mismatch");
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = simd() {
        return k.dot(a, b);
    }
    scalar::dot(a, b)
}

/// Squared Euclidean distance between `a` and `b` in the canonical order.
///
/// `a.len() == b.len()` is expected; otherwise the common prefix is used.
#[inline]
pub fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len(), "l2_sq: length mismatch");
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = simd() {
        return k.l2_sq(a, b);
    }
    scalar::l2_sq(a, b)
}

/// Number of vectors a block call can fill, given `dim`.
fn block_count(dim: usize, block_len: usize, out_len: usize) -> usize {
    if dim == 0 {
        debug_assert_eq!(block_len, 0, "block of zero-dimensional vectors");
        return out_len;
    }
    debug_assert!(
        block_len >= out_len.saturating_mul(dim),
        "block shorter than out.len() * query.len()"
    );
    out_len.min(block_len / dim)
}

fn block_impl(l2: bool, query: &[f32], block: &[f32], out: &mut [f32]) {
    let n = block_count(query.len(), block.len(), out.len());
    let out = &mut out[..n];
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = simd() {
        return k.block(l2, query, block, out);
    }
    scalar::block(l2, query, block, out)
}

/// `out[i] = dot(query, vector i)` for the vectors of `dim = query.len()`
/// floats stored back to back in `block`, bit-identical to [`dot`].
///
/// Expects `block.len() >= out.len() * query.len()`. Floats of `block` past
/// the first `out.len()` vectors are not read, but the kernel may prefetch
/// them, so a caller scanning a long array piece by piece should pass the
/// rest of the array rather than cut it at each piece: the prefetch then
/// runs on across piece boundaries. If `block` is shorter, only
/// `min(out.len(), block.len() / dim)` results are written and the rest of
/// `out` is left untouched.
pub fn dot_block(query: &[f32], block: &[f32], out: &mut [f32]) {
    block_impl(false, query, block, out)
}

/// `out[i] = l2_sq(query, vector i)`; otherwise exactly like [`dot_block`].
pub fn l2_sq_block(query: &[f32], block: &[f32], out: &mut [f32]) {
    block_impl(true, query, block, out)
}

/// Clamps a tile request to what the slices can hold, zero-filling the
/// degenerate `dim == 0` case. Returns `None` when there is nothing left to
/// compute.
fn tile_shape(
    q_len: usize,
    nq: usize,
    b_len: usize,
    nv: usize,
    dim: usize,
    out: &mut [f32],
) -> Option<TileShape> {
    debug_assert!(
        q_len >= nq.saturating_mul(dim),
        "queries shorter than nq*dim"
    );
    debug_assert!(b_len >= nv.saturating_mul(dim), "block shorter than nv*dim");
    debug_assert!(out.len() >= nq.saturating_mul(nv), "out shorter than nq*nv");
    if nq == 0 || nv == 0 {
        return None;
    }
    if dim == 0 {
        let n = nq.saturating_mul(nv).min(out.len());
        out[..n].fill(0.0);
        return None;
    }
    let nq_fit = nq.min(q_len / dim).min(out.len() / nv);
    let nv_fit = nv.min(b_len / dim);
    (nq_fit > 0 && nv_fit > 0).then_some(TileShape {
        nq: nq_fit,
        nv: nv_fit,
        dim,
        stride: nv,
    })
}

fn tile_impl(
    l2: bool,
    queries: &[f32],
    nq: usize,
    block: &[f32],
    nv: usize,
    dim: usize,
    out: &mut [f32],
) {
    let Some(shape) = tile_shape(queries.len(), nq, block.len(), nv, dim, out) else {
        return;
    };
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = simd() {
        return k.tile(l2, queries, block, shape, out);
    }
    scalar::tile(l2, queries, block, shape, out)
}

/// All-pairs dot products of a batch: `out[qi * nv + vi] = dot(query qi,
/// vector vi)`, bit-identical to [`dot`].
///
/// `queries` is `nq x dim` and `block` is `nv x dim`, both row-major. The
/// kernel is register-blocked (4 queries x 3 vectors) but does not tile for
/// caches, so callers should pass cache-sized pieces: a block that fits in L2
/// together with the queries, e.g. 64-128 queries x 128-256 vectors at dim
/// 128-384 (measured on Zen 3 with 512 KiB L2; all such shapes were within
/// noise of each other). The same vector block is best reused for every
/// query block before moving on to the next vector block.
///
/// Expects `queries.len() >= nq*dim`, `block.len() >= nv*dim` and
/// `out.len() >= nq*nv`. Otherwise rows/columns that do not fit are skipped
/// and their outputs left untouched (the output row stride stays `nv`).
pub fn dot_tile(queries: &[f32], nq: usize, block: &[f32], nv: usize, dim: usize, out: &mut [f32]) {
    tile_impl(false, queries, nq, block, nv, dim, out)
}

/// All-pairs squared L2 distances of a batch, bit-identical to [`l2_sq`];
/// otherwise exactly like [`dot_tile`].
pub fn l2_sq_tile(
    queries: &[f32],
    nq: usize,
    block: &[f32],
    nv: usize,
    dim: usize,
    out: &mut [f32],
) {
    tile_impl(true, queries, nq, block, nv, dim, out)
}

/// Offset of element `i` of vector 0 of a packed group of `dim`-float
/// vectors (vector `c` is at `+ c`): the elements of canonical lane `j`
/// (`i = j, j + 8, ..` below `full`) lie together in increasing order, lane
/// after lane, so the kernel reads each lane sequentially; the tail follows.
#[inline]
pub(crate) fn packed_index(i: usize, dim: usize) -> usize {
    let full = dim / LANES * LANES;
    if i < full {
        (i % LANES * (full / LANES) + i / LANES) * LANES
    } else {
        i * LANES
    }
}

/// A block of vectors rearranged once so that many queries can be scored
/// against it with [`PackedBlock::dot_tile`], bit-identical to [`dot`].
///
/// The layout holds, for each group of 8 vectors, element `i` of the 8
/// vectors side by side, so one register carries one canonical lane of 8
/// pairs and the lanes are reduced with vertical additions instead of a
/// horizontal reduction per pair. Packing reads and writes the block once;
/// it pays off when the block is reused for more than a few dozen queries.
/// The buffer is kept between calls to [`PackedBlock::pack`].
///
/// Above [`PACKED_MAX_DIM`] the block is kept row-major and scored by the
/// same kernel as [`dot_tile`], which is as fast there.
#[derive(Clone, Debug, Default)]
pub struct PackedBlock {
    data: Vec<f32>,
    nv: usize,
    dim: usize,
    transposed: bool,
}

/// Largest dimension packed in the lane layout. Measured on Zen 3 (one core,
/// 1000 queries, 64 x 128 tiles, alternating runs): the lane layout was
/// 5-25% faster than the row-major kernel at dim 128-384, and level with it
/// at 768 and 1024, where a 128-vector tile no longer fits in L2 and both
/// wait on memory; the row-major kernel is kept there.
pub const PACKED_MAX_DIM: usize = 512;

impl PackedBlock {
    pub fn new() -> PackedBlock {
        PackedBlock::default()
    }

    /// Replaces the contents with the first `nv` vectors of `dim` floats in
    /// `block` (row-major). Expects `block.len() >= nv * dim`; otherwise only
    /// the vectors that fit are packed.
    pub fn pack(&mut self, block: &[f32], nv: usize, dim: usize) {
        debug_assert!(
            block.len() >= nv.saturating_mul(dim),
            "block shorter than nv*dim"
        );
        let nv = block.len().checked_div(dim).map_or(nv, |fit| nv.min(fit));
        self.nv = nv;
        self.dim = dim;
        self.transposed = dim <= PACKED_MAX_DIM;
        if !self.transposed {
            self.data.clear();
            self.data
                .extend_from_slice(block.get(..nv * dim).unwrap_or(&[]));
            return;
        }
        // Every float of the groups is written below (zeros past the last
        // vector), so the old contents need not be cleared first.
        let groups = nv.div_ceil(LANES);
        self.data.resize(groups * dim * LANES, 0.0);
        if dim == 0 {
            return;
        }
        let src = block.get(..nv * dim).unwrap_or(&[]);
        let full = dim / LANES * LANES;
        // Full groups of 8 vectors go through 8x8 register transposes where
        // AVX2 is available. Otherwise: destination order, so the writes are
        // sequential; the 8 source rows are read with stride 8 but stay in
        // L1. Element order = the canonical lanes (i = j, j + 8, .. for
        // j = 0..8), then the tail.
        let order = (0..LANES)
            .flat_map(|j| (j..full).step_by(LANES))
            .chain(full..dim);
        for (dst, src) in self
            .data
            .chunks_exact_mut(dim * LANES)
            .zip(src.chunks(dim * LANES))
        {
            #[cfg(target_arch = "x86_64")]
            if let Some(k) = simd() {
                if k.pack_group(src, dim, dst) {
                    continue;
                }
            }
            let mut rows = [&[][..]; LANES];
            for (r, row) in rows.iter_mut().zip(src.chunks_exact(dim)) {
                *r = row;
            }
            for (d8, i) in dst.chunks_exact_mut(LANES).zip(order.clone()) {
                for (d, row) in d8.iter_mut().zip(&rows) {
                    *d = row.get(i).copied().unwrap_or(0.0);
                }
            }
        }
    }

    /// Number of vectors held.
    pub fn len(&self) -> usize {
        self.nv
    }

    pub fn is_empty(&self) -> bool {
        self.nv == 0
    }

    /// `out[qi * len() + vi] = dot(query qi, vector vi)` for the `nq` queries
    /// of `dim` floats in `queries` (row-major, the `dim` given to `pack`).
    ///
    /// Expects `queries.len() >= nq * dim` and `out.len() >= nq * len()`;
    /// otherwise only the query rows that fit are computed. Pass up to a few
    /// hundred queries per call: the whole packed block is walked once per 6
    /// queries, so it should fit in L2 (see the caller's tile sizes).
    pub fn dot_tile(&self, queries: &[f32], nq: usize, out: &mut [f32]) {
        let (nv, dim) = (self.nv, self.dim);
        debug_assert!(
            queries.len() >= nq.saturating_mul(dim),
            "queries shorter than nq*dim"
        );
        debug_assert!(out.len() >= nq.saturating_mul(nv), "out shorter than nq*nv");
        if nv == 0 || nq == 0 {
            return;
        }
        if dim == 0 {
            let n = nq.saturating_mul(nv).min(out.len());
            out[..n].fill(0.0);
            return;
        }
        if !self.transposed {
            return dot_tile(queries, nq, &self.data, nv, dim, out);
        }
        let nq = nq.min(queries.len() / dim).min(out.len() / nv);
        #[cfg(target_arch = "x86_64")]
        if let Some(k) = simd() {
            return k.packed_dot_tile(queries, nq, &self.data, nv, dim, out);
        }
        scalar::packed_dot_tile(queries, nq, &self.data, nv, dim, out)
    }
}

/// The smallest `f(a[i], b[i])` over the common length of `a` and `b`,
/// ignoring NaN (what a fold of `if x < m { x } else { m }` from `+inf`
/// returns), or `+inf` if there is none.
///
/// A helper for screening a row of batch results against a threshold: it
/// keeps 8 independent running minima, so the compiler vectorises it, and on
/// CPUs with AVX2 it runs 8 lanes wide. `f` should be plain arithmetic; IEEE
/// operations give the same bits at any vector width.
#[inline]
pub fn min_of_pairs(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = simd() {
        return k.min_of_pairs(a, b, f);
    }
    min_of_pairs_portable(a, b, f)
}

#[inline(always)]
pub(crate) fn min_of_pairs_portable(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut m = [f32::INFINITY; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (xa, xb) in (&mut ca).zip(&mut cb) {
        for ((m, &x), &y) in m.iter_mut().zip(xa).zip(xb) {
            let v = f(x, y);
            *m = if v < *m { v } else { *m };
        }
    }
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        let v = f(x, y);
        m[0] = if v < m[0] { v } else { m[0] };
    }
    m.iter()
        .fold(f32::INFINITY, |l, &x| if x < l { x } else { l })
}
