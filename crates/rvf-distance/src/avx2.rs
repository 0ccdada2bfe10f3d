//! AVX2 + FMA kernels following the canonical order exactly.
//!
//! One ymm register holds the 8 lane accumulators of one (query, vector)
//! pair, so the lane/element mapping of the canonical order is simply "lane j
//! of the register". Speed comes from working on many pairs at once (one
//! accumulator register per pair) rather than from splitting a pair over
//! several registers, which would change the summation order.
//!
//! Every kernel, including the single-pair one, is an instance of the same
//! generic micro-kernel, so there is only one piece of code that defines the
//! per-pair arithmetic.

#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::{TileShape, LANES};

/// Zero-sized proof that the running CPU supports AVX2 and FMA.
///
/// It can only be obtained from [`Avx2Fma::get`], which is what makes the
/// calls into `#[target_feature]` functions below sound.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2Fma(());

const UNKNOWN: u8 = 0;
const ABSENT: u8 = 1;
const PRESENT: u8 = 2;

/// Detection result; a racy double detection is harmless since both threads
/// store the same value.
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

impl Avx2Fma {
    #[inline]
    pub(crate) fn get() -> Option<Self> {
        match STATE.load(Ordering::Relaxed) {
            PRESENT => Some(Avx2Fma(())),
            ABSENT => None,
            _ => Self::detect(),
        }
    }

    #[cold]
    fn detect() -> Option<Self> {
        let ok = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
        STATE.store(if ok { PRESENT } else { ABSENT }, Ordering::Relaxed);
        ok.then_some(Avx2Fma(()))
    }

    #[inline]
    pub(crate) fn dot(self, a: &[f32], b: &[f32]) -> f32 {
        let mut out = [0.0f32];
        // SAFETY: `self` exists only if AVX2 and FMA were detected at runtime.
        unsafe { micro::<false, 1, 1>(a, b, a.len().min(b.len()), &mut out, 1, 0) };
        out[0]
    }

    #[inline]
    pub(crate) fn l2_sq(self, a: &[f32], b: &[f32]) -> f32 {
        let mut out = [0.0f32];
        // SAFETY: `self` exists only if AVX2 and FMA were detected at runtime.
        unsafe { micro::<true, 1, 1>(a, b, a.len().min(b.len()), &mut out, 1, 0) };
        out[0]
    }

    /// `block` holds at least `out.len()` vectors of `query.len()` floats.
    pub(crate) fn block(self, l2: bool, query: &[f32], block: &[f32], out: &mut [f32]) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected at runtime.
        unsafe {
            if l2 {
                block_driver::<true>(query, block, out)
            } else {
                block_driver::<false>(query, block, out)
            }
        }
    }

    pub(crate) fn tile(
        self,
        l2: bool,
        queries: &[f32],
        block: &[f32],
        shape: TileShape,
        out: &mut [f32],
    ) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected at runtime.
        unsafe {
            if l2 {
                tile_driver::<true>(queries, block, shape, out)
            } else {
                tile_driver::<false>(queries, block, shape, out)
            }
        }
    }
}

/// Vectors handled together by the one-query kernel. Four independent
/// accumulators already exceed DRAM and L3 bandwidth; measured on Zen 3,
/// eight were no faster from cache and slower from DRAM (more concurrent
/// streams for the hardware prefetcher to track).
const BLOCK_NR: usize = 4;
/// How far ahead of the vectors being read the one-query kernel prefetches.
/// The scan is bound by how many cache-line misses one core keeps in flight,
/// and the hardware prefetcher stops at every 4 KiB page of the (page-cache)
/// mapping; a software prefetch this far ahead keeps the next page's lines
/// coming. Measured on Zen 3 over 200k x 128 and 50k x 384 from an mmap'd
/// file: prefetching only the next group (~2 KiB ahead) reached ~10-11 GB/s,
/// 6-12 KiB ahead ~12-13 GB/s (8-10% faster scans), 32 KiB ahead was slower
/// again. The `T1` (L2) hint was no better than `T0`.
const BLOCK_PREFETCH_BYTES: usize = 8 * 1024;
/// The batch kernel prefetches the next group of vectors (from L2 into L1)
/// while one group is at most this large: beyond it the rows are long enough
/// for the hardware prefetcher, and prefetching a whole group ahead would
/// evict L1.
const PREFETCH_MAX_GROUP_BYTES: usize = 16 * 1024;
/// Query rows x vector rows of the batch dot micro-kernel: 12 accumulators
/// plus 3 vector registers and 1 query register fill exactly the 16 ymm
/// registers and need 7 loads per 12 FMAs. Measured best of 4x3, 6x2, 3x3,
/// 4x2, 2x4, 3x4 and 2x6.
const TILE_MR: usize = 4;
const TILE_NR: usize = 3;
/// The L2 kernel needs a register for the difference `q - v`, so it has
/// fewer accumulators: 10 + 2 vector + 1 query + 1 difference registers.
/// Measured best of 5x2, 4x2, 2x4, 3x3 and 4x3.
const TILE_L2_MR: usize = 5;
const TILE_L2_NR: usize = 2;

/// One 8-float step of the canonical order for one pair.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn step<const L2: bool>(q: __m256, v: __m256, acc: __m256) -> __m256 {
    if L2 {
        let d = _mm256_sub_ps(q, v);
        _mm256_fmadd_ps(d, d, acc)
    } else {
        _mm256_fmadd_ps(q, v, acc)
    }
}

/// Computes the `MR x NR` pairs between rows of `q` and rows of `v` (rows of
/// `dim` floats, contiguous) and writes pair (m, n) to `out[m * ostride + n]`.
///
/// With `ahead > 0`, the floats of `v` from `ahead` on are prefetched at the
/// rate the chunk loop consumes its `NR` rows (`NR * 8` floats per chunk), as
/// far as `v` extends; `ahead = NR * dim` prefetches exactly the next group.
///
/// Does nothing if the slices are too short, so a caller bug cannot turn into
/// an out-of-bounds read.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn micro<const L2: bool, const MR: usize, const NR: usize>(
    q: &[f32],
    v: &[f32],
    dim: usize,
    out: &mut [f32],
    ostride: usize,
    ahead: usize,
) {
    let (Some(qn), Some(vn)) = (MR.checked_mul(dim), NR.checked_mul(dim)) else {
        return;
    };
    if q.len() < qn || v.len() < vn {
        return;
    }
    let qp = q.as_ptr();
    let vp = v.as_ptr();
    let full = dim / LANES * LANES;

    let mut acc = [[_mm256_setzero_ps(); NR]; MR];
    let mut chunk = |off: usize| {
        let mut vv = [_mm256_setzero_ps(); NR];
        for (n, x) in vv.iter_mut().enumerate() {
            // SAFETY: n < NR and off + 8 <= full <= dim, so the 8 floats at
            // n*dim + off lie inside v[..NR*dim], checked above. loadu has no
            // alignment requirement.
            *x = unsafe { _mm256_loadu_ps(vp.add(n * dim + off)) };
        }
        for (m, row) in acc.iter_mut().enumerate() {
            // SAFETY: as above, m < MR and q.len() >= MR*dim.
            let qq = unsafe { _mm256_loadu_ps(qp.add(m * dim + off)) };
            for (a, &x) in row.iter_mut().zip(vv.iter()) {
                *a = step::<L2>(qq, x, *a);
            }
        }
    };

    // Chunk `off` touches the NR*8 floats at ahead + NR*off.., i.e. NR/2
    // cache lines, so a window of `ahead` floats is kept in flight, each line
    // requested once, spread over the loop rather than in a burst. The
    // addresses come from `wrapping_add` and may pass the end of `v` (then
    // only in the last group of a scan, which checks each chunk): they are
    // never dereferenced, and a prefetch never faults nor changes program
    // state.
    let prefetch = |off: usize| {
        for k in 0..NR.div_ceil(2) {
            _mm_prefetch::<_MM_HINT_T0>(vp.wrapping_add(ahead + off * NR + 16 * k).cast());
        }
    };
    let mut off = 0;
    if ahead > 0 && v.len() >= ahead + vn {
        while off < full {
            prefetch(off);
            chunk(off);
            off += LANES;
        }
    } else if ahead > 0 {
        let limit = v.len().saturating_sub(ahead);
        while off < full {
            if off * NR < limit {
                prefetch(off);
            }
            chunk(off);
            off += LANES;
        }
    } else {
        while off < full {
            chunk(off);
            off += LANES;
        }
    }

    let mut sums = [[0.0f32; NR]; MR];
    reduce_into(acc.as_flattened(), sums.as_flattened_mut());

    for (m, row) in sums.iter().enumerate() {
        let qrow = &q[m * dim..(m + 1) * dim];
        for (n, &s) in row.iter().enumerate() {
            let vrow = &v[n * dim..(n + 1) * dim];
            let mut s = s;
            for (&x, &y) in qrow[full..].iter().zip(&vrow[full..]) {
                s = if L2 {
                    fma1(x - y, x - y, s)
                } else {
                    fma1(x, y, s)
                };
            }
            if let Some(o) = out.get_mut(m * ostride + n) {
                *o = s;
            }
        }
    }
}

/// Scalar fused multiply-add, single rounding like the vector lanes.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn fma1(a: f32, b: f32, c: f32) -> f32 {
    _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)))
}

/// Horizontal reduction of each accumulator in `acc` into `out` (same
/// length), each one as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
///
/// Groups of 8 and 4 accumulators are reduced together with a transpose so
/// the shuffles are shared, but every output still sees exactly the
/// canonical pairing; only which register lane an addition runs in differs.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn reduce_into(acc: &[__m256], out: &mut [f32]) {
    let mut a8 = acc.chunks_exact(8);
    let mut o8 = out.chunks_exact_mut(8);
    for (a, o) in (&mut a8).zip(&mut o8) {
        let r = reduce8(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
        // SAFETY: `o` is a chunk of exactly 8 floats.
        unsafe { _mm256_storeu_ps(o.as_mut_ptr(), r) };
    }
    let (acc, out) = (a8.remainder(), o8.into_remainder());
    let mut a4 = acc.chunks_exact(4);
    let mut o4 = out.chunks_exact_mut(4);
    for (a, o) in (&mut a4).zip(&mut o4) {
        let r = reduce4(a[0], a[1], a[2], a[3]);
        // SAFETY: `o` is a chunk of exactly 4 floats.
        unsafe { _mm_storeu_ps(o.as_mut_ptr(), r) };
    }
    for (&a, o) in a4.remainder().iter().zip(o4.into_remainder()) {
        *o = reduce1(a);
    }
}

/// Adds the two 128-bit halves: lanes become s_k = l_k + l_{k+4}, k = 0..4.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn halves(x: __m256) -> __m128 {
    _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps::<1>(x))
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn reduce1(x: __m256) -> f32 {
    let s = halves(x);
    // [s0 + s2, s1 + s3, ..]
    let t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    // t0 + t1
    _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)))
}

/// Given per-register partial sums [s0 s1 s2 s3] of a and b (per 128-bit
/// lane), returns [a.t0, b.t0, a.t1, b.t1] with t0 = s0 + s2, t1 = s1 + s3.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn pair_t128(a: __m128, b: __m128) -> __m128 {
    _mm_add_ps(_mm_unpacklo_ps(a, b), _mm_unpackhi_ps(a, b))
}

#[target_feature(enable = "avx2,fma")]
#[inline]
fn reduce4(x0: __m256, x1: __m256, x2: __m256, x3: __m256) -> __m128 {
    let u = pair_t128(halves(x0), halves(x1)); // [x0.t0 x1.t0 x0.t1 x1.t1]
    let w = pair_t128(halves(x2), halves(x3)); // [x2.t0 x3.t0 x2.t1 x3.t1]
    let t0 = _mm_shuffle_ps::<0x44>(u, w); // [x0.t0 x1.t0 x2.t0 x3.t0]
    let t1 = _mm_shuffle_ps::<0xEE>(u, w); // [x0.t1 x1.t1 x2.t1 x3.t1]
    _mm_add_ps(t0, t1)
}

/// [a.lo + a.hi | b.lo + b.hi]: the s_k of a in the low half, of b in the high.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn halves2(a: __m256, b: __m256) -> __m256 {
    _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(a, b),
        _mm256_permute2f128_ps::<0x31>(a, b),
    )
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
#[inline]
fn reduce8(
    x0: __m256,
    x1: __m256,
    x2: __m256,
    x3: __m256,
    x4: __m256,
    x5: __m256,
    x6: __m256,
    x7: __m256,
) -> __m256 {
    // Same steps as reduce4, with accumulators i and i+4 sharing a register.
    let p0 = halves2(x0, x4);
    let p1 = halves2(x1, x5);
    let p2 = halves2(x2, x6);
    let p3 = halves2(x3, x7);
    let u = _mm256_add_ps(_mm256_unpacklo_ps(p0, p1), _mm256_unpackhi_ps(p0, p1));
    let w = _mm256_add_ps(_mm256_unpacklo_ps(p2, p3), _mm256_unpackhi_ps(p2, p3));
    let t0 = _mm256_shuffle_ps::<0x44>(u, w);
    let t1 = _mm256_shuffle_ps::<0xEE>(u, w);
    _mm256_add_ps(t0, t1)
}

/// One query against `out.len()` consecutive vectors in `block`.
#[target_feature(enable = "avx2,fma")]
fn block_driver<const L2: bool>(query: &[f32], block: &[f32], out: &mut [f32]) {
    let dim = query.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    let group = dim * BLOCK_NR;
    let ahead = (BLOCK_PREFETCH_BYTES / 4).max(group);
    let mut outs = out.chunks_exact_mut(BLOCK_NR);
    let mut start = 0;
    for o in &mut outs {
        let Some(v) = block.get(start..) else {
            return;
        };
        micro::<L2, 1, BLOCK_NR>(query, v, dim, o, 0, ahead);
        start += group;
    }
    let (Some(v), o) = (block.get(start..), outs.into_remainder()) else {
        return;
    };
    match o.len() {
        1 => micro::<L2, 1, 1>(query, v, dim, o, 0, 0),
        2 => micro::<L2, 1, 2>(query, v, dim, o, 0, 0),
        3 => micro::<L2, 1, 3>(query, v, dim, o, 0, 0),
        _ => {}
    }
}

/// Runs the micro-kernel of shape `rows x cols`, choosing the monomorphised
/// instance at runtime for the ragged edges of a tile.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn micro_dyn<const L2: bool>(
    rows: usize,
    cols: usize,
    q: &[f32],
    v: &[f32],
    dim: usize,
    out: &mut [f32],
    ostride: usize,
) {
    macro_rules! pick {
        ($($r:literal x $c:literal),*) => {
            match (rows, cols) {
                $(($r, $c) => micro::<L2, $r, $c>(q, v, dim, out, ostride, 0),)*
                _ => {}
            }
        };
    }
    // Covers every edge of both the 4x3 dot and the 5x2 L2 kernels.
    if L2 {
        pick!(1 x 1, 1 x 2, 2 x 1, 2 x 2, 3 x 1, 3 x 2, 4 x 1, 4 x 2, 5 x 1, 5 x 2)
    } else {
        pick!(1 x 1, 1 x 2, 1 x 3, 2 x 1, 2 x 2, 2 x 3, 3 x 1, 3 x 2, 3 x 3, 4 x 1, 4 x 2, 4 x 3)
    }
}

/// Walks the tile in `mr x nr` micro-kernels, query rows outermost so the
/// few query rows stay in L1 while the vectors stream from L2. Prefetching
/// the next few vectors into L1 hides the L2 latency; without it the batch
/// kernel lost about a third of its throughput once the tile was not
/// already L1-hot.
#[target_feature(enable = "avx2,fma")]
fn tile_driver<const L2: bool>(queries: &[f32], block: &[f32], shape: TileShape, out: &mut [f32]) {
    let TileShape {
        nq,
        nv,
        dim,
        stride,
    } = shape;
    let (mr, nr) = if L2 {
        (TILE_L2_MR, TILE_L2_NR)
    } else {
        (TILE_MR, TILE_NR)
    };
    let group = nr * dim;
    let tile_ahead = if group * 4 <= PREFETCH_MAX_GROUP_BYTES {
        group
    } else {
        0
    };
    let mut qi = 0;
    while qi < nq {
        let rows = mr.min(nq - qi);
        let (Some(q), Some(orow)) = (queries.get(qi * dim..), out.get_mut(qi * stride..)) else {
            return;
        };
        let mut vi = 0;
        while vi < nv {
            let cols = nr.min(nv - vi);
            let (Some(v), Some(o)) = (block.get(vi * dim..), orow.get_mut(vi..)) else {
                break;
            };
            if rows == mr && cols == nr {
                if L2 {
                    micro::<L2, TILE_L2_MR, TILE_L2_NR>(q, v, dim, o, stride, tile_ahead);
                } else {
                    micro::<L2, TILE_MR, TILE_NR>(q, v, dim, o, stride, tile_ahead);
                }
            } else {
                micro_dyn::<L2>(rows, cols, q, v, dim, o, stride);
            }
            vi += nr;
        }
        qi += mr;
    }
}

/// Query rows x vector groups (of [`LANES`] vectors each, so 6 x 16 pairs)
/// of the packed dot micro-kernel: 12 accumulators, 2 vector registers and 1
/// broadcast query element (15 of the 16 ymm registers, no spills in the
/// lane loop). With 8 accumulators (4x2), exactly the FMA latency times its
/// throughput on Zen 3 (4 cycles x 2 pipes), every scheduling hiccup cost
/// throughput; 12 leave slack, and each vector load feeds 6 FMAs instead of
/// 4. Measured on Zen 3 (one core, 64 queries x 128 vectors from L2,
/// alternating runs): 6x2 ran at ~88 GFLOP/s against ~86 for 4x2 at dim 384
/// and ~78 against ~76 at dim 128; a 1000-query batch over 12.5k vectors
/// (queries from L3, repacking every tile) gained about 4% at dim 384
/// together with the SIMD packing ([`pack_group_avx2`]). Unrolling the lane
/// loop by two was ~12% slower, and prefetching the next row block's queries
/// made no measurable difference. (With an earlier version of the lane loop,
/// 6x2, 5x2, 3x3, 2x3, 3x2, 2x4 and 3x4 had all measured slower than 4x2;
/// 4x3 and 3x4 spill registers in the lane loop.)
const PACKED_MR: usize = 6;
const PACKED_NR: usize = 2;

/// `MR` queries against `NR` packed groups: `p` holds the groups back to
/// back, `dim * 8` floats each, laid out as [`crate::packed_index`] says.
/// Writes pair (m, vector c) to `out[m * ostride + c]` for `c < cols`.
///
/// One register holds the same canonical lane `j` of 8 different pairs (one
/// per vector of a group), so the lanes are accumulated one after another
/// (lane `j` sums elements `j, j + 8, ..`, in increasing order) and reduced
/// with vertical additions in the canonical pairing: no horizontal shuffles,
/// which cost the row-major kernel about a fifth of its time at dim 128.
///
/// Does nothing if the slices are too short.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn packed_micro<const MR: usize, const NR: usize>(
    q: &[f32],
    p: &[f32],
    dim: usize,
    out: &mut [f32],
    ostride: usize,
    cols: usize,
) {
    let (Some(qn), Some(pn)) = (MR.checked_mul(dim), (NR * LANES).checked_mul(dim)) else {
        return;
    };
    if q.len() < qn || p.len() < pn {
        return;
    }
    let qp = q.as_ptr();
    let pp = p.as_ptr();
    let gstride = dim * LANES;
    let full = dim / LANES * LANES;

    let steps = full / LANES;
    // Lane j of every pair, accumulated over i = j, j + 8, .. < full. A
    // macro rather than a closure or function so that each of the 8 lanes is
    // inlined (as a closure it was not), and lanes are combined as soon as
    // the canonical tree allows, so no zero-initialised array of 8 lanes
    // (a memset per call) is needed.
    macro_rules! lane {
        ($j:expr) => {{
            let mut acc = [[_mm256_setzero_ps(); NR]; MR];
            let mut i = $j;
            let mut at = $j * steps * LANES;
            while i < full {
                let mut vv = [_mm256_setzero_ps(); NR];
                for (n, x) in vv.iter_mut().enumerate() {
                    // SAFETY: n < NR and `at` = packed_index(i) + 8 <= full*8
                    // (i < full), so the 8 floats at n*gstride + at lie
                    // inside p[..NR*8*dim], checked above.
                    *x = unsafe { _mm256_loadu_ps(pp.add(n * gstride + at)) };
                }
                for (m, row) in acc.iter_mut().enumerate() {
                    // SAFETY: m < MR and i < dim, inside q[..MR*dim].
                    let b = _mm256_broadcast_ss(unsafe { &*qp.add(m * dim + i) });
                    for (a, &x) in row.iter_mut().zip(vv.iter()) {
                        *a = _mm256_fmadd_ps(b, x, *a);
                    }
                }
                i += LANES;
                at += LANES;
            }
            acc
        }};
    }
    // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)), pair by pair.
    let (l0, l4) = (lane!(0), lane!(4));
    let s04 = add_acc(&l0, &l4);
    let (l2, l6) = (lane!(2), lane!(6));
    let lo = add_acc(&s04, &add_acc(&l2, &l6));
    let (l1, l5) = (lane!(1), lane!(5));
    let s15 = add_acc(&l1, &l5);
    let (l3, l7) = (lane!(3), lane!(7));
    let hi = add_acc(&s15, &add_acc(&l3, &l7));
    let sums = add_acc(&lo, &hi);

    for (m, row) in sums.iter().enumerate() {
        for (n, &s) in row.iter().enumerate() {
            let mut s = s;
            for i in full..dim {
                // SAFETY: m < MR, n < NR and i < dim, inside the checked
                // q[..MR*dim] and p[..NR*8*dim].
                let (b, x) = unsafe {
                    (
                        _mm256_broadcast_ss(&*qp.add(m * dim + i)),
                        _mm256_loadu_ps(pp.add(n * gstride + i * LANES)),
                    )
                };
                s = _mm256_fmadd_ps(b, x, s);
            }
            let c0 = n * LANES;
            if c0 >= cols {
                continue;
            }
            let take = (cols - c0).min(LANES);
            let Some(o) = out.get_mut(m * ostride + c0..m * ostride + c0 + take) else {
                continue;
            };
            if take == LANES {
                // SAFETY: `o` is exactly 8 floats.
                unsafe { _mm256_storeu_ps(o.as_mut_ptr(), s) };
            } else {
                let mut tmp = [0.0f32; LANES];
                // SAFETY: `tmp` is exactly 8 floats.
                unsafe { _mm256_storeu_ps(tmp.as_mut_ptr(), s) };
                o.copy_from_slice(&tmp[..take]);
            }
        }
    }
}

/// Element-wise sum of two accumulator arrays.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn add_acc<const MR: usize, const NR: usize>(
    a: &[[__m256; NR]; MR],
    b: &[[__m256; NR]; MR],
) -> [[__m256; NR]; MR] {
    let mut r = *a;
    for (rr, br) in r.iter_mut().zip(b) {
        for (x, &y) in rr.iter_mut().zip(br) {
            *x = _mm256_add_ps(*x, y);
        }
    }
    r
}

/// [`crate::min_of_pairs_portable`] compiled for AVX2, so the compiler keeps
/// the 8 running minima in one ymm register.
#[target_feature(enable = "avx2,fma")]
fn min_of_pairs_avx2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    crate::min_of_pairs_portable(a, b, f)
}

impl Avx2Fma {
    #[inline]
    pub(crate) fn min_of_pairs(self, a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
        // SAFETY: `self` exists only if AVX2 and FMA were detected at runtime.
        unsafe { min_of_pairs_avx2(a, b, f) }
    }

    /// All pairs of `queries` (`nq x dim`, row-major) against a packed block
    /// of `nv` vectors (see [`packed_micro`] for the layout, whole groups
    /// padded with zeros), pair (q, v) to `out[q * nv + v]`.
    pub(crate) fn packed_dot_tile(
        self,
        queries: &[f32],
        nq: usize,
        packed: &[f32],
        nv: usize,
        dim: usize,
        out: &mut [f32],
    ) {
        // SAFETY: `self` exists only if AVX2 and FMA were detected at runtime.
        unsafe { packed_driver(queries, nq, packed, nv, dim, out) }
    }
}

impl Avx2Fma {
    /// Packs one full group of 8 vectors (`src`, 8 rows of `dim` floats) into
    /// `dst` in the layout of [`crate::packed_index`], moving bits only.
    /// Returns `false`, doing nothing, unless both slices hold exactly
    /// `8 * dim` floats.
    pub(crate) fn pack_group(self, src: &[f32], dim: usize, dst: &mut [f32]) -> bool {
        // SAFETY: `self` exists only if AVX2 and FMA were detected at runtime.
        unsafe { pack_group_avx2(src, dim, dst) }
    }
}

/// Each 8-float step of the 8 rows is one 8x8 transpose: row `c`'s element
/// `8s + j` goes to lane `c` of register `j`, which is stored where canonical
/// lane `j` keeps step `s`.
#[target_feature(enable = "avx2,fma")]
fn pack_group_avx2(src: &[f32], dim: usize, dst: &mut [f32]) -> bool {
    let Some(n) = dim.checked_mul(LANES) else {
        return false;
    };
    if src.len() != n || dst.len() != n {
        return false;
    }
    let steps = dim / LANES;
    let full = steps * LANES;
    let sp = src.as_ptr();
    let dp = dst.as_mut_ptr();
    for s in 0..steps {
        let mut r = [_mm256_setzero_ps(); LANES];
        for (c, x) in r.iter_mut().enumerate() {
            // SAFETY: c < 8 and 8s + 8 <= full <= dim, so the 8 floats at
            // c*dim + 8s lie inside src[..8*dim], checked above.
            *x = unsafe { _mm256_loadu_ps(sp.add(c * dim + s * LANES)) };
        }
        for (j, &x) in transpose8(r).iter().enumerate() {
            // SAFETY: j < 8 and s < steps, so the 8 floats at (j*steps + s)*8
            // end at most at 8*steps*8 = 8*full <= 8*dim = dst.len().
            unsafe { _mm256_storeu_ps(dp.add((j * steps + s) * LANES), x) };
        }
    }
    let tail = dst.get_mut(full * LANES..).unwrap_or(&mut []);
    for (d8, i) in tail.chunks_exact_mut(LANES).zip(full..dim) {
        for (c, d) in d8.iter_mut().enumerate() {
            *d = src.get(c * dim + i).copied().unwrap_or(0.0);
        }
    }
    true
}

/// Transposes 8 rows of 8 floats: lane `c` of output `j` is lane `j` of
/// input `c`. Shuffles only, so every bit pattern (NaN payloads included)
/// is carried over unchanged.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn transpose8(r: [__m256; LANES]) -> [__m256; LANES] {
    // [r0.0 r1.0 r0.1 r1.1 | r0.4 r1.4 r0.5 r1.5], and so on.
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    // [r0.k r1.k r2.k r3.k | r0.k+4 r1.k+4 r2.k+4 r3.k+4] for k = 0..4.
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    // The same for rows 4..8.
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

#[target_feature(enable = "avx2,fma")]
fn packed_driver(
    queries: &[f32],
    nq: usize,
    packed: &[f32],
    nv: usize,
    dim: usize,
    out: &mut [f32],
) {
    let gstride = dim * LANES;
    let groups = nv.div_ceil(LANES);
    let mut qi = 0;
    while qi < nq {
        let rows = PACKED_MR.min(nq - qi);
        let (Some(q), Some(orow)) = (queries.get(qi * dim..), out.get_mut(qi * nv..)) else {
            return;
        };
        let mut g = 0;
        while g < groups {
            let gs = PACKED_NR.min(groups - g);
            let cols = nv - g * LANES;
            let (Some(p), Some(o)) = (packed.get(g * gstride..), orow.get_mut(g * LANES..)) else {
                break;
            };
            macro_rules! pick {
                ($($r:literal x $c:literal),*) => {
                    match (rows, gs) {
                        $(($r, $c) => packed_micro::<$r, $c>(q, p, dim, o, nv, cols),)*
                        _ => {}
                    }
                };
            }
            pick!(1 x 1, 1 x 2, 2 x 1, 2 x 2, 3 x 1, 3 x 2, 4 x 1, 4 x 2, 5 x 1, 5 x 2, 6 x 1, 6 x 2);
            g += gs;
        }
        qi += rows;
    }
}

impl Avx2Fma {
    /// `sum((a[i] - w[i] * c[i])^2)` with codes widened to floats, 32 components a step.
    #[inline]
    pub(crate) fn l2_u8(self, a: &[f32], w: &[f32], codes: &[u8]) -> f32 {
        // SAFETY: `self` exists only if AVX2 and FMA were detected at runtime.
        unsafe { l2_u8_avx2(a, w, codes) }
    }

    /// `sum(w[i] * c[i])` with codes widened to floats, 32 components a step.
    #[inline]
    pub(crate) fn dot_u8(self, w: &[f32], codes: &[u8]) -> f32 {
        // SAFETY: `self` exists only if AVX2 and FMA were detected at runtime.
        unsafe { dot_u8_avx2(w, codes) }
    }
}

#[target_feature(enable = "avx2,fma")]
fn dot_u8_avx2(w: &[f32], codes: &[u8]) -> f32 {
    let n = w.len().min(codes.len());
    let (w, codes) = (&w[..n], &codes[..n]);
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut wc = w.chunks_exact(32);
    let mut cc = codes.chunks_exact(32);
    for (w32, c32) in (&mut wc).zip(&mut cc) {
        for (j, a) in acc.iter_mut().enumerate() {
            let lo = j * 8;
            // SAFETY: `c32` has 32 bytes and `lo + 8 <= 32`; `w32` has 32 floats. The
            // loads are unaligned loads of in-bounds memory.
            let (c8, w8) = unsafe {
                (
                    _mm_loadl_epi64(c32.as_ptr().add(lo) as *const __m128i),
                    _mm256_loadu_ps(w32.as_ptr().add(lo)),
                )
            };
            let cf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8));
            *a = _mm256_fmadd_ps(w8, cf, *a);
        }
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum::<f32>() + crate::quant::dot_u8_scalar(wc.remainder(), cc.remainder())
}

#[target_feature(enable = "avx2,fma")]
fn l2_u8_avx2(a: &[f32], w: &[f32], codes: &[u8]) -> f32 {
    let n = a.len().min(w.len()).min(codes.len());
    let (a, w, codes) = (&a[..n], &w[..n], &codes[..n]);
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut ac = a.chunks_exact(32);
    let mut wc = w.chunks_exact(32);
    let mut cc = codes.chunks_exact(32);
    for ((a32, w32), c32) in (&mut ac).zip(&mut wc).zip(&mut cc) {
        for (j, acc) in acc.iter_mut().enumerate() {
            let lo = j * 8;
            // SAFETY: `c32` has 32 bytes and `lo + 8 <= 32`; `a32` and `w32` have 32
            // floats. The loads are unaligned loads of in-bounds memory.
            let (c8, a8, w8) = unsafe {
                (
                    _mm_loadl_epi64(c32.as_ptr().add(lo) as *const __m128i),
                    _mm256_loadu_ps(a32.as_ptr().add(lo)),
                    _mm256_loadu_ps(w32.as_ptr().add(lo)),
                )
            };
            let cf = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8));
            let d = _mm256_fnmadd_ps(w8, cf, a8);
            *acc = _mm256_fmadd_ps(d, d, *acc);
        }
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds 8 floats.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum::<f32>()
        + crate::quant::l2_u8_scalar(ac.remainder(), wc.remainder(), cc.remainder())
}

/// Prefetches every cache line of `bytes` with the locality `HINT` (`_MM_HINT_T0`:
/// into every level; `_MM_HINT_T1`: into the second level, which can track more
/// misses at once than the first).
#[inline]
pub(crate) fn prefetch_lines<const HINT: i32>(bytes: &[u8]) {
    let mut off = 0;
    while off < bytes.len() {
        // SAFETY: prefetch takes any address and never faults; `off < len` keeps the
        // pointer inside the slice anyway.
        unsafe { _mm_prefetch::<HINT>(bytes.as_ptr().add(off) as *const i8) };
        off += 64;
    }
}
