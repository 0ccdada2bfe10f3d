use rvf_distance::avx2::experiment_block;
use std::time::Instant;
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n).map(|_| { s ^= s << 13; s ^= s >> 7; s ^= s << 17; (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5 }).collect()
}
fn read_all(v: &[f32]) -> u32 {
    let mut acc = [0u32; 16];
    for c in v.chunks_exact(16) { for (a, x) in acc.iter_mut().zip(c) { *a ^= x.to_bits(); } }
    acc.iter().fold(0, |a, b| a ^ b)
}
fn main() {
    let dim: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(128);
    let total: usize = std::env::args().nth(2).map(|s| s.parse().unwrap()).unwrap_or(1 << 29);
    let n = total / (dim * 4);
    let v = data(n * dim, 1); let q = data(dim, 2); let mut out = vec![0.0f32; n];
    let bytes = n * dim * 4;
    let names = ["read", "pairwise", "nr8 g0", "nr8 g1", "nr8 g2", "nr8 g4", "nr4 g1", "nr4 g2", "nr4 g4"];
    let mut best = vec![f64::MAX; names.len()];
    let reps = (1usize << 28) / bytes + 1;
    for _round in 0..6 {
        for (i, b) in best.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..reps {
                match i {
                    0 => { std::hint::black_box(read_all(&v)); }
                    1 => for (o, x) in out.iter_mut().zip(v.chunks_exact(dim)) { *o = rvf_distance::l2_sq(&q, x); },
                    2 => experiment_block::<8, 0>(&q, &v, &mut out),
                    3 => experiment_block::<8, 1>(&q, &v, &mut out),
                    4 => experiment_block::<8, 2>(&q, &v, &mut out),
                    5 => experiment_block::<8, 4>(&q, &v, &mut out),
                    6 => experiment_block::<4, 1>(&q, &v, &mut out),
                    7 => experiment_block::<4, 2>(&q, &v, &mut out),
                    _ => experiment_block::<4, 4>(&q, &v, &mut out),
                }
                std::hint::black_box(&out);
            }
            *b = b.min(t.elapsed().as_secs_f64() / reps as f64);
        }
    }
    let line: Vec<String> = names.iter().zip(&best).map(|(n, b)| format!("{n}: {:.1}", bytes as f64 / b / 1e9)).collect();
    println!("dim {dim} bytes {bytes}: {}", line.join(" | "));
}
