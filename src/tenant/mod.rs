//! Multi-tenancy: which company a piece of work belongs to, and that company's database.
//!
//! - [`registry`] maps a company id to its open [`TenantDb`] (lazy, single-flight, capped).
//! - [`context`] holds the task-local [`TenantCtx`]: the only way to reach company data.
//! - [`provision`] creates and deletes a company's files atomically.
//! - [`library`] is the global document library, opened like a company.
//! - [`names`] validates names and slugs and keeps paths inside the data directory.

pub mod context;
pub mod library;
pub mod names;
pub mod provision;
pub mod registry;
pub mod usage_writer;

pub use context::TenantCtx;
pub use registry::{OnSchemaBehind, RegistryOptions, TenantDb, TenantRegistry};

use crate::store::db::DbError;

/// Errors of reaching a company's data.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// Company data was asked for outside a request's tenant scope. Never falls back to the
    /// primary database: this is a bug in the caller.
    #[error("no tenant scope: company data was requested outside a TenantCtx scope")]
    NoScope,
    #[error("company not found")]
    NotFound,
    #[error("company is deactivated")]
    Inactive,
    /// Temporarily unable to serve (migrating, schema behind, closed for maintenance).
    #[error("{0}")]
    Unavailable(String),
    #[error(
        "company database schema is at version {found}, newer than this binary supports \
         ({latest}); upgrade silo before opening it"
    )]
    SchemaNewer { found: i64, latest: i64 },
    /// The company's database failed an integrity check or answered SQLITE_CORRUPT: writes
    /// are refused until it is restored.
    #[error("the company's database is damaged: {0}")]
    Damaged(String),
    #[error("company path refused: {0}")]
    Path(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("background task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl From<rusqlite::Error> for TenantError {
    fn from(err: rusqlite::Error) -> Self {
        TenantError::Db(err.into())
    }
}

impl From<r2d2::Error> for TenantError {
    fn from(err: r2d2::Error) -> Self {
        TenantError::Db(err.into())
    }
}

impl From<crate::index::IndexError> for TenantError {
    fn from(err: crate::index::IndexError) -> Self {
        TenantError::Unavailable(format!("the vector index could not be opened: {err}"))
    }
}
