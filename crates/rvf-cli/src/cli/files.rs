//! `inspect`, `verify` and `lineage`: read-only walks of the file (see
//! `rvf_runtime::inspect`).

use std::path::Path;

use rvf_runtime::inspect::{self, hex_id, FileLayout};
use rvf_runtime::RvfError;
use serde_json::{json, Value};

use crate::error::{CliError, Result};
use crate::output::{bytes, emit};

pub fn inspect(path: &Path, json: bool) -> Result<()> {
    let layout = inspect::segments(path)?;
    let human = inspect_text(&layout);
    let v = inspect_json(&layout);
    emit(json, &human, &v)?;
    // The listing is printed either way; the status tells scripts whether the committed
    // part of the file is sound (a damaged uncommitted tail is what a torn write leaves).
    if layout.committed_end.is_none() {
        return Err(RvfError::NotAStore {
            path: path.to_path_buf(),
            detail: "neither root slot is valid".into(),
        }
        .into());
    }
    let bad = layout.damaged().filter(|s| s.committed).count();
    if bad > 0 {
        return Err(CliError::VerifyFailed(format!(
            "{}: {bad} damaged segment(s) below the committed end",
            path.display()
        )));
    }
    Ok(())
}

fn inspect_text(l: &FileLayout) -> String {
    let mut h = format!("file {} ({} bytes)\n", l.path.display(), l.file_len);
    for r in &l.roots {
        match (&r.problem, r.epoch) {
            (None, Some(epoch)) => {
                h += &format!(
                    "root slot @{:<4} valid    epoch {epoch}, manifest @{}, committed end {}{}\n",
                    r.offset,
                    r.manifest_offset.unwrap_or(0),
                    r.committed_end.unwrap_or(0),
                    if r.current { "  (current)" } else { "" }
                );
            }
            (problem, _) => {
                h += &format!(
                    "root slot @{:<4} INVALID  {}\n",
                    r.offset,
                    problem.as_deref().unwrap_or("")
                );
            }
        }
    }
    h += &format!(
        "\n{:>12}  {:<13} {:>8} {:>7} {:>12}  {:<8} {}\n",
        "offset", "type", "seg id", "epoch", "payload", "checksum", "state"
    );
    for s in &l.segments {
        let (id, epoch, payload) = s.header.map_or(("-".into(), "-".into(), "-".into()), |hd| {
            (
                hd.segment_id.to_string(),
                hd.epoch.to_string(),
                hd.payload_len.to_string(),
            )
        });
        let check = if s.checksum_ok { "ok" } else { "BAD" };
        let state = if s.committed {
            "committed"
        } else {
            "uncommitted tail"
        };
        h += &format!(
            "{:>12}  {:<13} {:>8} {:>7} {:>12}  {:<8} {}",
            s.offset,
            s.type_name(),
            id,
            epoch,
            payload,
            check,
            state
        );
        if let Some(p) = &s.problem {
            h += &format!("  ({p})");
        }
        h.push('\n');
    }
    let bad = l.damaged().count();
    let tail = l.segments.iter().filter(|s| !s.committed).count();
    h += &format!(
        "\n{} segments, {bad} damaged, {tail} past the committed end",
        l.segments.len()
    );
    h
}

fn inspect_json(l: &FileLayout) -> Value {
    json!({
        "path": l.path.display().to_string(),
        "file_size": l.file_len,
        "committed_end": l.committed_end,
        "root_slots": l.roots.iter().map(|r| json!({
            "offset": r.offset,
            "valid": r.is_valid(),
            "current": r.current,
            "epoch": r.epoch,
            "file_id": r.file_id.as_ref().map(hex_id),
            "manifest_offset": r.manifest_offset,
            "committed_end": r.committed_end,
            "problem": r.problem,
        })).collect::<Vec<_>>(),
        "segments": l.segments.iter().map(|s| json!({
            "offset": s.offset,
            "length": s.len,
            "type": s.header.map(|h| h.seg_type.name()),
            "segment_id": s.header.map(|h| h.segment_id),
            "epoch": s.header.map(|h| h.epoch),
            "payload_length": s.header.map(|h| h.payload_len),
            "checksum_ok": s.checksum_ok,
            "committed": s.committed,
            "problem": s.problem,
        })).collect::<Vec<_>>(),
    })
}

pub fn verify(path: &Path, json: bool) -> Result<()> {
    let report = inspect::verify(path)?;
    let mut h = String::new();
    for f in &report.files {
        h += &format!(
            "checked {} (file {}, epoch {}): {} segments, {}\n",
            f.path.display(),
            hex_id(&f.file_id),
            f.epoch,
            f.segments,
            bytes(f.bytes)
        );
    }
    for p in &report.problems {
        match p.offset {
            Some(o) => h += &format!("PROBLEM {} @{o}: {}\n", p.path.display(), p.detail),
            None => h += &format!("PROBLEM {}: {}\n", p.path.display(), p.detail),
        }
    }
    if report.is_ok() {
        h += "OK: every checksum holds and the parent chain resolves\n";
    }
    let v = json!({
        "ok": report.is_ok(),
        "files": report.files.iter().map(|f| json!({
            "path": f.path.display().to_string(),
            "file_id": hex_id(&f.file_id),
            "epoch": f.epoch,
            "segments_checked": f.segments,
            "bytes_checked": f.bytes,
        })).collect::<Vec<_>>(),
        "problems": report.problems.iter().map(|p| json!({
            "path": p.path.display().to_string(),
            "offset": p.offset,
            "detail": p.detail,
        })).collect::<Vec<_>>(),
    });
    emit(json, &h, &v)?;
    if report.is_ok() {
        Ok(())
    } else {
        Err(CliError::VerifyFailed(format!(
            "{}: {} problem(s) found",
            path.display(),
            report.problems.len()
        )))
    }
}

pub fn lineage(path: &Path, json: bool) -> Result<()> {
    let tree = inspect::lineage(path)?;
    let mut h = String::new();
    for e in &tree {
        let role = if e.depth == 0 {
            "store ".to_string()
        } else {
            format!("parent{}", "^".repeat(usize::from(e.depth) - 1))
        };
        let pinned = match e.pinned_epoch {
            Some(p) => format!("pinned epoch {p} ({} vectors)", e.pinned_vectors),
            None => format!(
                "current epoch {} ({} vectors)",
                e.current_epoch, e.pinned_vectors
            ),
        };
        h += &format!(
            "{:indent$}{role} {}\n{:indent$}       file {}  {pinned}  last epoch {}  {}  {}\n",
            "",
            e.path.display(),
            "",
            hex_id(&e.file_id),
            e.current_epoch,
            if e.frozen { "frozen" } else { "writable" },
            bytes(e.file_size),
            indent = usize::from(e.depth) * 2
        );
    }
    let v = json!(tree
        .iter()
        .map(|e| json!({
            "depth": e.depth,
            "path": e.path.display().to_string(),
            "file_id": hex_id(&e.file_id),
            "pinned_epoch": e.pinned_epoch,
            "vectors": e.pinned_vectors,
            "current_epoch": e.current_epoch,
            "frozen": e.frozen,
            "file_size": e.file_size,
        }))
        .collect::<Vec<_>>());
    emit(json, &h, &v)
}
