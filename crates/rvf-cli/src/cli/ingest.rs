//! `ingest`: stream a vector file into a store in batches, with a progress bar.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use rvf_runtime::{Durability, Metadata, OpenOptions, RvfError, RvfStore};
use serde_json::json;

use super::args::IngestArgs;
use crate::error::{CliError, Result};
use crate::formats::meta::SideFile;
use crate::formats::{self, Batch, Progress};
use crate::output::emit;

#[derive(Default)]
struct Totals {
    accepted: u64,
    rejected: u64,
    batches: u64,
    min_id: Option<u64>,
    max_id: Option<u64>,
}

pub fn run(a: IngestArgs, json: bool) -> Result<()> {
    let started = Instant::now();
    let progress = Progress::default();
    let mut reader = formats::open(&a.input, progress.clone())?;
    let mut side = a.metadata.as_deref().map(SideFile::open).transpose()?;
    // One sync at the end: a bulk load need not pay for a durable commit per batch.
    let mut store = RvfStore::open_with(
        &a.store,
        OpenOptions {
            durability: Durability::OnClose,
            ..OpenOptions::default()
        },
    )?;
    let dim = usize::from(store.dimension());
    if reader.dim() != dim {
        return Err(RvfError::DimensionMismatch {
            expected: store.dimension(),
            got: reader.dim(),
        }
        .into());
    }
    let total_bytes = std::fs::metadata(&a.input).map_or(0, |m| m.len());
    let bar = progress_bar(total_bytes, a.quiet);
    let mut next_id: Option<u64> = a.id_start;
    let mut totals = Totals::default();
    let mut side_has_ids: Option<bool> = None;
    let result = (|| -> Result<()> {
        while let Some(mut batch) = reader.next_batch(a.batch_size as usize)? {
            let rows = batch.rows(dim);
            if let Some(side) = side.as_mut() {
                join_side_file(side, &mut batch, rows, &mut side_has_ids)?;
            }
            let ids = match batch.ids.take() {
                Some(ids) => ids,
                None => generate_ids(&store, &mut next_id, rows)?,
            };
            let has_meta = batch.metadata.iter().any(|m| !m.is_empty());
            let meta: Option<&[Metadata]> = has_meta.then_some(&batch.metadata[..]);
            let r = store.ingest_flat(&batch.vectors, &ids, meta)?;
            totals.accepted += r.accepted;
            totals.rejected += r.rejected;
            totals.batches += 1;
            totals.min_id = ids.iter().copied().chain(totals.min_id).min();
            totals.max_id = ids.iter().copied().chain(totals.max_id).max();
            bar.set_position(progress.bytes());
            bar.set_message(format!("{} vectors", totals.accepted));
        }
        if let Some(side) = side.as_mut() {
            if side.next_row()?.is_some() {
                return Err(CliError::InvalidArgument(format!(
                    "{} has more lines than {} has rows ({})",
                    side.path().display(),
                    a.input.display(),
                    totals.accepted + totals.rejected
                )));
            }
        }
        Ok(())
    })();
    bar.finish_and_clear();
    if let Err(e) = result {
        if totals.accepted > 0 {
            eprintln!(
                "note: {} vectors from the batches before the failure were stored",
                totals.accepted
            );
        }
        return Err(e);
    }
    // Publishing writes a checkpoint (a commit of its own): report the epoch after it.
    store.flush()?;
    let secs = started.elapsed().as_secs_f64();
    let rate = totals.accepted as f64 / secs.max(1e-9);
    // `close` would index what is pending anyway: doing it here shows a progress bar and
    // keeps the graph's build time out of the ingest rate.
    let pending = store.index_status().map_or(0, |s| s.pending_vectors);
    let index_secs = if store.close_would_build_index() {
        let t = Instant::now();
        crate::index::build(&mut store, a.quiet)?;
        Some(t.elapsed().as_secs_f64())
    } else {
        None
    };
    let epoch = store.epoch();
    let total = store.len();
    store.close()?;
    let ids = match (totals.min_id, totals.max_id) {
        (Some(lo), Some(hi)) => format!("ids {lo}..={hi}"),
        _ => "no ids".into(),
    };
    let mut human = format!(
        "ingested {} vectors ({} rejected as non-finite) from {} into {} in {:.2} s ({:.0} vectors/s); {ids}; store now holds {total} vectors (epoch {epoch})",
        totals.accepted,
        totals.rejected,
        a.input.display(),
        a.store.display(),
        secs,
        rate
    );
    if let Some(t) = index_secs {
        human += &format!("\nindexed {pending} vectors for ANN search in {t:.2} s");
    }
    let v = json!({
        "accepted": totals.accepted,
        "rejected": totals.rejected,
        "batches": totals.batches,
        "min_id": totals.min_id,
        "max_id": totals.max_id,
        "total_vectors": total,
        "epoch": epoch,
        "seconds": secs,
        "indexed_vectors": if index_secs.is_some() { pending } else { 0 },
        "index_seconds": index_secs,
    });
    emit(json, &human, &v)
}

/// Merges the side file's next `rows` lines into the batch: metadata fields, and ids.
fn join_side_file(
    side: &mut SideFile,
    batch: &mut Batch,
    rows: usize,
    side_has_ids: &mut Option<bool>,
) -> Result<()> {
    if batch.metadata.len() < rows {
        batch.metadata.resize(rows, Metadata::new());
    }
    let mut side_ids = Vec::with_capacity(rows);
    for i in 0..rows {
        let at = side.lines_read() + 1;
        let Some(row) = side.next_row()? else {
            return Err(CliError::InvalidArgument(format!(
                "{} ended at line {} but the vector file has more rows",
                side.path().display(),
                at - 1
            )));
        };
        let has = *side_has_ids.get_or_insert(row.id.is_some());
        if has != row.id.is_some() {
            return Err(CliError::parse(
                side.path(),
                format!("line {at}"),
                "give every line an `id`, or none",
            ));
        }
        if let (Some(id), Some(file_ids)) = (row.id, batch.ids.as_ref()) {
            if file_ids.get(i) != Some(&id) {
                return Err(CliError::parse(
                    side.path(),
                    format!("line {at}"),
                    format!("id {id} differs from the vector file's id for that row"),
                ));
            }
        }
        side_ids.extend(row.id);
        if let Some(m) = batch.metadata.get_mut(i) {
            m.extend(row.meta);
        }
    }
    if batch.ids.is_none() && !side_ids.is_empty() {
        batch.ids = Some(side_ids);
    }
    Ok(())
}

/// Ids for a file that has none: consecutive, from `--id-start` or one past the
/// store's highest id.
fn generate_ids(store: &RvfStore, next: &mut Option<u64>, rows: usize) -> Result<Vec<u64>> {
    let start = match *next {
        Some(n) => n,
        None => store.ids()?.last().map_or(0, |&m| m.saturating_add(1)),
    };
    let end = start.checked_add(rows as u64).ok_or_else(|| {
        CliError::InvalidArgument(format!("generated ids would pass u64::MAX (from {start})"))
    })?;
    *next = Some(end);
    Ok((start..end).collect())
}

fn progress_bar(total: u64, quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
