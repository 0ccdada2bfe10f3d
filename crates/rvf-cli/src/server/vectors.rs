//! Handlers of vectors: upsert, get, delete, query.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rvf_runtime::{FilterExpr, Metadata};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiResult};
use super::extract::ApiJson;
use super::routes::{with_store, with_store_mut};
use super::state::AppState;
use crate::formats::meta::object_to_meta;
use crate::report::{hit_json, record_json};
use crate::search::{is_exact, query_options, SearchRequest};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UpsertBody {
    ids: Vec<u64>,
    vectors: Vec<Vec<f32>>,
    #[serde(default)]
    metadata: Option<Vec<Option<Map<String, Value>>>>,
}

pub(super) async fn upsert(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<UpsertBody>,
) -> ApiResult<Json<Value>> {
    if body.ids.len() != body.vectors.len() {
        return Err(ApiError::bad_request(format!(
            "{} ids but {} vectors",
            body.ids.len(),
            body.vectors.len()
        )));
    }
    let metadata = match &body.metadata {
        None => None,
        Some(m) if m.len() != body.ids.len() => {
            return Err(ApiError::bad_request(format!(
                "{} metadata entries but {} ids",
                m.len(),
                body.ids.len()
            )))
        }
        Some(m) => Some(
            m.iter()
                .enumerate()
                .map(|(i, o)| match o {
                    Some(o) => object_to_meta(o, &[])
                        .map_err(|e| ApiError::bad_request(format!("metadata[{i}]: {e}"))),
                    None => Ok(Metadata::new()),
                })
                .collect::<ApiResult<Vec<Metadata>>>()?,
        ),
    };
    with_store_mut(state, name, move |s| {
        let dim = usize::from(s.dimension());
        if let Some((i, v)) = body
            .vectors
            .iter()
            .enumerate()
            .find(|(_, v)| v.len() != dim)
        {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "RVF_E_DIMENSION",
                format!(
                    "vectors[{i}] has dimension {}, the collection has {dim}",
                    v.len()
                ),
            ));
        }
        let flat: Vec<f32> = body.vectors.concat();
        let r = s.ingest_flat(&flat, &body.ids, metadata.as_deref())?;
        Ok(Json(json!({
            "accepted": r.accepted,
            "rejected": r.rejected,
            "epoch": r.epoch,
            "total_vectors": s.len(),
        })))
    })
    .await
}

pub(super) async fn get_vector(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("id {id:?} is not a non-negative integer")))?;
    with_store(state, name, move |s| match s.get(id)? {
        Some(r) => Ok(Json(record_json(&r))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "RVF_E_ID_NOT_FOUND",
            format!("no vector with id {id}"),
        )),
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteBody {
    #[serde(default)]
    ids: Option<Vec<u64>>,
    #[serde(default)]
    filter: Option<String>,
}

pub(super) async fn delete_vectors(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<DeleteBody>,
) -> ApiResult<Json<Value>> {
    let filter = match (&body.ids, &body.filter) {
        (Some(_), None) => None,
        (None, Some(f)) => Some(FilterExpr::parse(f)?),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `ids` and `filter`",
            ))
        }
    };
    with_store_mut(state, name, move |s| {
        let r = match (&filter, &body.ids) {
            (Some(f), _) => s.delete_by_filter(f)?,
            (None, Some(ids)) => s.delete(ids)?,
            (None, None) => return Err(ApiError::bad_request("give `ids` or `filter`")),
        };
        Ok(Json(
            json!({ "deleted": r.deleted, "epoch": r.epoch, "total_vectors": s.len() }),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QueryBody {
    #[serde(default)]
    vector: Option<Vec<f32>>,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    exact: bool,
    #[serde(default)]
    ef: Option<usize>,
    #[serde(default = "yes")]
    include_metadata: bool,
}

fn default_k() -> usize {
    10
}

fn yes() -> bool {
    true
}

pub(super) async fn query(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<QueryBody>,
) -> ApiResult<Json<Value>> {
    let req = SearchRequest {
        filter: body.filter.as_deref().map(FilterExpr::parse).transpose()?,
        exact: body.exact,
        ef: body.ef,
    };
    with_store(state, name, move |s| {
        let vector = match (body.vector, body.id) {
            (Some(v), None) => v,
            (None, Some(id)) => {
                s.get(id)?
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::NOT_FOUND,
                            "RVF_E_ID_NOT_FOUND",
                            format!("no vector with id {id}"),
                        )
                    })?
                    .vector
            }
            _ => {
                return Err(ApiError::bad_request(
                    "give exactly one of `vector` and `id`",
                ))
            }
        };
        let (options, notes) = query_options(&req);
        let hits = s.query(&vector, body.k, &options)?;
        let mut results = Vec::with_capacity(hits.len());
        for h in &hits {
            let record = if body.include_metadata {
                s.get(h.id)?
            } else {
                None
            };
            let mut v = hit_json(h, record.as_ref());
            if !body.include_metadata {
                if let Some(o) = v.as_object_mut() {
                    o.remove("metadata");
                }
            }
            results.push(v);
        }
        Ok(Json(
            json!({ "results": results, "exact": is_exact(&req, s), "notes": notes }),
        ))
    })
    .await
}
