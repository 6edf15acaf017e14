//! SQLite plumbing shared by the primary and the company databases: pools, PRAGMAs,
//! embedded migrations, transactions and the storage error type.

pub mod apply;
pub mod migrations;
pub mod pool;

pub use pool::{Conn, Pool, PoolOptions};

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("migration: {0}")]
    Migration(#[from] refinery::Error),
    #[error(transparent)]
    Apply(#[from] apply::ApplyError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl DbError {
    /// True when the underlying SQLite error is a UNIQUE or PRIMARY KEY violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    }
}

/// Starts a write transaction that takes the write lock up front. A deferred transaction
/// that reads and then writes fails with SQLITE_BUSY at once instead of waiting.
pub fn write_tx(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

/// The current time as an RFC 3339 UTC string with milliseconds, the format of every stored
/// timestamp (it sorts lexicographically).
pub fn now() -> String {
    timestamp(chrono::Utc::now())
}

/// `t` in the format of every stored timestamp (see [`now`]).
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
