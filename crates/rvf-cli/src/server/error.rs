//! Errors as HTTP responses: `{"error": {"code": "RVF_E_...", "message": "..."}}` with a
//! status that fits the code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rvf_runtime::RvfError;
use serde_json::json;

use crate::error::CliError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "RVF_E_INVALID_ARGUMENT", message)
    }

    pub fn read_only() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "RVF_E_READ_ONLY",
            "the server runs with --read-only",
        )
    }

    pub fn no_collection(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "RVF_E_COLLECTION_NOT_FOUND",
            format!("no collection named {name:?}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "RVF_E_INTERNAL", message)
    }
}

/// The HTTP status of each library error code.
fn status_of(code: &str) -> StatusCode {
    match code {
        "RVF_E_INVALID_ARGUMENT" | "RVF_E_DIMENSION" | "RVF_E_PARSE" | "RVF_E_USAGE" => {
            StatusCode::BAD_REQUEST
        }
        "RVF_E_NOT_FOUND" | "RVF_E_ID_NOT_FOUND" => StatusCode::NOT_FOUND,
        "RVF_E_EXISTS" | "RVF_E_LOCKED" | "RVF_E_FROZEN" | "RVF_E_NOT_A_CHILD" => {
            StatusCode::CONFLICT
        }
        "RVF_E_READ_ONLY" => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<RvfError> for ApiError {
    fn from(e: RvfError) -> Self {
        let code = e.code();
        ApiError::new(status_of(code), code, e.to_string())
    }
}

impl From<CliError> for ApiError {
    fn from(e: CliError) -> Self {
        let code = e.code();
        ApiError::new(status_of(code), code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;
