//! Graphs built on clustered data find the exact neighbours (recall@10 ≥ 0.95 at a
//! modest `ef`) for every metric, read back from their encoded bytes, and a filter
//! admits only the nodes it accepts.

use rvf_format::{encode_graph, GraphHeader, GraphView, MetricCode};
use rvf_index::{build, search, BuildParams, Metric, Prepared, SearchStats};

/// Clustered points whose spread lies in an 8-dimensional subspace of the `dim`
/// dimensions, plus a little noise in all of them: low intrinsic dimension, as text
/// embeddings have (uniform noise in all 32 dimensions makes neighbours nearly
/// equidistant, a case no graph index does well on, hnswlib included).
fn data(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut x = 0x5DEECE66Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let centres: Vec<f32> = (0..50 * dim).map(|_| next() * 4.0).collect();
    let basis: Vec<f32> = (0..8 * dim).map(|_| next()).collect();
    // The seed picks which points: skip ahead so queries differ from the base.
    for _ in 0..seed * 1000 {
        next();
    }
    (0..n)
        .flat_map(|_| {
            let c = ((next() + 0.5) * 50.0) as usize % 50;
            let latent: Vec<f32> = (0..8).map(|_| next() * 2.0).collect();
            (0..dim)
                .map(|d| {
                    let spread: f32 = (0..8).map(|k| latent[k] * basis[k * dim + d]).sum();
                    centres[c * dim + d] + spread + next() * 0.05
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn exact(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    match metric {
        Metric::L2 => rvf_distance::l2_sq(a, b),
        Metric::InnerProduct => -rvf_distance::dot(a, b),
        Metric::Cosine => {
            let (na, nb) = (
                rvf_distance::dot(a, a).sqrt(),
                rvf_distance::dot(b, b).sqrt(),
            );
            1.0 - rvf_distance::dot(a, b) / (na * nb)
        }
    }
}

/// Bytes of a payload in an 8-byte aligned buffer, as a mapped payload is aligned.
fn aligned(bytes: &[u8]) -> Vec<u64> {
    let mut v = vec![0u64; bytes.len().div_ceil(8)];
    bytemuck::cast_slice_mut::<u64, u8>(&mut v)[..bytes.len()].copy_from_slice(bytes);
    v
}

#[test]
fn recall_at_10_for_every_metric() {
    let (n, dim, nq) = (10_000usize, 32usize, 100usize);
    let base = data(n, dim, 7);
    let queries = data(nq, dim, 99);
    for (metric, code) in [
        (Metric::L2, MetricCode::L2),
        (Metric::InnerProduct, MetricCode::InnerProduct),
        (Metric::Cosine, MetricCode::Cosine),
    ] {
        let row = |i: u32| &base[i as usize * dim..(i as usize + 1) * dim];
        let params = BuildParams {
            metric,
            m: 16,
            ef_construction: 100,
            threads: 2,
            seed: 1,
        };
        let built = build(dim, n as u32, &row, params, &|_| true).unwrap();
        let header = GraphHeader {
            dim: dim as u16,
            metric: code,
            m: built.m,
            m0: built.m0,
            max_level: built.max_level,
            entry: built.entry,
            nodes: built.nodes,
            first_slot: 0,
            ef_construction: 100,
        };
        let bytes = encode_graph(&header, &built.data);
        let buf = aligned(&bytes);
        let view =
            GraphView::decode(&bytemuck::cast_slice::<u64, u8>(&buf)[..bytes.len()]).unwrap();
        let mut hits = 0usize;
        let mut filtered_ok = true;
        for q in queries.chunks(dim) {
            let mut truth: Vec<(f32, u32)> = (0..n as u32)
                .map(|i| (exact(metric, q, row(i)), i))
                .collect();
            truth.sort_by(|a, b| a.0.total_cmp(&b.0));
            let prepared = Prepared::new(metric, (view.mins, view.steps), q);
            let mut stats = SearchStats::default();
            let found = search(&view, &prepared, 64, &mut |_| true, &mut stats);
            // Re-scored exactly, as the store does.
            let mut rescored: Vec<(f32, u32)> = found
                .iter()
                .map(|c| (exact(metric, q, row(c.node)), c.node))
                .collect();
            rescored.sort_by(|a, b| a.0.total_cmp(&b.0));
            let want: Vec<u32> = truth[..10].iter().map(|t| t.1).collect();
            hits += rescored[..10]
                .iter()
                .filter(|r| want.contains(&r.1))
                .count();
            // Only even nodes admitted.
            let even = search(&view, &prepared, 32, &mut |v| v % 2 == 0, &mut stats);
            filtered_ok &= even.len() == 32 && even.iter().all(|c| c.node % 2 == 0);
        }
        let recall = hits as f64 / (10 * nq) as f64;
        assert!(recall >= 0.95, "{metric:?}: recall@10 {recall}");
        assert!(filtered_ok, "{metric:?}: filter");
    }
}

/// Every node of a small graph is reachable from the entry point on layer 0 (a node
/// no search can reach is a node no query can find), built on one thread or two (where
/// a node linked on an upper layer before its base layer once stranded the nodes that
/// other threads inserted meanwhile).
#[test]
fn small_graphs_are_connected() {
    for seed in 0..200u64 {
        let (n, dim) = (100usize, 8usize);
        let mut x = seed * 7919 + 1;
        let base: Vec<f32> = (0..n * dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        let row = |i: u32| &base[i as usize * dim..(i as usize + 1) * dim];
        let params = BuildParams {
            metric: Metric::L2,
            m: 16,
            ef_construction: 200,
            threads: 1 + (seed % 2) as usize,
            seed,
        };
        let built = build(dim, n as u32, &row, params, &|_| true).unwrap();
        let row0 = 1 + built.m0 as usize;
        let mut seen = vec![false; n];
        let mut stack = vec![built.entry];
        seen[built.entry as usize] = true;
        while let Some(v) = stack.pop() {
            let r = &built.data.level0[v as usize * row0..(v as usize + 1) * row0];
            for &nb in &r[1..1 + r[0] as usize] {
                if !seen[nb as usize] {
                    seen[nb as usize] = true;
                    stack.push(nb);
                }
            }
        }
        let unreachable: Vec<usize> = (0..n).filter(|&i| !seen[i]).collect();
        assert!(
            unreachable.is_empty(),
            "seed {seed}, {} threads: {unreachable:?} unreachable",
            1 + seed % 2
        );
    }
}
