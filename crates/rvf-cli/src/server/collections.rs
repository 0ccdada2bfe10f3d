//! Handlers of collections: list, status, create, delete, branch, freeze, membership.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rvf_runtime::{MembershipMode, RvfOptions, RvfStore};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::ApiJson;
use super::routes::{blocking, with_store, with_store_mut, writable};
use super::state::{read, write, AppState};
use crate::report::{membership_json, status_json};

pub(super) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub(super) async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

pub(super) async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let names = state
            .names()
            .map_err(|e| ApiError::internal(format!("listing the directory: {e}")))?;
        let mut out = Vec::new();
        for name in names {
            let entry = match state.get(&name) {
                Ok(c) => match read(&c).as_ref() {
                    Some(s) => brief(&name, s),
                    None => continue,
                },
                Err(e) => {
                    json!({ "name": name, "error": { "code": e.code, "message": e.message } })
                }
            };
            out.push(entry);
        }
        Ok(Json(json!({ "collections": out })))
    })
    .await
}

fn brief(name: &str, s: &RvfStore) -> Value {
    let st = s.status();
    json!({
        "name": name,
        "total_vectors": st.total_vectors,
        "dimension": st.dimension,
        "metric": crate::report::metric_name(st.metric),
        "frozen": st.frozen,
        "lineage_depth": st.lineage_depth,
    })
}

fn collection_json(name: &str, s: &RvfStore) -> Value {
    let mut v = status_json(s);
    v["name"] = json!(name);
    if let Some(obj) = v.as_object_mut() {
        obj.remove("path");
    }
    v
}

pub(super) async fn status(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let n = name.clone();
    with_store(state, name, move |s| Ok(Json(collection_json(&n, s)))).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateBody {
    dimension: u16,
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    cluster_bytes: Option<u32>,
}

pub fn parse_metric(m: &str) -> ApiResult<rvf_runtime::DistanceMetric> {
    use rvf_runtime::DistanceMetric::*;
    match m {
        "l2" => Ok(L2),
        "ip" => Ok(InnerProduct),
        "cosine" => Ok(Cosine),
        other => Err(ApiError::bad_request(format!(
            "metric {other:?}: expected \"l2\", \"ip\" or \"cosine\""
        ))),
    }
}

pub(super) async fn create(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    writable(&state)?;
    blocking(move || {
        let path = state.path_of(&name)?;
        let mut opts = RvfOptions {
            dimension: body.dimension,
            metric: parse_metric(body.metric.as_deref().unwrap_or("l2"))?,
            ..RvfOptions::default()
        };
        if let Some(cb) = body.cluster_bytes {
            opts.cluster_bytes = cb;
        }
        let store = RvfStore::create(&path, opts)?;
        let v = collection_json(&name, &store);
        state.insert(&name, store);
        Ok((StatusCode::CREATED, Json(v)))
    })
    .await
}

pub(super) async fn drop_collection(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    writable(&state)?;
    blocking(move || {
        let path = state.path_of(&name)?;
        let c = state.get(&name)?;
        state.remove(&name);
        // Waits for requests using the store, then closes it before the file goes.
        let store = write(&c).take();
        if let Some(s) = store {
            s.close()?;
        }
        std::fs::remove_file(&path)
            .map_err(|e| ApiError::internal(format!("removing {}: {e}", path.display())))?;
        Ok(Json(json!({ "deleted": name })))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BranchBody {
    name: String,
}

pub(super) async fn branch(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<BranchBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    writable(&state)?;
    blocking(move || {
        let child_path = state.path_of(&body.name)?;
        let parent = state.get(&name)?;
        let child = {
            let guard = read(&parent);
            let s = guard
                .as_ref()
                .ok_or_else(|| ApiError::no_collection(&name))?;
            s.branch(&child_path)?
        };
        let v = collection_json(&body.name, &child);
        state.insert(&body.name, child);
        Ok((StatusCode::CREATED, Json(v)))
    })
    .await
}

pub(super) async fn freeze(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let n = name.clone();
    with_store_mut(state, name, move |s| {
        s.freeze()?;
        Ok(Json(collection_json(&n, s)))
    })
    .await
}

fn membership_of(s: &RvfStore) -> ApiResult<Value> {
    s.membership_filter()
        .map(|m| membership_json(m, true))
        .ok_or_else(|| {
            rvf_runtime::RvfError::NotAChild {
                path: s.path().to_path_buf(),
            }
            .into()
        })
}

pub(super) async fn get_membership(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    with_store(state, name, |s| membership_of(s).map(Json)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MembershipBody {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    include: Vec<u64>,
    #[serde(default)]
    exclude: Vec<u64>,
}

pub(super) async fn set_membership(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<MembershipBody>,
) -> ApiResult<Json<Value>> {
    let mode = match body.mode.as_deref() {
        None => None,
        Some("include") => Some(MembershipMode::Include),
        Some("exclude") => Some(MembershipMode::Exclude),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "mode {other:?}: expected \"include\" or \"exclude\""
            )))
        }
    };
    with_store_mut(state, name, move |s| {
        membership_of(s)?;
        if let Some(m) = mode {
            s.set_membership_mode(m)?;
        }
        let current = s.membership_filter().map(|f| f.mode());
        // `include` shows ids and `exclude` hides them, whatever the mode.
        let (add, remove) = match current {
            Some(MembershipMode::Exclude) => (&body.exclude, &body.include),
            _ => (&body.include, &body.exclude),
        };
        if !add.is_empty() {
            s.membership_add(add)?;
        }
        if !remove.is_empty() {
            s.membership_remove(remove)?;
        }
        membership_of(s).map(Json)
    })
    .await
}
