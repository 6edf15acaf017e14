//! Undoing a company's migration: putting back the copy `migrate-all-companies` took of it.
//!
//! SQLite migrations have no way down; the backup taken inside the migrating transaction is
//! one. Beside that backup (`companies/<slug>.db`) the migration writes a record
//! (`companies/<slug>.migration.json`): the versions, and the [fingerprints](fingerprint)
//! of the state before and after, both read inside the migrating transaction. A rollback:
//! 1. reads the record, and refuses when the backup's fingerprint is no longer the one
//!    recorded (the file was changed or replaced since);
//! 2. fingerprints the live database: a difference from the recorded "after" means the
//!    company was written after its migration, and the rollback is refused (reporting the
//!    tables and rows that differ) unless forced;
//! 3. restores the backup with [`restore::restore_company`] (checked copy, the current
//!    database saved first, one atomic rename, the vector index emptied to be rebuilt) and
//!    checks the result's fingerprint against the recorded "before".
//!
//! Like `silo restore`, it works on the files: run it with the server stopped. A server
//! opening a company behind its binary migrates it again, so the binary to start afterwards
//! is the one the company was migrated from.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::restore::{self, RestoreOptions};
use super::{backup, fsync_dir, open_existing};
use crate::store::db::fingerprint::{self, Fingerprint, TableChange};
use crate::store::primary::companies::Company;
use crate::tenant::names::resolve_inside;

/// What a migration wrote beside the backup it took.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MigrationRecord {
    /// The company's public UUID.
    pub company_id: String,
    pub slug: String,
    pub from_version: i64,
    pub to_version: i64,
    pub migrated_at: chrono::DateTime<chrono::Utc>,
    /// The state backed up (the backup's content).
    pub before: Fingerprint,
    /// The state committed by the migration.
    pub after: Fingerprint,
}

/// Where the record of the backup at `backup_file` goes.
pub fn record_file(backup_file: &Path) -> PathBuf {
    backup_file.with_extension("migration.json")
}

impl MigrationRecord {
    /// Writes the record atomically (temporary file, fsync, rename).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let partial = path.with_extension("json.partial");
        let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        fs::write(&partial, body)?;
        fs::File::open(&partial)?.sync_all()?;
        fs::rename(&partial, path)?;
        fsync_dir(path.parent().unwrap_or(Path::new(".")))
    }

    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let body = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_slice(&body).with_context(|| format!("parsing {}", path.display()))
    }
}

/// The records in a snapshot directory: the companies that run migrated and backed up.
pub fn records_in(snapshot: &Path) -> anyhow::Result<Vec<MigrationRecord>> {
    let dir = snapshot.join("companies");
    anyhow::ensure!(
        snapshot.is_dir(),
        "no backup directory at {}",
        snapshot.display()
    );
    let mut records = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(records),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        if path.to_string_lossy().ends_with(".migration.json") {
            records.push(MigrationRecord::read(&path)?);
        }
    }
    records.sort_by(|a, b| a.slug.cmp(&b.slug));
    Ok(records)
}

/// The outcome for one company.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackStatus {
    /// The pre-migration copy is back in place.
    RolledBack,
    /// Dry run: nothing stands in the way.
    WouldRollBack,
    /// Written after its migration (see `changes`); `--force` discards those writes.
    Refused,
    /// Not changed: an error is given.
    Failed,
}

impl RollbackStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackStatus::RolledBack => "rolled_back",
            RollbackStatus::WouldRollBack => "would_roll_back",
            RollbackStatus::Refused => "refused",
            RollbackStatus::Failed => "failed",
        }
    }
}

/// What happened to one company; one entry of the JSON report.
#[derive(Clone, Debug, Serialize)]
pub struct RollbackReport {
    pub id: String,
    pub slug: String,
    pub status: RollbackStatus,
    /// The version the migration left (the live database's, when it matched).
    pub from_version: Option<i64>,
    /// The version of the copy put back.
    pub to_version: Option<i64>,
    /// Tables written since the migration: what a forced rollback discards.
    pub changes: Vec<TableChange>,
    /// Rows added or removed since the migration (rows changed in place are in `changes`).
    pub rows_changed: u64,
    pub error: Option<String>,
    /// Where the database that was replaced was saved.
    pub previous: Option<PathBuf>,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl RollbackReport {
    /// A report of `record`'s company, failed (with `error`) until the work says otherwise.
    pub fn failed(record: &MigrationRecord, error: Option<String>) -> Self {
        RollbackReport {
            id: record.company_id.clone(),
            slug: record.slug.clone(),
            status: RollbackStatus::Failed,
            from_version: Some(record.to_version),
            to_version: Some(record.from_version),
            changes: Vec::new(),
            rows_changed: 0,
            error,
            previous: None,
            duration_ms: 0,
            warnings: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RollbackOptions {
    /// Roll back even a company written after its migration.
    pub force: bool,
    /// Check everything, change nothing.
    pub dry_run: bool,
    /// Snapshot directory to save each replaced database into; `None` skips it.
    pub save_dir: Option<PathBuf>,
    pub busy_timeout: Duration,
}

/// Rolls back `record`'s company (blocking). `company` is its row in primary.db, if it
/// still has one. Never panics on bad input; every problem is in the report.
pub fn rollback_company(
    data_dir: &Path,
    snapshot: &Path,
    record: &MigrationRecord,
    company: Option<&Company>,
    opts: &RollbackOptions,
) -> RollbackReport {
    let started = Instant::now();
    let mut report = RollbackReport::failed(record, None);
    if let Err(e) = run(data_dir, snapshot, record, company, opts, &mut report) {
        report.status = RollbackStatus::Failed;
        report.error = Some(format!("{e:#}"));
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

fn run(
    data_dir: &Path,
    snapshot: &Path,
    record: &MigrationRecord,
    company: Option<&Company>,
    opts: &RollbackOptions,
    report: &mut RollbackReport,
) -> anyhow::Result<()> {
    let company = company.context("the company no longer exists in primary.db")?;
    anyhow::ensure!(
        company.uuid == record.company_id,
        "the record is of company {}, not of {} ({})",
        record.company_id,
        company.slug,
        company.uuid
    );
    let source = backup::company_file(snapshot, &company.slug);
    let saved = read_fingerprint(&source, true).context("reading the backup")?;
    anyhow::ensure!(
        saved == record.before,
        "the backup {} is not the copy the migration took (its content changed since)",
        source.display()
    );
    let live_path = resolve_inside(data_dir, &company.db_path).map_err(anyhow::Error::msg)?;
    let live = read_fingerprint(&live_path, false).context("reading the company database")?;
    report.changes = live.changes_since(&record.after);
    report.rows_changed = Fingerprint::row_delta(&report.changes);
    if !report.changes.is_empty() && !opts.force {
        report.status = RollbackStatus::Refused;
        let tables: Vec<String> = report.changes.iter().map(|c| c.to_string()).collect();
        report.error = Some(format!(
            "written after its migration: {} ({} rows added or removed); --force discards \
             these writes (the current database is saved first)",
            tables.join(", "),
            report.rows_changed
        ));
        return Ok(());
    }
    if opts.dry_run {
        report.status = RollbackStatus::WouldRollBack;
        return Ok(());
    }
    let restored = restore::restore_company(
        data_dir,
        company,
        &source,
        &RestoreOptions {
            backup_dir: opts.save_dir.clone(),
            busy_timeout: opts.busy_timeout,
        },
    )?;
    report.previous = restored.previous;
    report.to_version = Some(restored.schema_version);
    // Nothing locks the company between the check and the swap (the server must be
    // stopped): a write in between is not lost, it is in the saved copy, and said so.
    if let Some(previous) = &report.previous
        && read_fingerprint(previous, true).is_ok_and(|saved| saved != live)
    {
        report.warnings.push(format!(
            "the company was written during the rollback; those writes are in {}",
            previous.display()
        ));
    }
    let now = read_fingerprint(&live_path, false).context("reading the restored database")?;
    anyhow::ensure!(
        now == record.before,
        "the restored database differs from the backup; the replaced one is at {}",
        report
            .previous
            .as_ref()
            .map_or("(not saved)".to_string(), |p| p.display().to_string())
    );
    report.status = RollbackStatus::RolledBack;
    Ok(())
}

/// The fingerprint of the database at `path`, read in one transaction.
fn read_fingerprint(path: &Path, read_only: bool) -> anyhow::Result<Fingerprint> {
    anyhow::ensure!(path.is_file(), "{} is missing", path.display());
    let conn = if read_only {
        rusqlite::Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?
    } else {
        open_existing(path, super::DEFAULT_BUSY_TIMEOUT)?
    };
    conn.execute_batch("BEGIN;")?;
    let fp = fingerprint::fingerprint(&conn)?;
    conn.execute_batch("COMMIT;")?;
    Ok(fp)
}
