//! Throughput of the distance kernels.
//!
//! `l2_sq_block` is reported in bytes of vector data scanned per second, next
//! to a plain streaming read of the same buffer as the bandwidth ceiling.
//! Tile benches report `elements` = floating-point operations (2 per
//! multiply-add), so criterion's "Gelem/s" reads as GFLOP/s.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rvf_distance::{dot_block, dot_tile, kernel_name, l2_sq, l2_sq_block, l2_sq_tile, PackedBlock};

/// Deterministic pseudo-random data without pulling in an RNG crate.
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

/// Reads every float once, doing as little work as possible per byte.
fn read_all(v: &[f32]) -> u32 {
    let mut acc = [0u32; 16];
    for c in v.chunks_exact(16) {
        for (a, x) in acc.iter_mut().zip(c) {
            *a ^= x.to_bits();
        }
    }
    acc.iter().fold(0, |a, b| a ^ b)
}

fn scan(c: &mut Criterion) {
    eprintln!("rvf-distance kernel: {}", kernel_name());
    let dim = 128;
    let mut g = c.benchmark_group("scan");
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    // 1M x 128 (512 MiB) streams from DRAM; 2K x 128 (1 MiB) stays in L2/L3.
    for n in [1usize << 20, 2048] {
        let block = data(n * dim, 1);
        let query = data(dim, 2);
        let mut out = vec![0.0f32; n];
        g.throughput(Throughput::Bytes((n * dim * 4) as u64));
        g.bench_with_input(BenchmarkId::new("read_baseline", n), &n, |b, _| {
            b.iter(|| black_box(read_all(black_box(&block))))
        });
        g.bench_with_input(BenchmarkId::new("l2_sq_block_d128", n), &n, |b, _| {
            b.iter(|| l2_sq_block(black_box(&query), black_box(&block), &mut out))
        });
        g.bench_with_input(BenchmarkId::new("dot_block_d128", n), &n, |b, _| {
            b.iter(|| dot_block(black_box(&query), black_box(&block), &mut out))
        });
        g.bench_with_input(BenchmarkId::new("l2_sq_pairwise_d128", n), &n, |b, _| {
            b.iter(|| {
                for (o, v) in out.iter_mut().zip(block.chunks_exact(dim)) {
                    *o = l2_sq(black_box(&query), v);
                }
            })
        });
    }
    g.finish();
}

fn tile(c: &mut Criterion) {
    let mut g = c.benchmark_group("tile");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    // One cache-sized call: 64 queries x 256 vectors.
    for dim in [128usize, 384] {
        let (nq, nv) = (64, 256);
        let q = data(nq * dim, 3);
        let v = data(nv * dim, 4);
        let mut out = vec![0.0f32; nq * nv];
        g.throughput(Throughput::Elements((2 * nq * nv * dim) as u64));
        g.bench_with_input(BenchmarkId::new("dot_tile_64x256", dim), &dim, |b, _| {
            b.iter(|| dot_tile(black_box(&q), nq, black_box(&v), nv, dim, &mut out))
        });
        g.bench_with_input(BenchmarkId::new("l2_sq_tile_64x256", dim), &dim, |b, _| {
            b.iter(|| l2_sq_tile(black_box(&q), nq, black_box(&v), nv, dim, &mut out))
        });
    }
    g.finish();

    // A whole batch of 1000 queries against 50K vectors, blocked for the
    // caches the way a caller is expected to drive the tile kernels.
    let mut g = c.benchmark_group("batch");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for dim in [128usize, 384] {
        let (nq, nv) = (1000usize, 50_000usize);
        let (qb, vb) = (64usize, 128usize);
        let q = data(nq * dim, 5);
        let v = data(nv * dim, 6);
        let mut out = vec![0.0f32; qb * vb];
        g.throughput(Throughput::Elements((2 * nq * nv * dim) as u64));
        // The batch scan's path: each vector block packed once, then scored
        // against every query block.
        g.bench_with_input(
            BenchmarkId::new("packed_dot_tile_1000x50k", dim),
            &dim,
            |b, _| {
                let mut packed = PackedBlock::new();
                b.iter(|| {
                    for vs in v.chunks(vb * dim) {
                        let nvb = vs.len() / dim;
                        packed.pack(vs, nvb, dim);
                        for qs in q.chunks(qb * dim) {
                            let nqb = qs.len() / dim;
                            packed.dot_tile(qs, nqb, &mut out[..nqb * nvb]);
                            black_box(&out);
                        }
                    }
                })
            },
        );
        for l2 in [false, true] {
            let name = if l2 {
                "l2_sq_tile_1000x50k"
            } else {
                "dot_tile_1000x50k"
            };
            g.bench_with_input(BenchmarkId::new(name, dim), &dim, |b, _| {
                b.iter(|| {
                    for vs in v.chunks(vb * dim) {
                        let nvb = vs.len() / dim;
                        for qs in q.chunks(qb * dim) {
                            let nqb = qs.len() / dim;
                            let o = &mut out[..nqb * nvb];
                            if l2 {
                                l2_sq_tile(qs, nqb, vs, nvb, dim, o);
                            } else {
                                dot_tile(qs, nqb, vs, nvb, dim, o);
                            }
                            black_box(&out);
                        }
                    }
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, scan, tile);
criterion_main!(benches);
