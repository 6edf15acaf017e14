//! `ApiMultipart`: axum's `Multipart` with the API's errors. A request that is not
//! `multipart/form-data` is a 415; a malformed stream a 400; too large a 413. Read errors
//! of the stream (a client that disconnects) are the client's doing: never a 5xx.

use axum::extract::multipart::MultipartError;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;

use crate::error::ApiError;

pub struct ApiMultipart(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Multipart::from_request(req, state).await {
            Ok(m) => Ok(ApiMultipart(m)),
            Err(MultipartRejection::InvalidBoundary(_)) => Err(ApiError::UnsupportedMediaType(
                "expected a multipart/form-data request body with a boundary".into(),
            )),
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// Maps an error met while reading the parts.
pub fn field_error(err: MultipartError, limit_bytes: u64) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!(
            "the request body is larger than {limit_bytes} bytes"
        ))
    } else {
        ApiError::BadRequest(format!("malformed multipart body: {}", err.body_text()))
    }
}
