//! Benchmark 4: open time of a store with a long history (many small commits and
//! deletes) next to a fresh store holding the same live vectors.

use std::path::Path;
use std::time::Duration;

use rvf_runtime::{QueryOptions, RvfStore};

use crate::data::{count_label, Dataset, Rng};
use crate::report::Row;
use crate::stores::{self, Scratch};
use crate::timing::{fmt_bytes, fmt_secs, timed, Summary};
use crate::{progress, BenchResult, Datasets, Env};

/// Open time may be at most this multiple of a fresh store's.
const GOAL: f64 = 1.5;

pub fn run(env: &Env, data: &mut Datasets, rows: &mut Vec<Row>) -> BenchResult<()> {
    let scale = &env.scale;
    let ds = data.synthetic(env, 0)?;
    let scratch = Scratch::new(&env.data_dir, "open")?;
    let a = scratch.path("history.rvf");
    let b = scratch.path("fresh.rvf");

    let (live, t) = timed(|| build_history(&a, ds, scale.open_commits, scale.open_deletes));
    let live = live?;
    progress(format!(
        "open: built the history store in {}",
        fmt_secs(t.as_secs_f64())
    ));
    build_fresh(&b, ds, &live)?;

    let (sa, sb) = (
        RvfStore::open_readonly(&a)?.status(),
        RvfStore::open_readonly(&b)?.status(),
    );
    if sa.total_vectors != sb.total_vectors || sa.total_vectors != live.len() as u64 {
        return Err(format!(
            "live counts differ: history {} fresh {} expected {}",
            sa.total_vectors,
            sb.total_vectors,
            live.len()
        )
        .into());
    }
    let agree = same_answers(&a, &b, ds, scale.k)?;

    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..scale.open_reps {
        ta.push(time_open(&a)?);
        tb.push(time_open(&b)?);
    }
    let (ma, mb) = (Summary::of(&ta).median, Summary::of(&tb).median);
    progress(format!(
        "open: history {} fresh {}",
        fmt_secs(ma),
        fmt_secs(mb)
    ));
    let ab = ma / mb;
    rows.push(
        Row::new(
            4,
            format!(
                "open after {} commits + {} deletes ({} live) vs fresh store",
                scale.open_commits,
                count_label(scale.open_deletes),
                count_label(live.len())
            ),
        )
        .ours(fmt_secs(ma))
        .peer(format!("{} (fresh)", fmt_secs(mb)))
        .ratio(mb / ma)
        .note(format!(
            "A/B = {ab:.2} (goal ≤ {GOAL}{}); median of {}; files {} vs {}, {} segments; \
             same answers: {}",
            if ab <= GOAL { ", met" } else { ", MISSED" },
            scale.open_reps,
            fmt_bytes(sa.file_size),
            fmt_bytes(sb.file_size),
            sa.segment_count,
            if agree { "yes" } else { "NO" }
        )),
    );
    Ok(())
}

/// Ingests all rows of `ds` over `commits / 2` ingest commits, interleaved with
/// `commits / 2` delete commits removing `deletes` scattered live ids in total. Returns
/// the ids left alive, ascending.
fn build_history(
    path: &Path,
    ds: &Dataset,
    commits: usize,
    deletes: usize,
) -> BenchResult<Vec<u64>> {
    let n = ds.base.len();
    let rounds = commits / 2;
    let per_ingest = n / rounds;
    let per_delete = deletes / rounds;
    let mut store = RvfStore::create(path, stores::options(ds))?;
    let mut rng = Rng::new(0x0BE7);
    let mut live: Vec<u64> = Vec::with_capacity(n);
    for r in 0..rounds {
        let start = r * per_ingest;
        let end = if r + 1 == rounds {
            n
        } else {
            start + per_ingest
        };
        let ids: Vec<u64> = (start as u64..end as u64).collect();
        store.ingest_batch(&ds.base.rows(start, end), &ids, None)?;
        live.extend(ids);
        let mut doomed = Vec::with_capacity(per_delete);
        for _ in 0..per_delete.min(live.len()) {
            let at = rng.below(live.len() as u64) as usize;
            doomed.push(live.swap_remove(at));
        }
        let res = store.delete(&doomed)?;
        if res.deleted != doomed.len() as u64 {
            return Err(format!("deleted {} of {}", res.deleted, doomed.len()).into());
        }
        if (r + 1) % (rounds / 10).max(1) == 0 {
            progress(format!("  history: {} of {commits} commits", 2 * (r + 1)));
        }
    }
    store.close()?;
    live.sort_unstable();
    Ok(live)
}

/// One commit holding exactly `live` (ids are row numbers of `ds`).
fn build_fresh(path: &Path, ds: &Dataset, live: &[u64]) -> BenchResult<()> {
    let mut store = RvfStore::create(path, stores::options(ds))?;
    let vectors: Vec<&[f32]> = live.iter().map(|&id| ds.base.row(id as usize)).collect();
    store.ingest_batch(&vectors, live, None)?;
    store.close()?;
    Ok(())
}

fn time_open(path: &Path) -> BenchResult<Duration> {
    let (store, t) = timed(|| RvfStore::open(path));
    drop(store?);
    Ok(t)
}

/// Whether both stores give identical answers to a few queries.
fn same_answers(a: &Path, b: &Path, ds: &Dataset, k: usize) -> BenchResult<bool> {
    let (a, b) = (RvfStore::open_readonly(a)?, RvfStore::open_readonly(b)?);
    let opts = QueryOptions::default();
    for i in 0..10.min(ds.queries.len()) {
        let q = ds.queries.row(i);
        if a.query(q, k, &opts)? != b.query(q, k, &opts)? {
            return Ok(false);
        }
    }
    Ok(true)
}
