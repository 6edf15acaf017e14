//! SQLite plumbing shared by the primary and the company databases: pools, PRAGMAs,
//! embedded migrations, transactions and the storage error type.

pub mod apply;
pub mod fingerprint;
pub mod integrity;
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

/// The errors `err` wraps, itself first.
fn chain<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |e| e.source())
}

fn sqlite_code(e: &(dyn std::error::Error + 'static)) -> Option<rusqlite::ErrorCode> {
    e.downcast_ref::<rusqlite::Error>()
        .and_then(rusqlite::Error::sqlite_error_code)
}

fn io_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// Whether `err`, or an error it wraps, says the disk (or a quota, or SQLite's size limit)
/// is full. Nothing was written: the same request can succeed once space is freed.
/// Whether the database answers a query.
pub fn ping(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT 1", [], |_| Ok(()))
}

/// Overload, not a bug: the write lock still held after the busy timeout.
pub fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

pub fn is_storage_full(err: &(dyn std::error::Error + 'static)) -> bool {
    chain(err).any(|e| {
        sqlite_code(e) == Some(rusqlite::ErrorCode::DiskFull)
            || e.downcast_ref::<std::io::Error>().is_some_and(io_full)
    })
}

/// Whether `err` is a failure of the machine rather than of the input: the disk full, the
/// database busy or locked, an I/O error. Work that failed so is retried, not given up.
pub fn is_transient(err: &(dyn std::error::Error + 'static)) -> bool {
    use rusqlite::ErrorCode as C;
    is_storage_full(err)
        || chain(err).any(|e| {
            matches!(
                sqlite_code(e),
                Some(C::DatabaseBusy | C::DatabaseLocked | C::SystemIoFailure | C::CannotOpen)
            ) || e.is::<r2d2::Error>()
                || e.downcast_ref::<std::io::Error>().is_some_and(|io| {
                    !matches!(
                        io.kind(),
                        std::io::ErrorKind::NotFound
                            | std::io::ErrorKind::InvalidData
                            | std::io::ErrorKind::InvalidInput
                            | std::io::ErrorKind::PermissionDenied
                    )
                })
        })
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
