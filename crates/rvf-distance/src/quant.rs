//! Approximate kernels for graph traversal over 8-bit codes (not bound by the canonical
//! order: their results only steer the search, and every answer is re-scored exactly).
//!
//! A vector stored as codes `c` decodes to `min + c * step` per component; its inner
//! product with a query `q` is `q . min + sum(q_i * step_i * c_i)`. The caller folds
//! `step` into the query once (`w = q * step`) and the constant aside, so `dot_u8(w, c)`
//! serves inner product and cosine; `l2_u8(q - min, step, c)` gives the squared
//! distance. Each runs on AVX-512 where the CPU has it (detected at run time), else on
//! AVX2 + FMA, else in portable code.

#[cfg(target_arch = "x86_64")]
use crate::avx2::Avx2Fma;
#[cfg(target_arch = "x86_64")]
use crate::avx512::Avx512;

/// `sum(w[i] * c[i])` over the common length, codes read as unsigned integers.
#[inline]
pub fn dot_u8(w: &[f32], codes: &[u8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = Avx512::get() {
        return k.dot_u8(w, codes);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = Avx2Fma::get() {
        return k.dot_u8(w, codes);
    }
    dot_u8_scalar(w, codes)
}

/// `sum((a[i] - w[i] * c[i])^2)`: the squared distance from a point to the vector that
/// 8-bit codes decode to, with `a = q - min` and `w` the codes' step per component.
/// It reads the codes only, where the expanded `|q|^2 - 2 q.x + |x|^2` needs each
/// vector's norm from another place (a cache miss more per vector in a large graph).
/// Over the common prefix of the three slices.
pub fn l2_u8(a: &[f32], w: &[f32], codes: &[u8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = Avx512::get() {
        return k.l2_u8(a, w, codes);
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = Avx2Fma::get() {
        return k.l2_u8(a, w, codes);
    }
    l2_u8_scalar(a, w, codes)
}

pub(crate) fn l2_u8_scalar(a: &[f32], w: &[f32], codes: &[u8]) -> f32 {
    a.iter()
        .zip(w)
        .zip(codes)
        .fold(0.0f32, |acc, ((&a, &w), &c)| {
            let d = (-w).mul_add(f32::from(c), a);
            d.mul_add(d, acc)
        })
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
    crate::avx2::prefetch_lines::<{ core::arch::x86_64::_MM_HINT_T0 }>(bytes);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// [`prefetch`] into the second-level cache only: for data wanted a little later,
/// where the first level's few outstanding misses would stall the prefetching loop.
#[inline]
pub fn prefetch_l2(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    crate::avx2::prefetch_lines::<{ core::arch::x86_64::_MM_HINT_T1 }>(bytes);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel this CPU can run, against the portable one.
    #[test]
    fn each_simd_kernel_agrees_with_the_portable_one() {
        for n in [0usize, 1, 15, 16, 17, 31, 32, 33, 128, 384, 1000] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 13) % 17) as f32 * 0.5 - 3.0).collect();
            let w: Vec<f32> = (0..n).map(|i| ((i * 7) % 5) as f32 * 0.01).collect();
            let c: Vec<u8> = (0..n).map(|i| ((i * 91) % 256) as u8).collect();
            let (dot, l2) = (dot_u8_scalar(&w, &c), l2_u8_scalar(&a, &w, &c));
            let close = |x: f32, y: f32| (x - y).abs() <= 1e-4 * (1.0 + y.abs());
            #[cfg(target_arch = "x86_64")]
            {
                if let Some(k) = Avx2Fma::get() {
                    assert!(close(k.dot_u8(&w, &c), dot), "avx2 dot, n {n}");
                    assert!(close(k.l2_u8(&a, &w, &c), l2), "avx2 l2, n {n}");
                }
                if let Some(k) = Avx512::get() {
                    assert!(close(k.dot_u8(&w, &c), dot), "avx512 dot, n {n}");
                    assert!(close(k.l2_u8(&a, &w, &c), l2), "avx512 l2, n {n}");
                }
            }
            assert!(close(dot_u8(&w, &c), dot) && close(l2_u8(&a, &w, &c), l2));
        }
    }

    #[test]
    fn l2_of_codes_matches_the_decoded_vector() {
        for n in [0usize, 1, 7, 8, 31, 32, 33, 100, 128, 384, 1000] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 13) % 17) as f32 * 0.5 - 3.0).collect();
            let w: Vec<f32> = (0..n).map(|i| ((i * 7) % 5) as f32 * 0.01).collect();
            let c: Vec<u8> = (0..n).map(|i| ((i * 91) % 256) as u8).collect();
            let exact: f64 = (0..n)
                .map(|i| {
                    let d = f64::from(a[i]) - f64::from(w[i]) * f64::from(c[i]);
                    d * d
                })
                .sum();
            let got = f64::from(l2_u8(&a, &w, &c));
            let scalar = f64::from(l2_u8_scalar(&a, &w, &c));
            let tol = 1e-4 * (1.0 + exact.abs());
            assert!((got - exact).abs() <= tol, "n {n}: {got} vs {exact}");
            assert!((scalar - exact).abs() <= tol, "n {n}: {scalar} vs {exact}");
        }
    }

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
        assert_eq!(l2_u8(&[1.0, 2.0, 3.0], &[1.0, 1.0, 1.0], &[1, 1]), 1.0);
        prefetch(&[0u8; 200]);
        prefetch(&[]);
        prefetch_l2(&[0u8; 200]);
    }
}
