//! Benchmark 3: bulk ingest with `Durability::OnClose`, from `create` to `close`, next to
//! faiss `IndexFlatL2.add` and to writing the same bytes to a file with one fsync.

use std::fs::File;
use std::io::Write;

use crate::peer::{num, Peer};
use crate::report::Row;
use crate::stores::{self, Scratch};
use crate::timing::{fmt_bytes, fmt_rate, fmt_secs, timed, Summary};
use crate::{progress, BenchResult, Datasets, Env};

/// Durable bulk ingest should take at most 1 / 0.8 of writing and syncing the same
/// bytes on the same disk.
const INGEST_GOAL: f64 = 0.8;

pub fn run(env: &Env, data: &mut Datasets, rows: &mut Vec<Row>) -> BenchResult<()> {
    let scale = &env.scale;
    let ds = data.largest(env)?;
    let n = ds.base.len();
    let scratch = Scratch::new(&env.data_dir, "ingest")?;

    // Ours and the raw write alternate, so both see the same disk and load conditions.
    let bytes = ds.base.bytes();
    let (mut ours, mut copy) = (Vec::new(), Vec::new());
    let mut file_size = 0;
    for rep in 0..scale.ingest_reps {
        let path = scratch.path(&format!("ingest-{rep}.rvf"));
        let raw = scratch.path("raw.bin");
        // The disk of a shared machine can favour whichever writer comes first after a
        // pause (or after the other's file is deleted), so the order alternates.
        let raw_before = match rep % 2 {
            1 => Some(write_raw(&raw, &bytes)?),
            _ => None,
        };
        let (res, t) = timed(|| stores::build(&path, ds, n, scale.ingest_batch));
        res?;
        file_size = std::fs::metadata(&path)?.len();
        ours.push(t);
        if rep == 0 {
            let keep = stores::cached_path(&env.data_dir, ds, n);
            std::fs::create_dir_all(keep.parent().unwrap_or(&env.data_dir))?;
            std::fs::rename(&path, &keep)?;
            stores::mark_built(&keep);
        } else {
            std::fs::remove_file(&path)?;
        }
        let c = match raw_before {
            Some(c) => c,
            None => write_raw(&raw, &bytes)?,
        };
        copy.push(c);
        progress(format!(
            "ingest rep {}/{}: {} ({}); write+fsync {}",
            rep + 1,
            scale.ingest_reps,
            fmt_secs(t.as_secs_f64()),
            fmt_rate(n as f64 / t.as_secs_f64(), "vec"),
            fmt_secs(c.as_secs_f64())
        ));
    }
    let ours = Summary::of(&ours).median;
    let copy = Summary::of(&copy).median;
    let in_memory = memory_fs_run(ds, n, scale.ingest_batch, scale.ingest_reps, &bytes);
    drop(bytes);

    env.settle();
    progress("ingest: faiss IndexFlatL2.add");
    let out = env.peer.run(&[
        "ingest".into(),
        "--base".into(),
        ds.base_path.to_string_lossy().into_owned(),
        "--dim".into(),
        ds.base.dim.to_string(),
        "--batch".into(),
        scale.ingest_batch.to_string(),
        "--reps".into(),
        scale.ingest_reps.to_string(),
    ]);
    let faiss = Peer::find(&out, "ingest");
    let faiss_secs = num(faiss, "seconds");

    let nf = n as f64;
    let what = format!(
        "ingest {}×{} in batches of {}, OnClose, create→close",
        crate::data::count_label(n),
        ds.base.dim,
        crate::data::count_label(scale.ingest_batch)
    );
    let ours_txt = format!("{} ({})", fmt_rate(nf / ours, "vec"), fmt_secs(ours));
    rows.push(
        Row::new(3, format!("{what}, vs faiss add"))
            .ours(ours_txt.clone())
            .peer(if faiss.is_some() {
                format!(
                    "{} ({})",
                    fmt_rate(nf / faiss_secs, "vec"),
                    fmt_secs(faiss_secs)
                )
            } else {
                "n/a".into()
            })
            .ratio(faiss_secs / ours)
            .note(format!(
                "median of {}; faiss keeps the vectors in memory only",
                scale.ingest_reps
            )),
    );
    rows.push(
        Row::new(3, format!("{what}, vs write+fsync of the raw bytes"))
            .ours(ours_txt)
            .peer(format!(
                "{} ({})",
                fmt_rate(nf / copy, "vec"),
                fmt_secs(copy)
            ))
            .ratio(copy / ours)
            .note(format!(
                "median of {}; store file {} for {} of raw vectors; goal ≥ 0.8× the raw write {}",
                scale.ingest_reps,
                fmt_bytes(file_size),
                fmt_bytes((n * ds.base.dim * 4) as u64),
                if copy / ours >= INGEST_GOAL {
                    "met"
                } else {
                    "MISSED"
                }
            )),
    );
    let memory_row = Row::new(
        3,
        format!("{what}, on a memory file system (/dev/shm): the CPU side alone"),
    );
    rows.push(match in_memory {
        Ok((ours, copy)) => memory_row
            .ours(format!(
                "{} ({})",
                fmt_rate(nf / ours, "vec"),
                fmt_secs(ours)
            ))
            .peer(format!(
                "{} ({}) write+fsync",
                fmt_rate(nf / copy, "vec"),
                fmt_secs(copy)
            ))
            .ratio(copy / ours)
            .note(format!(
                "median of {}; no disk, so this is the rate the store's own work allows",
                scale.ingest_reps
            )),
        Err(e) => memory_row
            .ours("n/a")
            .peer("n/a")
            .note(format!("not measured: {e}")),
    });
    Ok(())
}

/// The same ingest and raw write, alternating, in a directory of /dev/shm (tmpfs): what
/// the store's CPU work allows when the disk is not the bottleneck.
fn memory_fs_run(
    ds: &crate::data::Dataset,
    n: usize,
    batch: usize,
    reps: usize,
    bytes: &[u8],
) -> BenchResult<(f64, f64)> {
    let dir = tempfile::Builder::new()
        .prefix("rvf-bench-ingest")
        .tempdir_in("/dev/shm")?;
    let (mut ours, mut copy) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        let path = dir.path().join("ingest.rvf");
        let raw = dir.path().join("raw.bin");
        let raw_before = match rep % 2 {
            1 => Some(write_raw(&raw, bytes)?),
            _ => None,
        };
        let (res, t) = timed(|| stores::build(&path, ds, n, batch));
        res?;
        std::fs::remove_file(&path)?;
        ours.push(t);
        let c = match raw_before {
            Some(c) => c,
            None => write_raw(&raw, bytes)?,
        };
        copy.push(c);
        progress(format!(
            "ingest on /dev/shm rep {}/{reps}: {}; write+fsync {}",
            rep + 1,
            fmt_secs(t.as_secs_f64()),
            fmt_secs(c.as_secs_f64())
        ));
    }
    Ok((Summary::of(&ours).median, Summary::of(&copy).median))
}

/// Writes `bytes` to a new file at `path` with one fsync, timed, then deletes the file.
fn write_raw(path: &std::path::Path, bytes: &[u8]) -> BenchResult<std::time::Duration> {
    let (res, t) = timed(|| -> std::io::Result<()> {
        let mut f = File::create(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    });
    res?;
    std::fs::remove_file(path)?;
    Ok(t)
}
