//! Exact top-k by brute force in f64, the reference for recall on the synthetic sets
//! (MiniLM ships its own), kept in the data directory once computed.

use std::path::Path;

use rvf_runtime::DistanceMetric;

use crate::data::Dataset;
use crate::BenchResult;

/// Exact distance in f64 under the dataset's metric (smaller is closer).
pub fn distance(ds: &Dataset, q: &[f32], id: u64) -> f64 {
    let v = ds.base.row(id as usize);
    match ds.metric {
        DistanceMetric::L2 => q
            .iter()
            .zip(v)
            .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
            .sum(),
        _ => -q
            .iter()
            .zip(v)
            .map(|(&a, &b)| f64::from(a) * f64::from(b))
            .sum::<f64>(),
    }
}

/// Ids of the `k` nearest base rows to query `qi`, ties by id.
fn top_k(ds: &Dataset, qi: usize, k: usize) -> Vec<u64> {
    let q = ds.queries.row(qi);
    let mut best: Vec<(f64, u64)> = Vec::with_capacity(k + 1);
    for id in 0..ds.base.len() as u64 {
        let d = distance(ds, q, id);
        if best.len() == k && d >= best[k - 1].0 {
            continue;
        }
        let at = best.partition_point(|&(bd, _)| bd <= d);
        best.insert(at, (d, id));
        best.truncate(k);
    }
    best.into_iter().map(|(_, id)| id).collect()
}

/// Exact top-`k` of the first `nq` queries, read from `dir` or computed on `threads`
/// threads and saved there.
pub fn ground_truth(
    dir: &Path,
    ds: &Dataset,
    nq: usize,
    k: usize,
    threads: usize,
) -> BenchResult<Vec<Vec<u64>>> {
    // Named after the base file, so a new generator version gets a new reference.
    let stem = ds
        .base_path
        .file_stem()
        .map_or_else(|| ds.key.clone(), |s| s.to_string_lossy().into_owned());
    let path = dir.join(format!("{stem}-exact-top{k}-of-{nq}.u64"));
    if let Ok(bytes) = std::fs::read(&path) {
        if bytes.len() == nq * k * 8 {
            return Ok(bytes
                .chunks_exact(k * 8)
                .map(|row| {
                    row.chunks_exact(8)
                        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                        .collect()
                })
                .collect());
        }
    }
    crate::progress(format!(
        "computing exact top-{k} of {nq} queries for {} (f64)",
        ds.name
    ));
    let per = nq.div_ceil(threads.max(1)).max(1);
    let parts: Vec<Vec<Vec<u64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..nq)
            .step_by(per)
            .map(|start| {
                s.spawn(move || {
                    (start..(start + per).min(nq))
                        .map(|qi| top_k(ds, qi, k))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let gt: Vec<Vec<u64>> = parts.into_iter().flatten().collect();
    if gt.len() != nq {
        return Err("exact search thread failed".into());
    }
    let bytes: Vec<u8> = gt
        .iter()
        .flatten()
        .flat_map(|id| id.to_le_bytes())
        .collect();
    std::fs::write(&path, bytes)?;
    Ok(gt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Matrix};

    #[test]
    fn top_k_orders_by_distance_then_id() {
        let base = Matrix {
            dim: 1,
            data: vec![3.0, 1.0, 2.0, 1.0, 0.0],
        };
        let queries = Matrix {
            dim: 1,
            data: vec![1.0],
        };
        let ds = Dataset {
            name: "t".into(),
            key: "t".into(),
            metric: DistanceMetric::L2,
            base,
            queries,
            base_path: "x".into(),
            queries_path: "y".into(),
            ground_truth: None,
        };
        assert_eq!(top_k(&ds, 0, 3), vec![1, 3, 2]);
    }
}
