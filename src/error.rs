//! `ApiError`: the one error type handlers return, rendered as the JSON envelope
//! `{"error": {"code", "message"[, "field"]}}`. 5xx bodies never carry internals: the cause
//! is logged once, here, and the client gets an opaque sentence.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::db::DbError;
use crate::tenant::TenantError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A field of the request is invalid; `field` names it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request body stopped arriving (the idle read timeout passed).
    #[error("the request body was not received in time")]
    BodyTimeout,
    #[error("too many attempts; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// The company's store cannot serve now (migrating, schema behind, closed); retrying
    /// soon can help.
    #[error("{0}")]
    Unavailable(String),
    /// The company is deactivated: permanent until an admin acts, so no `Retry-After`.
    #[error("the company is deactivated")]
    CompanyInactive,
    /// The company's database failed an integrity check: writes are refused until an
    /// operator restores it; retrying cannot help.
    #[error("the company's database is damaged; an operator must restore it from a backup")]
    CompanyDamaged,
    /// The disk (or the database's size limit) is full: nothing was written.
    #[error("{0}")]
    StorageFull(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found"))
    }

    /// A failure that is not the client's. A full disk is still not a bug: it answers 507
    /// (whatever wrapped the cause), everything else an opaque 500.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        let err = err.into();
        if crate::store::db::integrity::is_corrupt(err.as_ref()) {
            // Probably the current company's file: it is checked, and marked if damaged.
            if let Ok(ctx) = crate::tenant::context::current() {
                ctx.db
                    .clone()
                    .suspect_corruption(err.to_string(), "a request");
            }
            return ApiError::CompanyDamaged;
        }
        if crate::store::db::is_storage_full(err.as_ref()) {
            tracing::warn!(error = %err, "storage full");
            return ApiError::storage_full();
        }
        ApiError::Internal(err)
    }

    /// The answer when nothing could be written for lack of space.
    pub fn storage_full() -> Self {
        ApiError::StorageFull(
            "the server is out of storage space; nothing was saved, retry when space is freed"
                .into(),
        )
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::CompanyInactive => StatusCode::FORBIDDEN,
            ApiError::CompanyDamaged => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Invalid { .. } => "invalid_field",
            ApiError::BodyTimeout => "body_timeout",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::CompanyInactive => "company_inactive",
            ApiError::CompanyDamaged => "company_damaged",
            ApiError::StorageFull(_) => "storage_full",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                json!({"error": {"code": self.code(),
                                 "message": "internal error; the cause has been logged"}})
            }
            ApiError::Invalid { field, message } => json!({"error": {
                "code": self.code(), "message": format!("{field}: {message}"), "field": field}}),
            _ => json!({"error": {"code": self.code(), "message": self.to_string()}}),
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            ApiError::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl From<crate::identity::Denied> for ApiError {
    fn from(err: crate::identity::Denied) -> Self {
        ApiError::Forbidden(err.0)
    }
}

impl From<crate::identity::accounts::FieldError> for ApiError {
    fn from(err: crate::identity::accounts::FieldError) -> Self {
        ApiError::Invalid {
            field: err.field.to_string(),
            message: err.message,
        }
    }
}

/// Overload, not a bug: every pooled connection taken, or the write lock still held after
/// the busy timeout. The client may retry.
const BUSY: &str = "the company database is busy; retry shortly";

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match &err {
            DbError::Pool(_) => ApiError::Unavailable(BUSY.into()),
            DbError::Sqlite(e) if crate::store::db::is_busy(e) => {
                ApiError::Unavailable(BUSY.into())
            }
            _ => ApiError::internal(err),
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        if crate::store::db::is_busy(&err) {
            return ApiError::Unavailable(BUSY.into());
        }
        ApiError::internal(err)
    }
}

impl ApiError {
    /// The answer for any request of a deactivated company's users (API.md: 403
    /// `company_inactive`, permanent until an admin acts).
    pub fn company_inactive() -> Self {
        ApiError::CompanyInactive
    }
}

impl From<crate::tenant::usage_writer::WriteError> for ApiError {
    fn from(err: crate::tenant::usage_writer::WriteError) -> Self {
        use crate::tenant::usage_writer::WriteError;
        match err {
            WriteError::Tenant(t) => t.into(),
            WriteError::Busy => ApiError::Unavailable(BUSY.into()),
            WriteError::Full => ApiError::storage_full(),
            WriteError::Failed(msg) => ApiError::internal(anyhow::anyhow!(msg)),
        }
    }
}

impl From<TenantError> for ApiError {
    fn from(err: TenantError) -> Self {
        match err {
            TenantError::NotFound => ApiError::not_found("company"),
            TenantError::Inactive => ApiError::company_inactive(),
            TenantError::Damaged(_) => ApiError::CompanyDamaged,
            e @ (TenantError::Unavailable(_) | TenantError::SchemaNewer { .. }) => {
                tracing::warn!(error = %e, "company unavailable");
                ApiError::Unavailable(e.to_string())
            }
            TenantError::Db(db) => db.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(err: tokio::task::JoinError) -> Self {
        ApiError::internal(err)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
