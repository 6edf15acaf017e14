//! `Error`: why a use case failed, in terms of the request (invalid, not found, forbidden,
//! conflict, overload, damage, a full disk, a bug). Services, extractors and handlers
//! return it; `http::error` alone turns it into a status and the JSON envelope.

use crate::store::db::DbError;
use crate::tenant::TenantError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    /// The route exists, not with this method.
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
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

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The request does not say (or no longer proves) who is asking.
    pub fn unauthorized(message: &str) -> Self {
        Error::Unauthorized(message.to_string())
    }

    pub fn not_found(what: &str) -> Self {
        Error::NotFound(format!("{what} not found"))
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
            return Error::CompanyDamaged;
        }
        if crate::store::db::is_storage_full(err.as_ref()) {
            tracing::warn!(error = %err, "storage full");
            return Error::storage_full();
        }
        Error::Internal(err)
    }

    /// The answer when nothing could be written for lack of space.
    pub fn storage_full() -> Self {
        Error::StorageFull(
            "the server is out of storage space; nothing was saved, retry when space is freed"
                .into(),
        )
    }
}

impl From<crate::identity::Denied> for Error {
    fn from(err: crate::identity::Denied) -> Self {
        Error::Forbidden(err.0)
    }
}

impl From<crate::identity::accounts::FieldError> for Error {
    fn from(err: crate::identity::accounts::FieldError) -> Self {
        Error::Invalid {
            field: err.field.to_string(),
            message: err.message,
        }
    }
}

/// Overload, not a bug: every pooled connection taken, or the write lock still held after
/// the busy timeout. The client may retry.
const BUSY: &str = "the company database is busy; retry shortly";

impl From<DbError> for Error {
    fn from(err: DbError) -> Self {
        match &err {
            DbError::Pool(_) => Error::Unavailable(BUSY.into()),
            DbError::Sqlite(e) if crate::store::db::is_busy(e) => Error::Unavailable(BUSY.into()),
            _ => Error::internal(err),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        if crate::store::db::is_busy(&err) {
            return Error::Unavailable(BUSY.into());
        }
        Error::internal(err)
    }
}

impl Error {
    /// The answer for any request of a deactivated company's users (API.md: 403
    /// `company_inactive`, permanent until an admin acts).
    pub fn company_inactive() -> Self {
        Error::CompanyInactive
    }
}

impl From<crate::tenant::usage_writer::WriteError> for Error {
    fn from(err: crate::tenant::usage_writer::WriteError) -> Self {
        use crate::tenant::usage_writer::WriteError;
        match err {
            WriteError::Tenant(t) => t.into(),
            WriteError::Busy => Error::Unavailable(BUSY.into()),
            WriteError::Full => Error::storage_full(),
            WriteError::Failed(msg) => Error::internal(anyhow::anyhow!(msg)),
        }
    }
}

impl From<TenantError> for Error {
    fn from(err: TenantError) -> Self {
        match err {
            TenantError::NotFound => Error::not_found("company"),
            TenantError::Inactive => Error::company_inactive(),
            TenantError::Damaged(_) => Error::CompanyDamaged,
            e @ (TenantError::Unavailable(_) | TenantError::SchemaNewer { .. }) => {
                tracing::warn!(error = %e, "company unavailable");
                Error::Unavailable(e.to_string())
            }
            TenantError::Db(db) => db.into(),
            other => Error::internal(other),
        }
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(err: tokio::task::JoinError) -> Self {
        Error::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::usage_writer::WriteError;

    #[test]
    fn a_busy_or_full_usage_writer_is_overload_or_full_disk_not_a_bug() {
        assert!(matches!(
            Error::from(WriteError::Busy),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            Error::from(WriteError::Full),
            Error::StorageFull(_)
        ));
        assert!(matches!(
            Error::from(WriteError::Failed("x".into())),
            Error::Internal(_)
        ));
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(Error::from(busy), Error::Unavailable(_)));
    }
}
