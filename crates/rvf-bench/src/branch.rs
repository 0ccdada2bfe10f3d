//! Benchmarks 5–7: branch time against copying the parent file, query overhead on
//! children, and how much a child's file grows per small change.

use std::fs::File;
use std::path::Path;
use std::time::Duration;

use rvf_runtime::{QueryOptions, RvfStore, SearchResult};

use crate::data::{count_label, Dataset, Rng};
use crate::report::Row;
use crate::stores::{self, Scratch};
use crate::timing::{fmt_bytes, fmt_secs, timed, Summary};
use crate::{progress, BenchResult, Datasets, Env, Scale};

/// Query latency overhead allowed on a child, in percent.
const OVERHEAD_GOAL: f64 = 10.0;
/// Growth limit of a child: twice the raw vector bytes plus this.
const GROWTH_SLACK: u64 = 16 * 1024;

pub fn run(env: &Env, data: &mut Datasets, rows: &mut Vec<Row>) -> BenchResult<()> {
    let ds = data.largest(env)?;
    let scratch = Scratch::new(&env.data_dir, "branch")?;
    for &n in &env.scale.branch_parents {
        let parent = stores::cached(&env.data_dir, ds, n.min(ds.base.len()))?;
        branch_time(&parent, n, &env.scale, &scratch, rows)?;
    }
    let n = ds.base.len();
    let parent = stores::cached(&env.data_dir, ds, n)?;
    env.settle();
    query_overhead(&parent, ds, &env.scale, &scratch, rows)?;
    growth(&parent, ds, &env.scale, &scratch, rows)?;
    Ok(())
}

/// Benchmark 5: median `branch` time next to `std::fs::copy` + fsync of the parent.
fn branch_time(
    parent_path: &Path,
    n: usize,
    scale: &Scale,
    scratch: &Scratch,
    rows: &mut Vec<Row>,
) -> BenchResult<()> {
    let parent = RvfStore::open(parent_path)?;
    let size = parent.status().file_size;
    let mut times = Vec::new();
    for i in 0..scale.branch_reps {
        let child_path = scratch.path(&format!("child-{i}.rvf"));
        let (child, t) = timed(|| parent.branch(&child_path));
        drop(child?);
        times.push(t);
    }
    for i in 0..scale.branch_reps {
        std::fs::remove_file(scratch.path(&format!("child-{i}.rvf")))?;
    }
    let branch = Summary::of(&times).median;

    let copy_reps = if size > 256 << 20 {
        scale.copy_reps.min(3)
    } else {
        scale.copy_reps
    };
    let mut copies = Vec::new();
    for _ in 0..copy_reps {
        let dst = scratch.path("copy.rvf");
        let (res, t) = timed(|| -> std::io::Result<()> {
            std::fs::copy(parent_path, &dst)?;
            File::open(&dst)?.sync_all()
        });
        res?;
        copies.push(t);
        std::fs::remove_file(&dst)?;
    }
    let copy = Summary::of(&copies).median;
    progress(format!(
        "branch of {}: {} (copy+fsync {})",
        count_label(n),
        fmt_secs(branch),
        fmt_secs(copy)
    ));
    rows.push(
        Row::new(5, format!("branch, parent {}×128", count_label(n)))
            .ours(fmt_secs(branch))
            .peer(format!("{} (copy+fsync)", fmt_secs(copy)))
            .ratio(copy / branch)
            .note(format!(
                "median of {} branches / {copy_reps} copies; parent file {}",
                scale.branch_reps,
                fmt_bytes(size)
            )),
    );
    Ok(())
}

/// A replacement vector for row `id`: the original plus a little noise.
fn nudged(ds: &Dataset, id: u64, rng: &mut Rng) -> Vec<f32> {
    let mut noise = vec![0f32; ds.base.dim];
    rng.fill_normal(&mut noise, 0.1);
    ds.base
        .row(id as usize)
        .iter()
        .zip(noise)
        .map(|(a, b)| a + b)
        .collect()
}

/// Upserts `ids` with nudged vectors in `batches` commits.
fn upsert(
    store: &mut RvfStore,
    ds: &Dataset,
    ids: &[u64],
    batches: usize,
    rng: &mut Rng,
) -> BenchResult<()> {
    let per = ids.len().div_ceil(batches.max(1)).max(1);
    for chunk in ids.chunks(per) {
        let vectors: Vec<Vec<f32>> = chunk.iter().map(|&id| nudged(ds, id, rng)).collect();
        let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
        store.ingest_batch(&refs, chunk, None)?;
    }
    Ok(())
}

/// Benchmark 6: single-query latency on an unchanged child and on a child with a
/// fraction of its vectors replaced, against the parent, queries interleaved.
fn query_overhead(
    parent_path: &Path,
    ds: &Dataset,
    scale: &Scale,
    scratch: &Scratch,
    rows: &mut Vec<Row>,
) -> BenchResult<()> {
    let n = ds.base.len();
    let parent = RvfStore::open(parent_path)?;
    let same = parent.branch(&scratch.path("same.rvf"))?;
    let mut edited = parent.branch(&scratch.path("edited.rvf"))?;
    let mut rng = Rng::new(0xED17);
    let all: Vec<u64> = (0..n as u64).collect();
    let edit_count = ((n as f64) * scale.edit_fraction).round() as usize;
    let ids = rng.sample(&all, edit_count);
    let batches = 4;
    upsert(&mut edited, ds, &ids, batches, &mut rng)?;
    edited.flush()?;
    progress(format!(
        "query overhead: {} ids upserted in {batches} batches; edited child {}",
        count_label(edit_count),
        fmt_bytes(edited.status().file_size)
    ));

    let stores = [&parent, &same, &edited];
    let opts = QueryOptions::default();
    let nq = scale.single_queries.min(ds.queries.len());
    for s in stores {
        for i in 0..scale.warmup.min(nq) {
            s.query(ds.queries.row(i), scale.k, &opts)?;
        }
    }
    let mut times: [Vec<Duration>; 3] = Default::default();
    let mut identical = true;
    for i in 0..nq {
        let q = ds.queries.row(i);
        let mut answers: [Vec<SearchResult>; 3] = Default::default();
        // Rotate the order so no store always runs first (or last) in the round.
        for j in 0..3 {
            let s = (i + j) % 3;
            let (res, t) = timed(|| stores[s].query(q, scale.k, &opts));
            answers[s] = res?;
            times[s].push(t);
        }
        identical &= answers[0] == answers[1];
    }
    let [p, c, e] = times.map(|t| Summary::of(&t));
    progress(format!(
        "query overhead: parent {} unchanged {} edited {}",
        fmt_secs(p.mean),
        fmt_secs(c.mean),
        fmt_secs(e.mean)
    ));
    let label = |s: Summary| format!("{} / {}", fmt_secs(s.mean), fmt_secs(s.median));
    let verdict = |o: f64| {
        if o <= OVERHEAD_GOAL {
            "met"
        } else {
            "MISSED"
        }
    };
    let over_c = (c.mean / p.mean - 1.0) * 100.0;
    rows.push(
        Row::new(
            6,
            format!(
                "query latency, unchanged child of {}×128 (mean / median)",
                count_label(n)
            ),
        )
        .ours(label(c))
        .peer(format!("{} (parent)", label(p)))
        .ratio(p.mean / c.mean)
        .note(format!(
            "overhead {over_c:+.1} % (goal ≤ {OVERHEAD_GOAL} %, {}); {nq} queries; answers {} the parent's",
            verdict(over_c),
            if identical { "identical to" } else { "DIFFER from" }
        )),
    );
    let over_e = (e.mean / p.mean - 1.0) * 100.0;
    rows.push(
        Row::new(
            6,
            format!(
                "query latency, child of {}×128 with {} % upserted (mean / median)",
                count_label(n),
                scale.edit_fraction * 100.0
            ),
        )
        .ours(label(e))
        .peer(format!("{} (parent)", label(p)))
        .ratio(p.mean / e.mean)
        .note(format!(
            "overhead {over_e:+.1} % (goal ≤ {OVERHEAD_GOAL} %, {}); {} scattered ids in {batches} batches",
            verdict(over_e),
            count_label(edit_count)
        )),
    );
    drop((same, edited));
    Ok(())
}

/// Benchmark 7: file growth of a fresh child for one small batch of each kind.
fn growth(
    parent_path: &Path,
    ds: &Dataset,
    scale: &Scale,
    scratch: &Scratch,
    rows: &mut Vec<Row>,
) -> BenchResult<()> {
    let n = ds.base.len();
    let m = scale.growth_batch;
    let parent = RvfStore::open(parent_path)?;
    let parent_size = parent.status().file_size;
    let raw = (m * ds.base.dim * 4) as u64;
    let limit = 2 * raw + GROWTH_SLACK;
    let all: Vec<u64> = (0..n as u64).collect();
    let mut rng = Rng::new(0x6209);
    for op in ["append", "upsert", "delete"] {
        let path = scratch.path(&format!("growth-{op}.rvf"));
        let mut child = parent.branch(&path)?;
        let before = child.status().file_size;
        let what = match op {
            "append" => {
                let ids: Vec<u64> = (n as u64..(n + m) as u64).collect();
                let vectors: Vec<Vec<f32>> = (0..m as u64)
                    .map(|i| nudged(ds, i * 997 % n as u64, &mut rng))
                    .collect();
                let refs: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
                child.ingest_batch(&refs, &ids, None)?;
                format!("append {m} new vectors")
            }
            "upsert" => {
                let ids = rng.sample(&all, m);
                upsert(&mut child, ds, &ids, 1, &mut rng)?;
                format!("upsert {m} scattered inherited ids")
            }
            _ => {
                let ids = rng.sample(&all, m);
                child.delete(&ids)?;
                format!("delete {m} scattered inherited ids")
            }
        };
        child.flush()?;
        let after = child.status().file_size;
        let on_disk = std::fs::metadata(&path)?.len();
        let local = child.cow_stats().map_or(0, |c| c.local_cluster_count);
        let grew = after.saturating_sub(before);
        progress(format!(
            "growth {op}: {} (file {on_disk} B)",
            fmt_bytes(grew)
        ));
        rows.push(
            Row::new(7, format!("child growth: {what}"))
                .ours(fmt_bytes(grew))
                .peer(format!(
                    "limit {} (raw {})",
                    fmt_bytes(limit),
                    fmt_bytes(raw)
                ))
                .ratio(limit as f64 / grew.max(1) as f64)
                .note(format!(
                    "{}; child file {}, parent {}; {local} local clusters",
                    if grew <= limit {
                        "within limit"
                    } else {
                        "OVER limit"
                    },
                    fmt_bytes(on_disk),
                    fmt_bytes(parent_size)
                )),
        );
        drop(child);
        std::fs::remove_file(&path)?;
    }
    Ok(())
}
