//! `get` and `delete`.

use rvf_runtime::FilterExpr;
use serde_json::json;

use super::args::{DeleteArgs, GetArgs};
use super::{open_read, open_write};
use crate::error::{CliError, Result};
use crate::output::{emit, meta_line, vector_text};
use crate::report::record_json;

pub fn get(a: GetArgs, json: bool) -> Result<()> {
    let store = open_read(&a.store)?;
    let mut records = Vec::with_capacity(a.ids.len());
    for &id in &a.ids {
        match store.get(id)? {
            Some(r) => records.push(r),
            None => {
                return Err(CliError::IdNotFound {
                    path: a.store.clone(),
                    id,
                })
            }
        }
    }
    let human: String = records
        .iter()
        .map(|r| {
            format!(
                "id {}\n  vector   {}\n  metadata {}\n",
                r.id,
                vector_text(&r.vector),
                meta_line(r.metadata.as_ref(), 200)
            )
        })
        .collect();
    let v = json!(records.iter().map(record_json).collect::<Vec<_>>());
    emit(json, &human, &v)
}

pub fn delete(a: DeleteArgs, json: bool) -> Result<()> {
    if a.ids.is_empty() == a.filter.is_none() {
        return Err(CliError::Usage(
            "give either ids or --filter (not both)".into(),
        ));
    }
    let filter = a.filter.as_deref().map(FilterExpr::parse).transpose()?;
    let mut store = open_write(&a.store)?;
    let r = match &filter {
        Some(f) => store.delete_by_filter(f)?,
        None => store.delete(&a.ids)?,
    };
    let remaining = store.len();
    store.close()?;
    let human = format!(
        "deleted {} vectors from {} ({} remain, epoch {})",
        r.deleted,
        a.store.display(),
        remaining,
        r.epoch
    );
    emit(
        json,
        &human,
        &json!({ "deleted": r.deleted, "epoch": r.epoch, "total_vectors": remaining }),
    )
}
