//! Operator work on whole databases: migrating every company, online backups, restores.
//!
//! - [`migrate`]: one company's (or primary.db's) pending migrations, backed up first, in
//!   one transaction; [`migrate::migrate_company_live`] is the entry point for a running
//!   server (it closes the company in the registry while it works).
//! - [`archive`]: a company as one file (export, and import after checking everything).
//! - [`backup`]: consistent online copies with SQLite's backup API, snapshot directories
//!   and their rotation.
//! - [`restore`]: checking a backup and swapping it in atomically.
//! - [`rollback`]: undoing a company's migration from the backup it took, unless the
//!   company was written since.
//! - [`scrub`]: the background integrity check of every company, spread over a period.
//! - [`workers`]: the bounded worker pool the commands fan out on.
//!
//! Everything here is blocking (rusqlite, fsync); async callers go through the `*_live`
//! functions, which use `spawn_blocking`.

pub mod archive;
pub mod backup;
pub mod migrate;
pub mod restore;
pub mod rollback;
pub mod scrub;
pub mod workers;

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// How long a command waits for another connection's write lock before it gives up on a
/// database (and reports it failed) by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens an existing database for maintenance: never creates a file (a missing company
/// database is an error to report, not an empty file to make), waits `busy_timeout` on
/// other writers.
pub fn open_existing(path: &Path, busy_timeout: Duration) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    Ok(conn)
}

/// Records in primary.db that `company`'s database was found damaged (and the audit row),
/// from operator work that has no pool: the CLI, or a check beside a running server.
pub fn record_damage(
    data_dir: &Path,
    company: &crate::store::primary::companies::Company,
    what: &str,
    found_by: &str,
) -> Result<bool, crate::store::db::DbError> {
    let mut conn = open_existing(&data_dir.join("primary.db"), DEFAULT_BUSY_TIMEOUT)?;
    crate::store::primary::companies::report_damage(
        &mut conn,
        company.id,
        &company.uuid,
        what,
        found_by,
    )
}

/// Flushes a directory entry (a rename or a new file) to disk.
pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// A UTC timestamp usable as a directory name that sorts by time: `20261125T091955.123Z`.
pub fn timestamp_name() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string()
}

/// The number of worker threads to use when none is asked for: one per core.
pub fn default_concurrency() -> usize {
    crate::machine::cores()
}
