//! Migrating one database — a company's or primary.db — and reporting what happened.
//!
//! [`migrate_company`] is the unit `silo migrate-all-companies` fans out and the admin route
//! calls (through [`migrate_company_live`]). For one database it:
//! 1. takes an in-process lock on the file, so two migrations of the same company never
//!    run at once in this process (a second one is reported `skipped`);
//! 2. reads the schema version: a current company returns at once, a newer one fails;
//! 3. dry run: copies the database to a temporary file and migrates the copy, to prove the
//!    pending migrations apply, changing nothing;
//! 4. otherwise takes the write lock (`BEGIN IMMEDIATE`), backs the database up on a second
//!    connection (nobody can write in between, so the backup is exactly the state being
//!    migrated), applies every pending migration in that one transaction with foreign keys
//!    off, runs `PRAGMA foreign_key_check`, and commits — or rolls everything back.
//!
//! Across processes (the CLI beside a running server), SQLite's write lock serialises: the
//! migration waits up to its busy timeout for the server's write transactions and the
//! server's writers wait on theirs (busy_timeout 5 s) while the migration holds it. Readers
//! in the other process keep seeing the old, consistent schema until COMMIT and the new one
//! after (prepared statements are re-prepared by SQLite on the schema change).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{backup, rollback};
use crate::app::App;
use crate::store::db::apply::{self, Applied, Hooks};
use crate::store::db::fingerprint::{self, Fingerprint};
use crate::store::db::integrity;
use crate::store::db::migrations::{self, MigrationSet, SchemaState};
use crate::store::primary::companies::Company;
use crate::tenant::TenantRegistry;
use crate::tenant::names::resolve_inside;

/// The outcome for one database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Pending migrations were applied and committed.
    Migrated,
    /// Nothing to do: already at this binary's version.
    Current,
    /// Not changed: an error is given (the database stays at its previous version).
    Failed,
    /// Not attempted: another migration of the same database was running.
    Skipped,
    /// Dry run: the pending migrations applied cleanly to a temporary copy.
    WouldMigrate,
    /// Not changed and not backed up: the database failed `quick_check` (restore it).
    Damaged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Migrated => "migrated",
            Status::Current => "current",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::WouldMigrate => "would_migrate",
            Status::Damaged => "damaged",
        }
    }

    /// Whether the run counts as a success for the exit status.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Status::Migrated | Status::Current | Status::WouldMigrate
        )
    }
}

/// What happened to one database; serialised as one entry of the JSON report.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct CompanyReport {
    /// The company's public UUID, or "primary".
    pub id: String,
    pub slug: String,
    pub name: String,
    pub status: Status,
    /// Schema version found (None when the file could not be read).
    pub from_version: Option<i64>,
    /// Schema version after the run (equal to `from_version` unless migrated).
    pub to_version: Option<i64>,
    /// Migrations that were (or, in a dry run, would be) applied.
    pub pending: Vec<String>,
    pub duration_ms: u64,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The backup taken before the change, if any.
    #[schema(value_type = Option<String>)]
    pub backup: Option<PathBuf>,
}

impl CompanyReport {
    fn new(id: &str, slug: &str, name: &str) -> Self {
        CompanyReport {
            id: id.to_string(),
            slug: slug.to_string(),
            name: name.to_string(),
            status: Status::Failed,
            from_version: None,
            to_version: None,
            pending: Vec::new(),
            duration_ms: 0,
            error: None,
            warnings: Vec::new(),
            backup: None,
        }
    }

    /// A failed report for `company` (used when the work itself could not run).
    pub fn failed(company: &Company, error: impl Into<String>) -> Self {
        let mut report = Self::new(&company.uuid, &company.slug, &company.name);
        report.error = Some(error.into());
        report
    }
}

/// How to migrate.
#[derive(Clone, Debug)]
pub struct MigrateOptions {
    /// Snapshot directory for the pre-change backups; `None` for no backup (`--no-backup`).
    pub backup_dir: Option<PathBuf>,
    /// Prove the migrations on a temporary copy instead of changing anything.
    pub dry_run: bool,
    /// How long to wait for another connection's write lock before failing the database.
    pub busy_timeout: Duration,
}

impl MigrateOptions {
    /// Backups into a new snapshot under `DATA_DIR/backups`, the default wait.
    pub fn with_backups(data_dir: &Path) -> Self {
        MigrateOptions {
            backup_dir: Some(backup::new_snapshot(&data_dir.join(backup::BACKUPS_DIR))),
            dry_run: false,
            busy_timeout: super::DEFAULT_BUSY_TIMEOUT,
        }
    }
}

/// Migrates one company's database (blocking). Never panics on bad input; every problem is
/// in the report. The caller decides whether the company must be closed first (see
/// [`migrate_company_live`] for a running server).
pub fn migrate_company(data_dir: &Path, company: &Company, opts: &MigrateOptions) -> CompanyReport {
    let mut report = CompanyReport::new(&company.uuid, &company.slug, &company.name);
    let started = Instant::now();
    match resolve_inside(data_dir, &company.db_path) {
        Ok(path) => {
            let backup_to = opts
                .backup_dir
                .as_ref()
                .map(|dir| backup::company_file(dir, &company.slug));
            run_locked(&path, MigrationSet::Company, backup_to, opts, &mut report);
        }
        Err(e) => report.error = Some(e),
    }
    if report.status == Status::Damaged {
        let what = report.error.clone().unwrap_or_default();
        if let Err(e) = super::record_damage(data_dir, company, &what, "migrate-all-companies") {
            tracing::error!(company = %company.slug, error = %e, "could not record the damage");
        }
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// Migrates primary.db (blocking); reported with id "primary".
pub fn migrate_primary(data_dir: &Path, opts: &MigrateOptions) -> CompanyReport {
    let mut report = CompanyReport::new("primary", "primary", "primary.db");
    let started = Instant::now();
    let backup_to = opts.backup_dir.as_deref().map(backup::primary_file);
    let path = data_dir.join("primary.db");
    run_locked(&path, MigrationSet::Primary, backup_to, opts, &mut report);
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

/// Migrates a company inside a running server: closes it in the registry while working (its
/// requests get 503 with a clear message, requests in flight are waited for), then reopens
/// it lazily. A company already current is not closed at all. This (or [`migrate_one`]) is
/// what `POST /api/admin/companies/{id}/migrate` calls; answer 200 with the report when
/// `status.is_success()`, 409 when `Skipped`, and for `Failed` log the report's error and
/// answer an opaque 500 (API.md: 5xx bodies carry no internals).
pub async fn migrate_company_live(
    registry: &Arc<TenantRegistry>,
    data_dir: &Path,
    company: &Company,
    opts: MigrateOptions,
) -> CompanyReport {
    let started = Instant::now();
    let (dir, probe_company, probe_opts) = (data_dir.to_path_buf(), company.clone(), opts.clone());
    let probe = tokio::task::spawn_blocking(move || probe_state(&dir, &probe_company, &probe_opts));
    match probe.await {
        Ok(Ok(SchemaState::Current)) => {
            let mut report = CompanyReport::new(&company.uuid, &company.slug, &company.name);
            let latest = MigrationSet::Company.latest();
            (report.status, report.from_version, report.to_version) =
                (Status::Current, Some(latest), Some(latest));
            report.duration_ms = started.elapsed().as_millis() as u64;
            return report;
        }
        // Behind, newer or unreadable: migrate_company below reports it precisely.
        Ok(_) => {}
        Err(e) => return CompanyReport::failed(company, format!("background task: {e}")),
    }
    let reason = "company database is being migrated to a new schema version; retry shortly";
    let closed = registry
        .close(company.id, reason, Duration::from_secs(30))
        .await;
    let _guard = match closed {
        Ok(guard) => guard,
        Err(e) => {
            let mut report = CompanyReport::failed(company, format!("cannot close company: {e}"));
            report.status = Status::Skipped;
            return report;
        }
    };
    let (dir, company_owned) = (data_dir.to_path_buf(), company.clone());
    match tokio::task::spawn_blocking(move || migrate_company(&dir, &company_owned, &opts)).await {
        Ok(report) => report,
        Err(e) => CompanyReport::failed(company, format!("background task: {e}")),
    }
}

/// [`migrate_company_live`] with the application's registry and data directory, backing
/// the company up into a new snapshot under `DATA_DIR/backups` first.
pub async fn migrate_one(app: &App, company: &Company) -> CompanyReport {
    let opts = MigrateOptions::with_backups(&app.data_dir);
    migrate_company_live(&app.registry, &app.data_dir, company, opts).await
}

/// The company's schema state, read without changing anything.
fn probe_state(
    data_dir: &Path,
    company: &Company,
    opts: &MigrateOptions,
) -> Result<SchemaState, String> {
    let path = resolve_inside(data_dir, &company.db_path)?;
    let conn = super::open_existing(&path, opts.busy_timeout).map_err(|e| e.to_string())?;
    migrations::schema_state(&conn, MigrationSet::Company).map_err(|e| e.to_string())
}

/// Database files being migrated by this process right now.
fn in_progress() -> &'static Mutex<HashSet<PathBuf>> {
    static SET: OnceLock<Mutex<HashSet<PathBuf>>> = OnceLock::new();
    SET.get_or_init(Default::default)
}

/// Holds a file in [`in_progress`] until dropped.
struct FileLock(PathBuf);

impl FileLock {
    fn try_take(path: &Path) -> Option<FileLock> {
        // Canonical, so two spellings of one file are one lock.
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let mut set = in_progress().lock().unwrap_or_else(|e| e.into_inner());
        set.insert(key.clone()).then_some(FileLock(key))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let mut set = in_progress().lock().unwrap_or_else(|e| e.into_inner());
        set.remove(&self.0);
    }
}

fn run_locked(
    path: &Path,
    set: MigrationSet,
    backup_to: Option<PathBuf>,
    opts: &MigrateOptions,
    report: &mut CompanyReport,
) {
    if !path.is_file() {
        report.error = Some(format!("database file {} is missing", path.display()));
        return;
    }
    let Some(_lock) = FileLock::try_take(path) else {
        report.status = Status::Skipped;
        report.error = Some("another migration of this database is running".into());
        return;
    };
    if let Err(e) = run(path, set, backup_to, opts, report) {
        report.status = Status::Failed;
        report.to_version = report.from_version;
        report.error = Some(e);
    }
}

fn run(
    path: &Path,
    set: MigrationSet,
    backup_to: Option<PathBuf>,
    opts: &MigrateOptions,
    report: &mut CompanyReport,
) -> Result<(), String> {
    let mut conn = super::open_existing(path, opts.busy_timeout).map_err(|e| e.to_string())?;
    // In WAL mode NORMAL skips only the fsync at COMMIT. When this is the last connection
    // (the CLI with no server running) its close checkpoints and syncs WAL and database, so
    // the migration is durable when reported. Beside a running server it becomes durable at
    // the next checkpoint; a power cut before that leaves the company at its previous
    // version (the WAL commit is atomic), never half-migrated.
    conn.execute_batch("PRAGMA synchronous = NORMAL;")
        .map_err(|e| e.to_string())?;
    // A damaged file is neither reported current nor copied into a backup as good.
    if let Err(damage) = integrity::check(&conn, integrity::Depth::Quick) {
        report.status = Status::Damaged;
        report.error = Some(format!(
            "the database is damaged ({damage}); restore it from a backup with `silo restore`"
        ));
        return Ok(());
    }
    let found = migrations::current_version(&conn, set).map_err(|e| e.to_string())?;
    report.from_version = Some(found);
    match migrations::state_of(found, set) {
        SchemaState::Current => {
            report.status = Status::Current;
            report.to_version = Some(found);
            return Ok(());
        }
        SchemaState::Newer { found, latest } => {
            return Err(format!(
                "schema version {found} is newer than this binary supports ({latest}); \
                 upgrade silo"
            ));
        }
        SchemaState::Behind { .. } => {}
    }
    report.pending = set.pending_after(found);
    if opts.dry_run {
        let applied = dry_run(&conn, set)?;
        report.status = Status::WouldMigrate;
        report.to_version = Some(applied.to);
        report.warnings = applied.warnings;
        return Ok(());
    }
    let runner = set.runner();
    let mut hooks = BackupHooks {
        path,
        backup_to: backup_to.as_deref(),
        busy_timeout: opts.busy_timeout,
        // Only a company's migration can be rolled back (see ops::rollback).
        record: set == MigrationSet::Company,
        before: None,
        after: None,
        backup_made: None,
    };
    let outcome =
        apply::apply_pending_with(&mut conn, runner.get_migrations(), set.table(), &mut hooks);
    let backup_made = hooks.backup_made.take();
    if let (Ok(applied), Some(dst), Some(before), Some(after)) = (
        &outcome,
        &backup_made,
        hooks.before.take(),
        hooks.after.take(),
    ) {
        let record = rollback::MigrationRecord {
            company_id: report.id.clone(),
            slug: report.slug.clone(),
            from_version: applied.from,
            to_version: applied.to,
            migrated_at: chrono::Utc::now(),
            before,
            after,
        };
        // The migration is committed: a record that cannot be written only means this
        // company cannot be rolled back automatically, which the report says.
        if let Err(e) = record.write(&rollback::record_file(dst)) {
            report
                .warnings
                .push(format!("the rollback record could not be written: {e}"));
        }
    }
    report.backup = backup_made;
    let applied = outcome.map_err(|e| e.to_string())?;
    report.status = if applied.applied.is_empty() {
        Status::Current // Someone else migrated it between our look and our lock.
    } else {
        Status::Migrated
    };
    report.from_version = Some(applied.from);
    report.to_version = Some(applied.to);
    report.pending = applied.applied;
    report.warnings.extend(applied.warnings);
    Ok(())
}

/// Backs the database up before the first migration statement and, for a company backed
/// up, fingerprints the state before and after (what a rollback checks against).
struct BackupHooks<'a> {
    path: &'a Path,
    backup_to: Option<&'a Path>,
    busy_timeout: Duration,
    record: bool,
    before: Option<Fingerprint>,
    after: Option<Fingerprint>,
    backup_made: Option<PathBuf>,
}

impl Hooks for BackupHooks<'_> {
    fn before_change(&mut self, tx: &rusqlite::Connection) -> Result<(), String> {
        let Some(dst) = self.backup_to else {
            return Ok(());
        };
        backup::backup_file(self.path, dst, self.busy_timeout)
            .map_err(|e| format!("backup before migrating failed: {e}"))?;
        self.backup_made = Some(dst.to_path_buf());
        if self.record {
            self.before =
                Some(fingerprint::fingerprint(tx).map_err(|e| format!("fingerprinting: {e}"))?);
        }
        Ok(())
    }

    fn before_commit(&mut self, tx: &rusqlite::Connection) -> Result<(), String> {
        if self.before.is_some() {
            self.after =
                Some(fingerprint::fingerprint(tx).map_err(|e| format!("fingerprinting: {e}"))?);
        }
        Ok(())
    }
}

/// Copies the database to a temporary file, migrates the copy, and removes it.
fn dry_run(conn: &rusqlite::Connection, set: MigrationSet) -> Result<Applied, String> {
    let tmp = std::env::temp_dir().join(format!("silo-dry-run-{}.db", uuid::Uuid::new_v4()));
    let outcome = (|| {
        backup::backup_connection(conn, &tmp).map_err(|e| format!("copying: {e}"))?;
        let mut copy = rusqlite::Connection::open(&tmp).map_err(|e| e.to_string())?;
        let runner = set.runner();
        apply::apply_pending(&mut copy, runner.get_migrations(), set.table())
            .map_err(|e| e.to_string())
    })();
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", tmp.display()));
    }
    outcome
}
