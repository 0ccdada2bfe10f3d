//! Bearer-token check on every request when the server has an API key.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::state::AppState;

pub async fn require_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(key) = state.api_key.as_deref() else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if given.is_some_and(|g| keys_match(g, key)) {
        return next.run(req).await;
    }
    let mut resp = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "RVF_E_UNAUTHORIZED",
        "missing or wrong API key (send `Authorization: Bearer KEY`)",
    )
    .into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    resp
}

/// Compares in time independent of where the keys differ. (The length still shows,
/// which reveals nothing useful about a random key.)
pub fn keys_match(given: &str, key: &str) -> bool {
    given.len() == key.len() && bool::from(given.as_bytes().ct_eq(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::keys_match;

    #[test]
    fn compares_whole_keys() {
        assert!(keys_match("s3cret", "s3cret"));
        assert!(!keys_match("s3cre", "s3cret"));
        assert!(!keys_match("s3creT", "s3cret"));
        assert!(!keys_match("", "s3cret"));
    }
}
