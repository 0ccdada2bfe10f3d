//! Cross-path equality tests: every entry point must reproduce the scalar
//! reference bit for bit, and the reference must be accurate.

use proptest::prelude::*;

use crate::{
    dot, dot_block, dot_tile, l2_sq, l2_sq_block, l2_sq_tile, scalar, PackedBlock, TileShape,
};

/// Bitwise equality, except that any NaN equals any NaN: NaN payloads and
/// signs are not part of the promise (they differ between `fmaf` and the
/// hardware default NaN).
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn assert_same(what: &str, got: f32, want: f32) {
    assert!(
        same(got, want),
        "{what}: got {got:e} ({:#010x}), want {want:e} ({:#010x})",
        got.to_bits(),
        want.to_bits()
    );
}

/// The SIMD kernel, if this CPU has one, so tests can pit it against the
/// scalar reference directly rather than through dispatch.
#[cfg(target_arch = "x86_64")]
fn simd() -> Option<crate::avx2::Avx2Fma> {
    crate::avx2::Avx2Fma::get()
}

#[cfg(target_arch = "x86_64")]
fn check_pair_kernels(a: &[f32], b: &[f32]) {
    if let Some(k) = simd() {
        assert_same("avx2 dot", k.dot(a, b), scalar::dot(a, b));
        assert_same("avx2 l2", k.l2_sq(a, b), scalar::l2_sq(a, b));
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn check_pair_kernels(_a: &[f32], _b: &[f32]) {}

/// Checks the public entry points and the scalar batch paths against the
/// scalar per-pair reference.
fn check_all(queries: &[f32], nq: usize, vectors: &[f32], nv: usize, dim: usize) {
    let q_rows: Vec<&[f32]> = (0..nq).map(|i| &queries[i * dim..(i + 1) * dim]).collect();
    let v_rows: Vec<&[f32]> = (0..nv).map(|i| &vectors[i * dim..(i + 1) * dim]).collect();

    for q in &q_rows {
        for v in &v_rows {
            check_pair_kernels(q, v);
            assert_same("dot", dot(q, v), scalar::dot(q, v));
            assert_same("l2_sq", l2_sq(q, v), scalar::l2_sq(q, v));
        }
    }

    let mut out = vec![f32::NAN; nv];
    let mut sout = vec![f32::NAN; nv];
    for q in &q_rows {
        dot_block(q, vectors, &mut out);
        scalar::block(false, q, vectors, &mut sout);
        for (i, v) in v_rows.iter().enumerate() {
            assert_same("dot_block", out[i], scalar::dot(q, v));
            assert_same("scalar dot block", sout[i], out[i]);
        }
        l2_sq_block(q, vectors, &mut out);
        scalar::block(true, q, vectors, &mut sout);
        for (i, v) in v_rows.iter().enumerate() {
            assert_same("l2_sq_block", out[i], scalar::l2_sq(q, v));
            assert_same("scalar l2 block", sout[i], out[i]);
        }
    }

    let mut tout = vec![f32::NAN; nq * nv];
    let mut sout = vec![f32::NAN; nq * nv];
    let shape = TileShape {
        nq,
        nv,
        dim,
        stride: nv,
    };
    let mut packed = PackedBlock::new();
    // Reused buffer: stale contents from a larger block must not show.
    packed.pack(&vec![f32::NAN; (nv + 9) * dim], nv + 9, dim);
    packed.pack(vectors, nv, dim);
    assert_eq!(packed.len(), nv);
    tout.fill(f32::NAN);
    packed.dot_tile(queries, nq, &mut tout);
    if dim > 0 && packed.transposed {
        // The layout itself, bit for bit (the SIMD and scalar packers).
        for (vi, v) in v_rows.iter().enumerate() {
            let base = vi / 8 * dim * 8 + vi % 8;
            for (i, &x) in v.iter().enumerate() {
                let got = packed.data[base + crate::packed_index(i, dim)];
                assert_eq!(got.to_bits(), x.to_bits(), "pack: vector {vi} element {i}");
            }
        }
        for vi in nv..nv.div_ceil(8) * 8 {
            for i in 0..dim {
                let got = packed.data[vi / 8 * dim * 8 + vi % 8 + crate::packed_index(i, dim)];
                assert_eq!(got.to_bits(), 0, "pack: padding {vi} element {i}");
            }
        }
        sout.fill(f32::NAN);
        scalar::packed_dot_tile(queries, nq, &packed.data, nv, dim, &mut sout);
    }
    for (qi, q) in q_rows.iter().enumerate() {
        for (vi, v) in v_rows.iter().enumerate() {
            let want = scalar::dot(q, v);
            assert_same("packed tile", tout[qi * nv + vi], want);
            if dim > 0 && packed.transposed {
                assert_same("scalar packed tile", sout[qi * nv + vi], want);
            }
        }
    }
    for l2 in [false, true] {
        if l2 {
            l2_sq_tile(queries, nq, vectors, nv, dim, &mut tout);
        } else {
            dot_tile(queries, nq, vectors, nv, dim, &mut tout);
        }
        if dim > 0 {
            scalar::tile(l2, queries, vectors, shape, &mut sout);
        }
        for (qi, q) in q_rows.iter().enumerate() {
            for (vi, v) in v_rows.iter().enumerate() {
                let want = if l2 {
                    scalar::l2_sq(q, v)
                } else {
                    scalar::dot(q, v)
                };
                assert_same("tile", tout[qi * nv + vi], want);
                if dim > 0 {
                    assert_same("scalar tile", sout[qi * nv + vi], want);
                }
            }
        }
    }
}

/// f64 references and error bounds. The canonical order has a summation
/// depth of at most n/8 + 3 + (n % 8) additions, each contributing one
/// rounding, plus one for each product or difference; the bound below
/// uses n/8 + 12 roundings of the sum of absolute terms.
fn dot_ref(a: &[f32], b: &[f32]) -> (f64, f64) {
    let mut s = 0.0f64;
    let mut abs = 0.0f64;
    for (&x, &y) in a.iter().zip(b) {
        let p = x as f64 * y as f64;
        s += p;
        abs += p.abs();
    }
    (s, abs)
}

fn l2_ref(a: &[f32], b: &[f32]) -> (f64, f64) {
    let s: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
        .sum();
    (s, s)
}

fn check_accuracy(a: &[f32], b: &[f32]) {
    let n = a.len() as f64;
    let eps = f32::EPSILON as f64;
    // Results below this are dominated by subnormal underflow, where only an
    // absolute bound makes sense.
    let floor = f32::MIN_POSITIVE as f64 * (n + 8.0);
    for (name, got, (want, abs)) in [
        ("dot", dot(a, b), dot_ref(a, b)),
        ("l2_sq", l2_sq(a, b), l2_ref(a, b)),
    ] {
        if !got.is_finite() || abs > f32::MAX as f64 / 2.0 {
            continue;
        }
        let tol = (n / 8.0 + 12.0) * eps * abs + floor;
        let err = (got as f64 - want).abs();
        assert!(
            err <= tol,
            "{name} dim {}: got {got:e}, f64 {want:e}, err {err:e} > tol {tol:e}",
            a.len()
        );
    }
}

fn dims() -> impl Strategy<Value = usize> {
    prop_oneof![
        prop::sample::select(vec![1usize, 7, 8, 9, 15, 16, 17, 127, 128, 129, 384]),
        1usize..=600,
    ]
}

/// Mostly ordinary values, some spread over a wide exponent range (large and
/// tiny, including subnormal products), and occasional extreme values that
/// overflow to infinity or produce NaN, which must still agree.
fn value() -> impl Strategy<Value = f32> + Clone {
    prop_oneof![
        6 => -1.0f32..1.0,
        3 => (-1.0f32..1.0, -60i32..60).prop_map(|(m, e)| m * 2f32.powi(e)),
        1 => prop::num::f32::NORMAL | prop::num::f32::SUBNORMAL | prop::num::f32::ZERO,
    ]
}

/// Values that cannot overflow in a sum of 600 squares, for accuracy checks.
fn tame_value() -> impl Strategy<Value = f32> + Clone {
    prop_oneof![
        3 => -1.0f32..1.0,
        1 => (-1.0f32..1.0, -50i32..50).prop_map(|(m, e)| m * 2f32.powi(e)),
    ]
}

fn pair(v: impl Strategy<Value = f32> + Clone) -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
    dims().prop_flat_map(move |d| {
        (
            prop::collection::vec(v.clone(), d),
            prop::collection::vec(v.clone(), d),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn pair_paths_agree((a, b) in pair(value())) {
        check_pair_kernels(&a, &b);
        assert_same("dot", dot(&a, &b), scalar::dot(&a, &b));
        assert_same("l2_sq", l2_sq(&a, &b), scalar::l2_sq(&a, &b));
    }

    #[test]
    fn close_to_f64_reference((a, b) in pair(tame_value())) {
        check_accuracy(&a, &b);
    }

    #[test]
    fn batch_paths_agree(
        (dim, nq, nv, q, v) in (dims(), 1usize..=9, 1usize..=11).prop_flat_map(|(d, nq, nv)| {
            (
                Just(d),
                Just(nq),
                Just(nv),
                prop::collection::vec(value(), nq * d),
                prop::collection::vec(value(), nv * d),
            )
        })
    ) {
        check_all(&q, nq, &v, nv, dim);
    }
}

fn ramp(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed);
            (x >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

#[test]
fn all_small_shapes_agree() {
    // Every ragged edge of the 8-wide block kernel and the 4x3 / 3x3 tiles.
    for dim in 0..=34 {
        let q = ramp(9 * dim, 1);
        let v = ramp(17 * dim, 2);
        for nq in 1..=9 {
            for nv in [1, 2, 3, 4, 5, 7, 8, 9, 16, 17] {
                check_all(&q[..nq * dim], nq, &v[..nv * dim], nv, dim);
            }
        }
    }
}

#[test]
fn unaligned_vectors_agree() {
    // Offsetting by one float breaks 32-byte alignment of every vector.
    let dim = 131;
    let q = ramp(5 * dim + 1, 3);
    let v = ramp(19 * dim + 1, 4);
    check_all(&q[1..], 5, &v[1..], 19, dim);
}

#[test]
fn large_block_matches_pairwise() {
    for dim in [128, 384, 100] {
        let n = 1000;
        let q = ramp(dim, 5);
        let v = ramp(n * dim, 6);
        let mut out = vec![0.0; n];
        l2_sq_block(&q, &v, &mut out);
        for (o, row) in out.iter().zip(v.chunks_exact(dim)) {
            assert_same("l2 block", *o, l2_sq(&q, row));
        }
        dot_block(&q, &v, &mut out);
        for (o, row) in out.iter().zip(v.chunks_exact(dim)) {
            assert_same("dot block", *o, dot(&q, row));
        }
    }
}

#[test]
fn block_longer_than_out_is_only_prefetched() {
    // Callers pass the rest of their array so the prefetch runs on past the
    // vectors computed; the results must not depend on that tail.
    for dim in [5, 128, 384] {
        let n = 300;
        let q = ramp(dim, 11);
        let v = ramp(n * dim, 12);
        for m in [1, 3, 4, 7, 64, 299] {
            let mut out = vec![-1.0; m + 2];
            l2_sq_block(&q, &v, &mut out[..m]);
            for (o, row) in out[..m].iter().zip(v.chunks_exact(dim)) {
                assert_same("long l2 block", *o, l2_sq(&q, row));
            }
            dot_block(&q, &v[dim..], &mut out[..m]);
            for (o, row) in out[..m].iter().zip(v[dim..].chunks_exact(dim)) {
                assert_same("long dot block", *o, dot(&q, row));
            }
            assert_eq!(&out[m..], &[-1.0, -1.0]);
        }
    }
}

#[test]
fn tile_leaves_stride_padding_alone() {
    // Output rows of stride nv where fewer vectors exist than nv: only the
    // computable prefix of each row is written. Exercised on the internal
    // paths to stay clear of the public debug assertions.
    let (dim, nq, nv, stride) = (10, 5, 4, 7);
    let q = ramp(nq * dim, 7);
    let v = ramp(nv * dim, 8);
    let shape = TileShape {
        nq,
        nv,
        dim,
        stride,
    };
    let mut sout = vec![-7.0; nq * stride];
    scalar::tile(false, &q, &v, shape, &mut sout);
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = simd() {
        let mut out = vec![-7.0; nq * stride];
        k.tile(false, &q, &v, shape, &mut out);
        for (a, b) in out.iter().zip(&sout) {
            assert_same("strided tile", *a, *b);
        }
    }
    for qi in 0..nq {
        for vi in 0..stride {
            let o = sout[qi * stride + vi];
            if vi < nv {
                let want = dot(&q[qi * dim..][..dim], &v[vi * dim..][..dim]);
                assert_same("strided", o, want);
            } else {
                assert_eq!(o, -7.0);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn simd_kernels_tolerate_short_inputs() {
    let Some(k) = simd() else { return };
    let a = ramp(23, 9);
    let b = ramp(17, 10);
    assert_same("prefix dot", k.dot(&a, &b), scalar::dot(&a[..17], &b));
    assert_same("prefix l2", k.l2_sq(&a, &b), scalar::l2_sq(&a[..17], &b));
    // A block slice shorter than out.len() vectors must not be read past:
    // the ragged group is skipped rather than read out of bounds.
    let mut out = [-1.0f32; 2];
    k.block(true, &a[..8], &b[..12], &mut out);
    assert_eq!(out, [-1.0, -1.0]);
}

/// Inconsistent lengths trip debug assertions, so the release behaviour
/// (clamp to what fits, never panic) is checked only in release test runs:
/// `cargo test --release -p rvf-distance`.
#[cfg(not(debug_assertions))]
#[test]
fn mismatched_lengths_do_not_panic() {
    let a = ramp(20, 1);
    let b = ramp(13, 2);
    assert_same("dot prefix", dot(&a, &b), scalar::dot(&a[..13], &b));
    assert_same("l2 prefix", l2_sq(&a, &b), scalar::l2_sq(&a[..13], &b));

    // Block too short for out: 2 full vectors of dim 5 fit in 13 floats.
    let mut out = vec![-1.0f32; 4];
    dot_block(&a[..5], &b, &mut out);
    assert_same("block 0", out[0], dot(&a[..5], &b[..5]));
    assert_same("block 1", out[1], dot(&a[..5], &b[5..10]));
    assert_eq!(&out[2..], &[-1.0, -1.0]);

    // Zero dimension: every distance is an empty sum.
    let mut out = vec![-1.0f32; 3];
    l2_sq_block(&[], &[], &mut out);
    assert_eq!(out, vec![0.0; 3]);
    let mut out = vec![-1.0f32; 6];
    dot_tile(&[], 2, &[], 3, 0, &mut out);
    assert_eq!(out, vec![0.0; 6]);

    // Tile with too few queries, vectors and output: clamp, never panic.
    let mut out = vec![-1.0f32; 5];
    dot_tile(&a, 4, &b, 3, 5, &mut out);
    // queries fit 4, vectors fit 2, out fits 5/3 = 1 row of stride 3.
    assert_same("tile 0", out[0], dot(&a[..5], &b[..5]));
    assert_same("tile 1", out[1], dot(&a[..5], &b[5..10]));
    assert_eq!(&out[2..], &[-1.0, -1.0, -1.0]);
    let mut out = vec![-1.0f32; 2];
    l2_sq_tile(&a, 1, &b, 2, usize::MAX, &mut out);
    assert_eq!(out, vec![-1.0, -1.0]);
}

#[test]
fn kernel_name_matches_detection() {
    let name = crate::kernel_name();
    #[cfg(target_arch = "x86_64")]
    {
        let want = if simd().is_some() {
            "avx2+fma"
        } else {
            "scalar"
        };
        assert_eq!(name, want);
    }
    #[cfg(not(target_arch = "x86_64"))]
    assert_eq!(name, "scalar");
}

#[test]
fn min_of_pairs_matches_a_plain_fold() {
    let fold = |a: &[f32], b: &[f32]| {
        a.iter().zip(b).fold(f32::INFINITY, |m, (&x, &y)| {
            let v = x - 2.0 * y;
            if v < m {
                v
            } else {
                m
            }
        })
    };
    let f = |x: f32, y: f32| x - 2.0 * y;
    for n in [0, 1, 7, 8, 9, 16, 31, 128, 131] {
        let mut a = ramp(n, 13);
        let b = ramp(n + 3, 14);
        assert_same("min", crate::min_of_pairs(&a, &b, f), fold(&a, &b));
        assert_same(
            "portable min",
            crate::min_of_pairs_portable(&a, &b, f),
            fold(&a, &b),
        );
        // NaN never wins, wherever it sits.
        for i in (0..n).step_by(5) {
            a[i] = f32::NAN;
        }
        assert_same("min with NaN", crate::min_of_pairs(&a, &b, f), fold(&a, &b));
    }
    assert_eq!(
        crate::min_of_pairs(&[f32::NAN; 9], &[0.0; 9], f),
        f32::INFINITY
    );
}
