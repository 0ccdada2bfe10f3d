//! The `/v1` routes: one table of (method, path, handler) from which the router is built
//! and against which the OpenAPI document is tested.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::{Json, Router};
use rvf_runtime::{FilterExpr, MembershipMode, Metadata, RvfOptions, RvfStore};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::{ApiError, ApiResult};
use super::extract::ApiJson;
use super::state::{read, write, AppState};
use crate::formats::meta::object_to_meta;
use crate::report::{hit_json, membership_json, record_json, status_json};
use crate::search::{is_exact, query_options, SearchRequest};

/// Every route: method, path (axum syntax) and handler.
pub fn route_table() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    let r = |m: Method, p: &'static str, h: MethodRouter<AppState>| (m, p, h);
    vec![
        r(Method::GET, "/v1/health", on(MethodFilter::GET, health)),
        r(
            Method::GET,
            "/v1/openapi.json",
            on(MethodFilter::GET, openapi),
        ),
        r(Method::GET, "/v1/collections", on(MethodFilter::GET, list)),
        r(
            Method::GET,
            "/v1/collections/{name}",
            on(MethodFilter::GET, status),
        ),
        r(
            Method::PUT,
            "/v1/collections/{name}",
            on(MethodFilter::PUT, create),
        ),
        r(
            Method::DELETE,
            "/v1/collections/{name}",
            on(MethodFilter::DELETE, drop_collection),
        ),
        r(
            Method::POST,
            "/v1/collections/{name}/vectors",
            on(MethodFilter::POST, upsert),
        ),
        r(
            Method::GET,
            "/v1/collections/{name}/vectors/{id}",
            on(MethodFilter::GET, get_vector),
        ),
        r(
            Method::POST,
            "/v1/collections/{name}/vectors/delete",
            on(MethodFilter::POST, delete_vectors),
        ),
        r(
            Method::POST,
            "/v1/collections/{name}/query",
            on(MethodFilter::POST, query),
        ),
        r(
            Method::POST,
            "/v1/collections/{name}/branch",
            on(MethodFilter::POST, branch),
        ),
        r(
            Method::POST,
            "/v1/collections/{name}/freeze",
            on(MethodFilter::POST, freeze),
        ),
        r(
            Method::GET,
            "/v1/collections/{name}/membership",
            on(MethodFilter::GET, get_membership),
        ),
        r(
            Method::POST,
            "/v1/collections/{name}/membership",
            on(MethodFilter::POST, set_membership),
        ),
    ]
}

pub fn router() -> Router<AppState> {
    let mut merged: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for (_, path, handler) in route_table() {
        match merged.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => *existing = std::mem::take(existing).merge(handler),
            None => merged.push((path, handler)),
        }
    }
    let mut router = Router::new();
    for (path, handler) in merged {
        let handler = handler.fallback(method_not_allowed);
        router = router.route(path, handler);
    }
    router.fallback(no_route)
}

async fn no_route() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "RVF_E_NO_ROUTE",
        "no such route (see GET /v1/openapi.json)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "RVF_E_METHOD",
        "method not allowed on this route",
    )
}

/// Runs store work on the blocking pool: store calls do disk I/O and long scans.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("request task failed: {e}")))?
}

fn writable(state: &AppState) -> ApiResult<()> {
    if state.read_only {
        Err(ApiError::read_only())
    } else {
        Ok(())
    }
}

/// Runs `f` on the store of `name` under the shared (reader) lock.
async fn with_store<T: Send + 'static>(
    state: AppState,
    name: String,
    f: impl FnOnce(&RvfStore) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    blocking(move || {
        let c = state.get(&name)?;
        let guard = read(&c);
        let store = guard
            .as_ref()
            .ok_or_else(|| ApiError::no_collection(&name))?;
        f(store)
    })
    .await
}

/// Runs `f` on the store of `name` under the exclusive (writer) lock: readers see the
/// state before or after `f`, never during.
async fn with_store_mut<T: Send + 'static>(
    state: AppState,
    name: String,
    f: impl FnOnce(&mut RvfStore) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    writable(&state)?;
    blocking(move || {
        let c = state.get(&name)?;
        let mut guard = write(&c);
        let store = guard
            .as_mut()
            .ok_or_else(|| ApiError::no_collection(&name))?;
        f(store)
    })
    .await
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn openapi() -> Json<Value> {
    Json(super::openapi::document())
}

async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
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

async fn status(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let n = name.clone();
    with_store(state, name, move |s| Ok(Json(collection_json(&n, s)))).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
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

async fn create(
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

async fn drop_collection(
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
struct UpsertBody {
    ids: Vec<u64>,
    vectors: Vec<Vec<f32>>,
    #[serde(default)]
    metadata: Option<Vec<Option<Map<String, Value>>>>,
}

async fn upsert(
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

async fn get_vector(
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
struct DeleteBody {
    #[serde(default)]
    ids: Option<Vec<u64>>,
    #[serde(default)]
    filter: Option<String>,
}

async fn delete_vectors(
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
struct QueryBody {
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

async fn query(
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
            json!({ "results": results, "exact": is_exact(&req), "notes": notes }),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchBody {
    name: String,
}

async fn branch(
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

async fn freeze(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
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

async fn get_membership(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    with_store(state, name, |s| membership_of(s).map(Json)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MembershipBody {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    include: Vec<u64>,
    #[serde(default)]
    exclude: Vec<u64>,
}

async fn set_membership(
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
