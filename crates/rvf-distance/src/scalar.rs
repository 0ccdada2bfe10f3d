//! Portable implementation of the canonical summation order.
//!
//! This is both the fallback for CPUs without AVX2+FMA and the executable
//! specification the SIMD code is tested against, so it favours obviously
//! matching the order described in the crate docs over speed. Every product
//! goes through `f32::mul_add` because the AVX2 path uses fused multiply-add,
//! and a separately rounded multiply would give different bits.

use crate::{TileShape, LANES};

/// Fixed horizontal reduction of the 8 lane accumulators.
///
/// The pairing mirrors what is cheapest on AVX2 (add the 128-bit halves, then
/// fold the upper 64 bits, then the last pair), so the SIMD code can follow it
/// without extra shuffles.
#[inline]
pub(crate) fn reduce_lanes(l: &[f32; LANES]) -> f32 {
    ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
}

/// Canonical dot product over the common prefix of `a` and `b`.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (xa, xb) in (&mut ca).zip(&mut cb) {
        for j in 0..LANES {
            acc[j] = xa[j].mul_add(xb[j], acc[j]);
        }
    }
    let mut sum = reduce_lanes(&acc);
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        sum = x.mul_add(y, sum);
    }
    sum
}

/// Canonical squared Euclidean distance over the common prefix of `a` and `b`.
pub(crate) fn l2_sq(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (xa, xb) in (&mut ca).zip(&mut cb) {
        for j in 0..LANES {
            let d = xa[j] - xb[j];
            acc[j] = d.mul_add(d, acc[j]);
        }
    }
    let mut sum = reduce_lanes(&acc);
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        let d = x - y;
        sum = d.mul_add(d, sum);
    }
    sum
}

/// One query against consecutive vectors; `out` and `block` are already
/// trimmed by the caller so that `block.len() >= out.len() * query.len()`.
pub(crate) fn block(l2: bool, query: &[f32], block: &[f32], out: &mut [f32]) {
    let dim = query.len();
    if dim == 0 {
        out.fill(0.0);
        return;
    }
    for (o, v) in out.iter_mut().zip(block.chunks_exact(dim)) {
        *o = if l2 { l2_sq(query, v) } else { dot(query, v) };
    }
}

/// All pairs of a validated tile: `queries`, `block` and `out` hold at least
/// `nq*dim`, `nv*dim` and `(nq-1)*stride + nv` values, and `dim > 0`.
pub(crate) fn tile(l2: bool, queries: &[f32], block: &[f32], shape: TileShape, out: &mut [f32]) {
    let TileShape {
        nq,
        nv,
        dim,
        stride,
    } = shape;
    for (qi, q) in queries.chunks_exact(dim).take(nq).enumerate() {
        let Some(row) = out.get_mut(qi * stride..) else {
            return;
        };
        for (o, v) in row.iter_mut().zip(block.chunks_exact(dim).take(nv)) {
            *o = if l2 { l2_sq(q, v) } else { dot(q, v) };
        }
    }
}

/// Canonical dot products of `nq` row-major queries against a packed block
/// (see [`crate::packed_index`]), pair
/// (q, v) to `out[q * nv + v]`. `dim > 0`; the packed block holds whole
/// groups for `nv` vectors and `out`, `queries` are long enough.
pub(crate) fn packed_dot_tile(
    queries: &[f32],
    nq: usize,
    packed: &[f32],
    nv: usize,
    dim: usize,
    out: &mut [f32],
) {
    let full = dim / LANES * LANES;
    for (qi, q) in queries.chunks_exact(dim).take(nq).enumerate() {
        for vi in 0..nv {
            let base = vi / LANES * dim * LANES + vi % LANES;
            let v = |i: usize| {
                packed
                    .get(base + crate::packed_index(i, dim))
                    .copied()
                    .unwrap_or(0.0)
            };
            let mut acc = [0.0f32; LANES];
            for (i, &x) in q[..full].iter().enumerate() {
                acc[i % LANES] = x.mul_add(v(i), acc[i % LANES]);
            }
            let mut sum = reduce_lanes(&acc);
            for (i, &x) in q.iter().enumerate().skip(full) {
                sum = x.mul_add(v(i), sum);
            }
            if let Some(o) = out.get_mut(qi * nv + vi) {
                *o = sum;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_exact() {
        assert_eq!(dot(&[], &[]), 0.0);
        assert_eq!(l2_sq(&[], &[]), 0.0);
        assert_eq!(dot(&[2.0], &[3.0]), 6.0);
        assert_eq!(l2_sq(&[2.0], &[5.0]), 9.0);
        let a: Vec<f32> = (0..9).map(|i| i as f32).collect();
        let b = vec![1.0f32; 9];
        assert_eq!(dot(&a, &b), 36.0);
        assert_eq!(
            l2_sq(&a, &b),
            (0..9).map(|i| ((i - 1) * (i - 1)) as f32).sum()
        );
    }

    #[test]
    fn reduction_order_is_the_documented_one() {
        // Values chosen so that a different pairing loses the small terms:
        // 1e8 + 1 rounds back to 1e8 in f32, so only the documented tree
        // (which cancels the big pair first) keeps both ones.
        let l = [1e8, 1.0, 0.0, 1.0, -1e8, 0.0, 0.0, 0.0];
        assert_eq!(reduce_lanes(&l), 2.0);
        let sequential: f32 = l.iter().sum();
        assert_ne!(sequential, 2.0);
    }

    #[test]
    fn mismatched_lengths_use_common_prefix() {
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[1.0, 1.0]), 3.0);
        assert_eq!(l2_sq(&[1.0], &[0.0, 5.0]), 1.0);
    }

    #[test]
    fn tail_uses_fused_multiply_add() {
        // (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24; adding -(1 + 2^-11) exposes the
        // 2^-24 only if the product is not rounded before the addition.
        let x = 1.0 + f32::powi(2.0, -12);
        let c = -(1.0 + f32::powi(2.0, -11));
        assert_eq!(x.mul_add(x, c), f32::powi(2.0, -24));
        // dim 1 => no full chunk, a single tail step onto the zero sum.
        assert_eq!(dot(&[x], &[x]), x * x);
    }
}
