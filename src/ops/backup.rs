//! Online backups with SQLite's backup API, and snapshot directories.
//!
//! A backup is taken with one `sqlite3_backup_step(-1)`: every page is copied under a single
//! read transaction, so the copy is exactly the database as of one commit, even while a
//! server keeps writing (in WAL mode readers never block writers, nor writers readers). The
//! copy is written to `<name>.partial`, switched to rollback-journal mode (a backup is then
//! one self-contained file, openable read-only), fsynced and renamed into place, so a crash
//! never leaves a half-written file under the final name.
//!
//! Layout: `<root>/<timestamp>/primary.db` and `<root>/<timestamp>/companies/<slug>.db`,
//! `<root>` being `DATA_DIR/backups` unless given. Timestamps sort by time, which is what
//! rotation relies on.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};

use super::{fsync_dir, open_existing};

/// Where backups go inside the data directory unless `--out` says otherwise.
pub const BACKUPS_DIR: &str = "backups";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the database stayed busy; gave up after {0} attempts")]
    Busy(u32),
    /// The copy failed its integrity check: the source is damaged, and no copy was kept.
    #[error("the database is damaged ({0}); no backup was kept")]
    Damaged(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let context = context.into();
    move |source| BackupError::Io { context, source }
}

/// A new, unique snapshot directory name under `root` (not created: it is made on the first
/// file written into it, so a run that backs nothing up leaves nothing behind).
pub fn new_snapshot(root: &Path) -> PathBuf {
    let base = super::timestamp_name();
    let mut dir = root.join(&base);
    let mut n = 1;
    while dir.exists() {
        dir = root.join(format!("{base}-{n}"));
        n += 1;
    }
    dir
}

/// Where a company's copy goes inside a snapshot.
pub fn company_file(snapshot: &Path, slug: &str) -> PathBuf {
    snapshot.join("companies").join(format!("{slug}.db"))
}

/// Where primary.db's copy goes inside a snapshot.
pub fn primary_file(snapshot: &Path) -> PathBuf {
    snapshot.join("primary.db")
}

/// Copies the database open on `src` to `dst` (see the module doc). Returns its size.
pub fn backup_connection(src: &Connection, dst: &Path) -> Result<u64, BackupError> {
    let parent = dst.parent().unwrap_or(Path::new("."));
    create_private_dirs(parent).map_err(io(format!("creating {}", parent.display())))?;
    let partial = dst.with_extension("db.partial");
    let _ = fs::remove_file(&partial);
    let outcome = copy_pages(src, &partial).and_then(|()| {
        // A backup holds a whole company's data: owner-only, like the data directory.
        fs::File::open(&partial)
            .and_then(|f| {
                f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
                f.sync_all()
            })
            .map_err(io(format!("syncing {}", partial.display())))?;
        fs::rename(&partial, dst).map_err(io(format!("renaming to {}", dst.display())))?;
        fsync_dir(parent).map_err(io(format!("syncing {}", parent.display())))?;
        fs::metadata(dst)
            .map(|m| m.len())
            .map_err(io(format!("reading {}", dst.display())))
    });
    if outcome.is_err() {
        let _ = fs::remove_file(&partial);
    }
    outcome
}

/// Creates `dir` and its missing parents readable by the owner only.
fn create_private_dirs(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn copy_pages(src: &Connection, partial: &Path) -> Result<(), BackupError> {
    let mut out = Connection::open(partial)?;
    // No journal and no syncs on the copy: it is a scratch file until we fsync and rename
    // it ourselves, so SQLite's own crash protection would only add ~7 fsyncs per copy.
    out.execute_batch("PRAGMA synchronous = OFF;")?;
    out.query_row("PRAGMA journal_mode = OFF", [], |_| Ok(()))?;
    {
        let backup = Backup::new(src, &mut out)?;
        // -1: all pages in one step, under one read transaction (a consistent snapshot).
        // Busy/Locked only happen when the source is mid-write on *this* connection or the
        // destination is locked; both are transient, so retry a bounded number of times.
        let mut attempts = 0;
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => continue,
                _ if attempts < 50 => {
                    attempts += 1;
                    thread::sleep(Duration::from_millis(20));
                }
                _ => return Err(BackupError::Busy(attempts)),
            }
        }
    }
    out.close().map_err(|(_, e)| e)?;
    mark_rollback_journal(partial).map_err(io(format!("writing {}", partial.display())))?;
    verify(partial)
}

/// A copy is kept only if SQLite finds it whole: the backup API copies pages as they are,
/// so a damaged source makes a damaged copy.
fn verify(copy: &Path) -> Result<(), BackupError> {
    let conn = Connection::open_with_flags(copy, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    crate::store::db::integrity::check(&conn, crate::store::db::integrity::Depth::Full)
        .map_err(BackupError::Damaged)
}

/// The copied header says WAL when the source is in WAL mode; a backup is better as one
/// self-contained file that opens read-only. Bytes 18 and 19 of the header (file format
/// write/read version: 1 legacy, 2 WAL) are what `PRAGMA journal_mode = DELETE` rewrites;
/// writing them directly spares creating and deleting a -wal and -shm per copy, which is
/// most of the filesystem work when thousands of small companies are backed up.
fn mark_rollback_journal(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let file = fs::OpenOptions::new().read(true).write(true).open(path)?;
    let mut header = [0u8; 2];
    file.read_exact_at(&mut header, 18)?;
    if header == [2, 2] {
        file.write_all_at(&[1, 1], 18)?;
    }
    Ok(())
}

/// Backs up the database file at `src` (opened without creating it) to `dst`.
pub fn backup_file(src: &Path, dst: &Path, busy_timeout: Duration) -> Result<u64, BackupError> {
    let conn = open_existing(src, busy_timeout)?;
    backup_connection(&conn, dst)
}

/// True for directory names made by [`new_snapshot`].
fn is_snapshot_name(name: &str) -> bool {
    let stem = name.split('-').next().unwrap_or("");
    stem.len() >= 16
        && stem.ends_with('Z')
        && stem.as_bytes().get(8) == Some(&b'T')
        && stem
            .chars()
            .all(|c| c.is_ascii_digit() || "TZ.".contains(c))
}

/// Snapshot directories under `root`, newest first.
pub fn list_snapshots(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut dirs: Vec<(String, PathBuf)> = match fs::read_dir(root) {
        Ok(entries) => entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                is_snapshot_name(&name).then(|| (name, e.path()))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    // Names sort by time; a "-n" suffix (same millisecond) sorts after its base.
    dirs.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(dirs.into_iter().map(|(_, p)| p).collect())
}

/// Keeps the newest `keep` backups and removes the rest; returns what was removed.
///
/// Without `slug`, whole snapshots count. With `slug`, only that company's copies count:
/// older copies of it are removed from their snapshots (and a snapshot left empty goes),
/// other companies' copies are untouched.
pub fn rotate(root: &Path, keep: usize, slug: Option<&str>) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let snapshots = list_snapshots(root)?;
    match slug {
        None => {
            for dir in snapshots.into_iter().skip(keep) {
                fs::remove_dir_all(&dir)?;
                removed.push(dir);
            }
        }
        Some(slug) => {
            let copies = snapshots
                .iter()
                .map(|dir| company_file(dir, slug))
                .filter(|f| f.is_file());
            for file in copies.skip(keep).collect::<Vec<_>>() {
                fs::remove_file(&file)?;
                remove_empty_snapshot(&file);
                removed.push(file);
            }
        }
    }
    Ok(removed)
}

/// Removes `companies/` and the snapshot above it when a removal left them empty.
fn remove_empty_snapshot(file: &Path) {
    let Some(companies) = file.parent() else {
        return;
    };
    // remove_dir fails on a non-empty directory, which is exactly the check we want.
    if fs::remove_dir(companies).is_ok()
        && let Some(snapshot) = companies.parent()
    {
        let _ = fs::remove_dir(snapshot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_are_recognised() {
        assert!(is_snapshot_name("20261125T091955.123Z"));
        assert!(is_snapshot_name("20261125T091955.123Z-2"));
        assert!(!is_snapshot_name("companies"));
        assert!(!is_snapshot_name("notes-20261125"));
    }
}
