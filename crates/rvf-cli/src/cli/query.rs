//! `query`: the k nearest neighbours of a vector given inline, from a file, or by id.

use std::path::Path;

use rvf_runtime::FilterExpr;
use serde_json::json;

use super::args::QueryArgs;
use super::open_read;
use crate::error::{CliError, Result};
use crate::output::{emit, meta_line};
use crate::report::hit_json;
use crate::search::{is_exact, query_options, SearchRequest};

pub fn run(a: QueryArgs, json: bool) -> Result<()> {
    let sources = [a.vector.is_some(), a.vector_file.is_some(), a.id.is_some()];
    if sources.iter().filter(|&&s| s).count() != 1 {
        return Err(CliError::Usage(
            "give exactly one of --vector, --vector-file and --id".into(),
        ));
    }
    let filter = a.filter.as_deref().map(FilterExpr::parse).transpose()?;
    let store = open_read(&a.store)?;
    let vector = match (&a.vector, &a.vector_file, a.id) {
        (Some(text), _, _) => parse_vector(text, "--vector")?,
        (_, Some(file), _) => vector_from_file(file, a.row)?,
        (_, _, Some(id)) => {
            store
                .get(id)?
                .ok_or_else(|| CliError::IdNotFound {
                    path: a.store.clone(),
                    id,
                })?
                .vector
        }
        _ => {
            return Err(CliError::Usage(
                "give --vector, --vector-file or --id".into(),
            ))
        }
    };
    let req = SearchRequest {
        filter,
        exact: a.exact,
        ef: a.ef,
    };
    let (options, notes) = query_options(&req);
    for n in &notes {
        eprintln!("note: {n}");
    }
    let hits = store.query(&vector, a.k, &options)?;
    let mut records = Vec::with_capacity(hits.len());
    for h in &hits {
        records.push(store.get(h.id)?);
    }
    let mut human = format!(
        "{:>4}  {:>10}  {:>12}  metadata\n",
        "rank", "id", "distance"
    );
    for (i, (h, r)) in hits.iter().zip(&records).enumerate() {
        human += &format!(
            "{:>4}  {:>10}  {:>12.6}  {}\n",
            i + 1,
            h.id,
            h.distance,
            meta_line(r.as_ref().and_then(|r| r.metadata.as_ref()), 70)
        );
    }
    if hits.is_empty() {
        human += "(no vector matches)\n";
    }
    let v = json!({
        "results": hits.iter().zip(&records).map(|(h, r)| hit_json(h, r.as_ref())).collect::<Vec<_>>(),
        "exact": is_exact(&req, &store),
        "notes": notes,
    });
    emit(json, &human, &v)
}

fn parse_vector(text: &str, what: &str) -> Result<Vec<f32>> {
    let v: Vec<f64> = serde_json::from_str(text.trim()).map_err(|e| {
        CliError::InvalidArgument(format!("{what} must be a JSON array of numbers: {e}"))
    })?;
    Ok(v.into_iter().map(|x| x as f32).collect())
}

/// A JSON array in a text file, or one row of a vector file.
fn vector_from_file(path: &Path, row: usize) -> Result<Vec<f32>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "npy" | "fvecs" | "jsonl" | "ndjson" | "csv") {
        return crate::formats::read_row(path, row);
    }
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    parse_vector(&text, &path.display().to_string())
}
