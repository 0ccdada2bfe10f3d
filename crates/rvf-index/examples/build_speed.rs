//! Builds a graph over a raw little-endian f32 file and reports time and recall@10:
//! `cargo run --release -p rvf-index --example build_speed -- FILE DIM [QUERIES] [M] [EFC]`.
use std::time::Instant;

use rvf_format::{encode_graph, GraphHeader, GraphView, MetricCode};
use rvf_index::{build, search, BuildParams, Metric, Prepared, SearchStats};

fn read(path: &str) -> Vec<f32> {
    let b = std::fs::read(path).expect("read");
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dim: usize = args[2].parse().unwrap();
    let base = read(&args[1]);
    let queries = args.get(3).map(|p| read(p)).unwrap_or_default();
    let m: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(16);
    let efc: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(200);
    let n = base.len() / dim;
    let row = |i: u32| &base[i as usize * dim..(i as usize + 1) * dim];
    let t = Instant::now();
    let built = build(
        dim,
        n as u32,
        &row,
        BuildParams {
            metric: Metric::L2,
            m,
            ef_construction: efc,
            threads: 2,
            seed: 1,
        },
        &|_| true,
    )
    .expect("not cancelled");
    let secs = t.elapsed().as_secs_f64();
    let header = GraphHeader {
        dim: dim as u16,
        metric: MetricCode::L2,
        m: built.m,
        m0: built.m0,
        max_level: built.max_level,
        entry: built.entry,
        nodes: built.nodes,
        first_slot: 0,
        ef_construction: efc as u32,
    };
    let bytes = encode_graph(&header, &built.data);
    println!(
        "built {n} in {secs:.1} s; {} bytes ({:.0} B/vector)",
        bytes.len(),
        bytes.len() as f64 / n as f64
    );
    let mut buf = vec![0u64; bytes.len().div_ceil(8)];
    bytemuck::cast_slice_mut::<u64, u8>(&mut buf)[..bytes.len()].copy_from_slice(&bytes);
    let v = GraphView::decode(&bytemuck::cast_slice::<u64, u8>(&buf)[..bytes.len()]).unwrap();
    let nq = (queries.len() / dim).min(200);
    let truth: Vec<Vec<u32>> = (0..nq)
        .map(|qi| {
            let q = &queries[qi * dim..(qi + 1) * dim];
            let mut d: Vec<(f32, u32)> = (0..n as u32)
                .map(|i| (rvf_distance::l2_sq(q, row(i)), i))
                .collect();
            d.select_nth_unstable_by(10, |a, b| a.0.total_cmp(&b.0));
            d[..10].iter().map(|x| x.1).collect()
        })
        .collect();
    for ef in [16, 32, 64, 128, 256] {
        let t = Instant::now();
        let mut hits = 0;
        for qi in 0..nq {
            let q = &queries[qi * dim..(qi + 1) * dim];
            let p = Prepared::new(Metric::L2, (v.mins, v.steps), q);
            let mut st = SearchStats::default();
            let found = search(&v, &p, ef.max(10), &mut |_| true, &mut st);
            let mut r: Vec<(f32, u32)> = found
                .iter()
                .map(|c| (rvf_distance::l2_sq(q, row(c.node)), c.node))
                .collect();
            r.sort_by(|a, b| a.0.total_cmp(&b.0));
            hits += r
                .iter()
                .take(10)
                .filter(|x| truth[qi].contains(&x.1))
                .count();
        }
        let us = t.elapsed().as_secs_f64() * 1e6 / nq as f64;
        println!(
            "ef {ef}: recall {:.3}, {us:.0} us/query",
            hits as f64 / (10 * nq) as f64
        );
    }
}
