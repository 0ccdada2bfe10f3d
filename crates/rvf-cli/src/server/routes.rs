//! The `/v1` routes: one table of (method, path, handler) from which the router is built
//! and against which the OpenAPI document is tested; and the helpers handlers share
//! (blocking pool, collection locks).

use axum::http::{Method, StatusCode};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use rvf_runtime::RvfStore;

use super::collections::*;
use super::error::{ApiError, ApiResult};
use super::state::{read, write, AppState};
use super::vectors::*;

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
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("request task failed: {e}")))?
}

pub(super) fn writable(state: &AppState) -> ApiResult<()> {
    if state.read_only {
        Err(ApiError::read_only())
    } else {
        Ok(())
    }
}

/// Runs `f` on the store of `name` under the shared (reader) lock.
pub(super) async fn with_store<T: Send + 'static>(
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
pub(super) async fn with_store_mut<T: Send + 'static>(
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
