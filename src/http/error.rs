//! The one place an [`Error`] becomes an HTTP answer: its status, its `code`, and the JSON
//! envelope `{"error": {"code", "message"[, "field"]}}`. 5xx bodies never carry internals:
//! the cause is logged once, here, and the client gets an opaque sentence.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use crate::error::Error;

/// What handlers return.
pub type ApiResult<T> = Result<T, Error>;

/// The status an error answers with.
pub fn status(err: &Error) -> StatusCode {
    match err {
        Error::BadRequest(_) => StatusCode::BAD_REQUEST,
        Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        Error::Forbidden(_) => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict(_) => StatusCode::CONFLICT,
        Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::CompanyInactive => StatusCode::FORBIDDEN,
        Error::CompanyDamaged => StatusCode::SERVICE_UNAVAILABLE,
        Error::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub fn code(err: &Error) -> &'static str {
    match err {
        Error::BadRequest(_) => "bad_request",
        Error::Unauthorized(_) => "unauthorized",
        Error::Forbidden(_) => "forbidden",
        Error::NotFound(_) => "not_found",
        Error::Conflict(_) => "conflict",
        Error::PayloadTooLarge(_) => "payload_too_large",
        Error::UnsupportedMediaType(_) => "unsupported_media_type",
        Error::MethodNotAllowed => "method_not_allowed",
        Error::Invalid { .. } => "invalid_field",
        Error::BodyTimeout => "body_timeout",
        Error::RateLimited { .. } => "rate_limited",
        Error::Unavailable(_) => "unavailable",
        Error::CompanyInactive => "company_inactive",
        Error::CompanyDamaged => "company_damaged",
        Error::StorageFull(_) => "storage_full",
        Error::Internal(_) => "internal",
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status(&self);
        let body = match &self {
            Error::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                json!({"error": {"code": code(&self),
                                 "message": "internal error; the cause has been logged"}})
            }
            Error::Invalid { field, message } => json!({"error": {
                "code": code(&self), "message": format!("{field}: {message}"), "field": field}}),
            _ => json!({"error": {"code": code(&self), "message": self.to_string()}}),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            Error::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Error::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Error::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}
