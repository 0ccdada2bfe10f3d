//! Approximate kernels for graph traversal over 8-bit codes (not bound by the canonical
//! order: their results only steer the search, and every answer is re-scored exactly).
//!
//! A vector stored as codes `c` decodes to `min + c * step` per component; its inner
//! product with a query `q` is `q . min + sum(q_i * step_i * c_i)`. The caller folds
//! `step` into the query once (`w = q * step`) and the constant aside, so one kernel,
//! `dot_u8(w, c)`, serves every metric.

#[cfg(target_arch = "x86_64")]
use crate::avx2::Avx2Fma;

/// `sum(w[i] * c[i])` over the common length, codes read as unsigned integers.
#[inline]
pub fn dot_u8(w: &[f32], codes: &[u8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = Avx2Fma::get() {
        return k.dot_u8(w, codes);
    }
    dot_u8_scalar(w, codes)
}

pub(crate) fn dot_u8_scalar(w: &[f32], codes: &[u8]) -> f32 {
    w.iter()
        .zip(codes)
        .fold(0.0f32, |acc, (&x, &c)| x.mul_add(f32::from(c), acc))
}

/// Hints the CPU to start loading the cache lines of `bytes` (a node's codes, say)
/// before they are needed. Does nothing where there is no prefetch instruction.
#[inline]
pub fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    crate::avx2::prefetch(bytes);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_and_scalar_agree() {
        for n in [0usize, 1, 7, 8, 31, 32, 33, 100, 128, 384, 1000] {
            let w: Vec<f32> = (0..n)
                .map(|i| ((i * 37) % 11) as f32 * 0.25 - 1.0)
                .collect();
            let c: Vec<u8> = (0..n).map(|i| ((i * 91) % 256) as u8).collect();
            let exact: f64 = w
                .iter()
                .zip(&c)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            let got = f64::from(dot_u8(&w, &c));
            let scalar = f64::from(dot_u8_scalar(&w, &c));
            let tol = 1e-4 * (1.0 + exact.abs());
            assert!((got - exact).abs() <= tol, "n {n}: {got} vs {exact}");
            assert!((scalar - exact).abs() <= tol, "n {n}: {scalar} vs {exact}");
        }
        // Lengths differ: the common prefix.
        assert_eq!(dot_u8(&[1.0, 2.0, 3.0], &[1, 1]), 3.0);
        prefetch(&[0u8; 200]);
        prefetch(&[]);
    }
}
