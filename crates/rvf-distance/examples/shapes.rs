use rvf_distance::avx2::experiment;
use std::time::Instant;
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
fn run<const L2: bool, const MR: usize, const NR: usize>(
    dim: usize,
    nq: usize,
    nv: usize,
    vouter: bool,
) {
    let q = data(nq * dim, 1);
    let v = data(nv * dim, 2);
    let mut out = vec![0.0; nq * nv];
    let nqe = nq / MR * MR;
    let nve = nv / NR * NR;
    let flops = 2.0 * (nqe * nve * dim) as f64;
    let mut best = f64::MAX;
    for _ in 0..25 {
        let t = Instant::now();
        let reps = 20;
        for _ in 0..reps {
            experiment::<L2, MR, NR>(&q, nq, &v, nv, dim, &mut out, vouter);
            std::hint::black_box(&out);
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    println!(
        "L2={L2} {MR}x{NR} dim {dim} nq {nq} nv {nv} vouter {vouter}: {:.1} GFLOP/s",
        flops / best / 1e9
    );
}
fn main() {
    for dim in [128, 384] {
        for (nq, nv) in [(64, 256), (48, 96)] {
            for vo in [false, true] {
                run::<false, 4, 3>(dim, nq, nv, vo);
                run::<false, 6, 2>(dim, nq, nv, vo);
                run::<false, 4, 2>(dim, nq, nv, vo);
                run::<false, 2, 4>(dim, nq, nv, vo);
                run::<false, 3, 3>(dim, nq, nv, vo);
                run::<true, 3, 3>(dim, nq, nv, vo);
                run::<true, 4, 2>(dim, nq, nv, vo);
                run::<true, 2, 4>(dim, nq, nv, vo);
                run::<true, 5, 2>(dim, nq, nv, vo);
            }
        }
    }
}
