//! `branch`, `freeze`, `membership`, `compact` and `materialize`.

use std::path::Path;

use rvf_runtime::MembershipMode;
use serde_json::json;

use super::args::{BranchArgs, MembershipAction, MembershipArgs, ModeArg};
use super::{open_read, open_write};
use crate::error::Result;
use crate::output::{bytes, emit};
use crate::report::{membership_json, mode_name, status_json};

pub fn branch(a: BranchArgs, json: bool) -> Result<()> {
    // The parent is only read; a read-only open works while a server holds it.
    let parent = open_read(&a.store)?;
    let child = parent.branch(&a.child)?;
    let v = status_json(&child);
    child.close()?;
    let human = format!(
        "branched {} -> {} ({} vectors inherited, pinned at epoch {})",
        a.store.display(),
        a.child.display(),
        parent.len(),
        parent.epoch()
    );
    emit(json, &human, &v)
}

pub fn freeze(path: &Path, json: bool) -> Result<()> {
    let mut store = open_write(path)?;
    store.freeze()?;
    let v = status_json(&store);
    let epoch = store.epoch();
    store.close()?;
    emit(
        json,
        &format!(
            "froze {} at epoch {epoch}; branch from it to write",
            path.display()
        ),
        &v,
    )
}

pub fn compact(path: &Path, materialize: bool, json: bool) -> Result<()> {
    let mut store = open_write(path)?;
    let before = store.status().file_size;
    if materialize {
        store.materialize()?;
    } else {
        store.compact()?;
    }
    let v = status_json(&store);
    let after = store.status().file_size;
    store.close()?;
    let verb = if materialize {
        "materialized"
    } else {
        "compacted"
    };
    emit(
        json,
        &format!(
            "{verb} {}: {} -> {}",
            path.display(),
            bytes(before),
            bytes(after)
        ),
        &v,
    )
}

pub fn membership(a: MembershipArgs, json: bool) -> Result<()> {
    if let MembershipAction::Show = a.action {
        let store = open_read(&a.store)?;
        return show(&store, json);
    }
    let mut store = open_write(&a.store)?;
    let mode = store.membership_filter().map(|m| m.mode());
    match a.action {
        MembershipAction::Show => {}
        MembershipAction::Mode { mode } => store.set_membership_mode(match mode {
            ModeArg::Include => MembershipMode::Include,
            ModeArg::Exclude => MembershipMode::Exclude,
        })?,
        MembershipAction::Include { ids } => match mode {
            Some(MembershipMode::Exclude) => store.membership_remove(&ids)?,
            _ => store.membership_add(&ids)?,
        },
        MembershipAction::Exclude { ids } => match mode {
            Some(MembershipMode::Exclude) => store.membership_add(&ids)?,
            _ => store.membership_remove(&ids)?,
        },
    }
    show(&store, json)?;
    store.close()?;
    Ok(())
}

fn show(store: &rvf_runtime::RvfStore, json: bool) -> Result<()> {
    let Some(m) = store.membership_filter() else {
        return Err(rvf_runtime::RvfError::NotAChild {
            path: store.path().to_path_buf(),
        }
        .into());
    };
    let ids: Vec<String> = m.ids().take(50).map(|i| i.to_string()).collect();
    let more = m.ids().count().saturating_sub(ids.len());
    let human = format!(
        "{} mode; {} ids listed{}{}\n{} of {} inherited vectors visible",
        mode_name(m.mode()),
        m.ids().count(),
        if ids.is_empty() { "" } else { ": " },
        ids.join(" ")
            + &if more > 0 {
                format!(" … ({more} more)")
            } else {
                String::new()
            },
        m.member_count(),
        m.vector_count(),
    );
    emit(json, &human, &json!(membership_json(m, true)))
}
