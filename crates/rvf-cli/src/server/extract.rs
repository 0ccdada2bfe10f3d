//! A JSON body extractor whose rejections are our JSON errors (axum's are plain text).

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => {
                let status = rejection.status();
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "RVF_E_TOO_LARGE",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "RVF_E_CONTENT_TYPE",
                    _ => "RVF_E_BAD_JSON",
                };
                Err(ApiError::new(status, code, rejection.body_text()))
            }
        }
    }
}
