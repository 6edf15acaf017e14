//! Restoring a company's database from a backup.
//!
//! The backup is first copied (backup API) to a temporary name inside the company's own
//! directory — same filesystem, so the final rename is atomic — and checked there:
//! `PRAGMA integrity_check` must say "ok", it must be a company database, and its schema
//! must not be newer than this binary. Only then is the live file touched: the current
//! database is backed up (so a restore is itself reversible), the stale `-wal`/`-shm` are
//! removed (SQLite would otherwise replay the old WAL into the new file), the copy is
//! renamed over `company.db` and the directory fsynced. The vector index is derived data
//! (invariant 3): `vectors/` is emptied so it is rebuilt from the restored SQLite rows.
//!
//! The company must not be open anywhere during the swap: [`restore_company_live`] closes it
//! in this process's registry. Another process (a server started separately) still holding
//! the file open would keep using the old inode: stop it, or restore through it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Serialize;

use super::{backup, fsync_dir, open_existing};
use crate::store::db::migrations::{self, MigrationSet};
use crate::store::primary::companies::Company;
use crate::tenant::TenantRegistry;
use crate::tenant::names::resolve_inside;
use crate::tenant::provision::VECTORS_DIR;

#[derive(Clone, Debug)]
pub struct RestoreOptions {
    /// Snapshot directory to save the current database into first; `None` skips it.
    pub backup_dir: Option<PathBuf>,
    pub busy_timeout: Duration,
}

/// What a restore did.
#[derive(Clone, Debug, Serialize)]
pub struct RestoreReport {
    pub id: String,
    pub slug: String,
    /// The backup file the database was restored from.
    pub from: PathBuf,
    pub schema_version: i64,
    /// Whether the restored schema is behind this binary (it is migrated on next open or by
    /// `silo migrate-all-companies`).
    pub behind: bool,
    pub bytes: u64,
    /// Where the database that was replaced was saved.
    pub previous: Option<PathBuf>,
}

/// The backup file for `slug` given either a file or a snapshot directory.
pub fn resolve_source(from: &Path, slug: &str) -> anyhow::Result<PathBuf> {
    let file = if from.is_dir() {
        backup::company_file(from, slug)
    } else {
        from.to_path_buf()
    };
    if !file.is_file() {
        bail!("no backup of company {slug} at {}", file.display());
    }
    Ok(file)
}

/// Restores `company` from `from` (a backup file or snapshot directory) in a running
/// process: closes the company in `registry` for the duration (503 for its requests).
pub async fn restore_company_live(
    registry: &Arc<TenantRegistry>,
    data_dir: &Path,
    company: &Company,
    from: &Path,
    opts: RestoreOptions,
) -> anyhow::Result<RestoreReport> {
    let reason = "company database is being restored from a backup; retry shortly";
    let _closed = registry
        .close(company.id, reason, Duration::from_secs(30))
        .await?;
    let (dir, company, from) = (data_dir.to_path_buf(), company.clone(), from.to_path_buf());
    tokio::task::spawn_blocking(move || restore_company(&dir, &company, &from, &opts)).await?
}

/// Restores `company` (blocking). The caller must have closed the company (see the module
/// doc); [`restore_company_live`] does.
pub fn restore_company(
    data_dir: &Path,
    company: &Company,
    from: &Path,
    opts: &RestoreOptions,
) -> anyhow::Result<RestoreReport> {
    let source = resolve_source(from, &company.slug)?;
    let live = resolve_inside(data_dir, &company.db_path).map_err(|e| anyhow::anyhow!(e))?;
    let dir = live
        .parent()
        .context("company path has no directory")?
        .to_path_buf();
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let staged = dir.join(format!(".restore-{}.db", uuid::Uuid::new_v4()));
    let outcome = stage(&source, &staged, opts).and_then(|(version, bytes)| {
        let previous = save_current(&live, &company.slug, opts)?;
        swap_in(&staged, &live, &dir)?;
        empty_dir(&dir.join(VECTORS_DIR))?;
        // The restored copy passed integrity_check: an earlier damage finding is over.
        let primary = open_existing(&data_dir.join("primary.db"), opts.busy_timeout)?;
        crate::store::primary::companies::clear_damage(&primary, company.id)?;
        Ok(RestoreReport {
            id: company.uuid.clone(),
            slug: company.slug.clone(),
            from: source.clone(),
            schema_version: version,
            behind: version < MigrationSet::Company.latest(),
            bytes,
            previous,
        })
    });
    if outcome.is_err() {
        for suffix in ["", "-journal", "-wal", "-shm"] {
            let _ = fs::remove_file(format!("{}{suffix}", staged.display()));
        }
    }
    outcome
}

/// Copies the backup to `staged` and checks the copy. Returns (schema version, size).
fn stage(source: &Path, staged: &Path, opts: &RestoreOptions) -> anyhow::Result<(i64, u64)> {
    // Read-only first (a backup directory may be read-only); a WAL-mode source (a raw copy
    // of a live database) needs read-write access for its shared memory, so retry that way.
    let read_only = rusqlite::Connection::open_with_flags(
        source,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backup::BackupError::from)
    .and_then(|src| backup::backup_connection(&src, staged));
    let bytes = match read_only {
        Ok(bytes) => bytes,
        Err(_) => backup::backup_file(source, staged, opts.busy_timeout)
            .with_context(|| format!("copying backup {}", source.display()))?,
    };
    let conn = open_existing(staged, opts.busy_timeout)?;
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check(10)")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()
        .context("backup is not a readable SQLite database")?;
    if problems != ["ok"] {
        bail!("backup failed integrity_check: {}", problems.join("; "));
    }
    let version = migrations::current_version(&conn, MigrationSet::Company)?;
    if version == 0 {
        bail!("backup has no company migration history: not a company database");
    }
    let latest = MigrationSet::Company.latest();
    if version > latest {
        bail!("backup schema version {version} is newer than this binary supports ({latest})");
    }
    // Company databases run in WAL mode; the setting is stored in the file.
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.close().map_err(|(_, e)| e)?;
    fs::File::open(staged)?.sync_all()?;
    Ok((version, bytes))
}

/// Saves the database about to be replaced into the snapshot, if asked. A database too
/// damaged for the backup API is copied file by file instead, so nothing is ever lost.
fn save_current(live: &Path, slug: &str, opts: &RestoreOptions) -> anyhow::Result<Option<PathBuf>> {
    let Some(snapshot) = &opts.backup_dir else {
        return Ok(None);
    };
    if !live.is_file() {
        return Ok(None);
    }
    let dst = backup::company_file(snapshot, slug);
    match backup::backup_file(live, &dst, opts.busy_timeout) {
        Ok(_) => Ok(Some(dst)),
        Err(e) => {
            tracing::warn!(error = %e, "backup API failed on the current database; copying its files");
            let raw = dst.with_extension("db.raw");
            fs::create_dir_all(raw.parent().unwrap_or(snapshot))?;
            fs::copy(live, &raw).context("copying the current database aside")?;
            let wal = PathBuf::from(format!("{}-wal", live.display()));
            if wal.is_file() {
                fs::copy(&wal, format!("{}-wal", raw.display()))?;
            }
            Ok(Some(raw))
        }
    }
}

/// Replaces `live` with `staged` in one rename, after removing the old WAL and shared
/// memory files (they belong to the old database).
fn swap_in(staged: &Path, live: &Path, dir: &Path) -> anyhow::Result<()> {
    for suffix in ["-wal", "-shm"] {
        let stale = PathBuf::from(format!("{}{suffix}", live.display()));
        match fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", stale.display())),
        }
    }
    fs::rename(staged, live).with_context(|| format!("renaming over {}", live.display()))?;
    fsync_dir(dir)?;
    Ok(())
}

/// Removes everything inside `dir` (creating it if missing).
fn empty_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir)?;
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}
