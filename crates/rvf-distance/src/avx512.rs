//! AVX-512 kernels for the 8-bit codes of the ANN index, where a traversal scores
//! thousands of codes a query. These distances only steer a search (the exact kernels,
//! which keep one canonical summation order, re-score what it finds), so they need not
//! match the AVX2 or scalar sums bit for bit.

#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering};

/// Zero-sized proof that the running CPU supports AVX-512F.
///
/// It can only be obtained from [`Avx512::get`], which is what makes the calls into
/// `#[target_feature]` functions below sound.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(());

const UNKNOWN: u8 = 0;
const ABSENT: u8 = 1;
const PRESENT: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

impl Avx512 {
    #[inline]
    pub(crate) fn get() -> Option<Self> {
        match STATE.load(Ordering::Relaxed) {
            PRESENT => Some(Avx512(())),
            ABSENT => None,
            _ => Self::detect(),
        }
    }

    #[cold]
    fn detect() -> Option<Self> {
        let ok = std::is_x86_feature_detected!("avx512f");
        STATE.store(if ok { PRESENT } else { ABSENT }, Ordering::Relaxed);
        ok.then_some(Avx512(()))
    }

    /// `sum((a[i] - w[i] * c[i])^2)` over the common prefix.
    #[inline]
    pub(crate) fn l2_u8(self, a: &[f32], w: &[f32], codes: &[u8]) -> f32 {
        // SAFETY: `self` exists only if AVX-512F was detected at runtime.
        unsafe { l2_u8_avx512(a, w, codes) }
    }

    /// `sum(w[i] * c[i])` over the common prefix.
    #[inline]
    pub(crate) fn dot_u8(self, w: &[f32], codes: &[u8]) -> f32 {
        // SAFETY: `self` exists only if AVX-512F was detected at runtime.
        unsafe { dot_u8_avx512(w, codes) }
    }
}

/// Sixteen codes widened to floats.
#[inline]
#[target_feature(enable = "avx512f")]
fn widen16(c16: &[u8]) -> __m512 {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&c16[..16]);
    // SAFETY: `bytes` holds 16 bytes; the load is unaligned.
    let c = unsafe { _mm_loadu_si128(bytes.as_ptr() as *const __m128i) };
    _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(c))
}

#[target_feature(enable = "avx512f")]
fn l2_u8_avx512(a: &[f32], w: &[f32], codes: &[u8]) -> f32 {
    let n = a.len().min(w.len()).min(codes.len());
    let (a, w, codes) = (&a[..n], &w[..n], &codes[..n]);
    let mut acc = [_mm512_setzero_ps(); 2];
    let mut ac = a.chunks_exact(32);
    let mut wc = w.chunks_exact(32);
    let mut cc = codes.chunks_exact(32);
    for ((a32, w32), c32) in (&mut ac).zip(&mut wc).zip(&mut cc) {
        for (j, acc) in acc.iter_mut().enumerate() {
            let lo = j * 16;
            // SAFETY: `a32` and `w32` hold 32 floats and `lo + 16 <= 32`; the loads are
            // unaligned loads of in-bounds memory.
            let (a16, w16) = unsafe {
                (
                    _mm512_loadu_ps(a32.as_ptr().add(lo)),
                    _mm512_loadu_ps(w32.as_ptr().add(lo)),
                )
            };
            let d = _mm512_fnmadd_ps(w16, widen16(&c32[lo..lo + 16]), a16);
            *acc = _mm512_fmadd_ps(d, d, *acc);
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
        + crate::quant::l2_u8_scalar(ac.remainder(), wc.remainder(), cc.remainder())
}

#[target_feature(enable = "avx512f")]
fn dot_u8_avx512(w: &[f32], codes: &[u8]) -> f32 {
    let n = w.len().min(codes.len());
    let (w, codes) = (&w[..n], &codes[..n]);
    let mut acc = [_mm512_setzero_ps(); 2];
    let mut wc = w.chunks_exact(32);
    let mut cc = codes.chunks_exact(32);
    for (w32, c32) in (&mut wc).zip(&mut cc) {
        for (j, acc) in acc.iter_mut().enumerate() {
            let lo = j * 16;
            // SAFETY: `w32` holds 32 floats and `lo + 16 <= 32`; an unaligned load of
            // in-bounds memory.
            let w16 = unsafe { _mm512_loadu_ps(w32.as_ptr().add(lo)) };
            *acc = _mm512_fmadd_ps(w16, widen16(&c32[lo..lo + 16]), *acc);
        }
    }
    _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]))
        + crate::quant::dot_u8_scalar(wc.remainder(), cc.remainder())
}
