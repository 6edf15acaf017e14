//! Creating and deleting a company's files, atomically.
//!
//! Create: reserve name and slug with an unprovisioned (invisible) row, build the company in
//! `companies/.tmp-<uuid>/` (database with every company migration, empty `vectors/` and
//! `uploads/`), fsync, rename it to `companies/<slug>/`, then mark the row provisioned. Any
//! failure removes everything made, row included. A crash midway leaves only a `.tmp-` dir
//! and an unprovisioned row, both cleaned at the next start ([`cleanup_leftovers`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::TenantRegistry;
use super::names::{CompanyName, NameError, Slug, resolve_inside};
use crate::store::db::migrations::{self, MigrationSet};
use crate::store::db::{DbError, Pool, write_tx};
use crate::store::primary::companies::{self, Company};

/// Where company directories live, relative to the data directory.
pub const COMPANIES_DIR: &str = "companies";
pub const DB_FILE: &str = "company.db";
pub use crate::index::VECTORS_DIR;
pub const UPLOADS_DIR: &str = "uploads";

/// A request to create a company (unvalidated input).
#[derive(Clone, Debug, Default)]
pub struct NewCompany {
    pub name: String,
    pub slug: Option<String>,
    pub industry: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Invalid(#[from] NameError),
    #[error("{0}")]
    Conflict(String),
    #[error("provisioning failed: {0}")]
    Failed(#[source] anyhow::Error),
}

impl From<DbError> for ProvisionError {
    fn from(err: DbError) -> Self {
        ProvisionError::Failed(err.into())
    }
}

/// Creates a company: validated names, its database migrated, its directories made.
pub fn create_company(
    primary: &Pool,
    data_dir: &Path,
    input: &NewCompany,
) -> Result<Company, ProvisionError> {
    create_company_with(primary, data_dir, input, &mut new_database, &mut |_, _| {
        Ok(())
    })
}

/// [`create_company`] with the company's files made by `fill` instead of a new, empty
/// database: it is given the temporary company directory (holding empty `vectors/` and
/// `uploads/`) and must leave a complete `company.db` in it. An import fills it with the
/// checked contents of an archive; everything else about creating stays the same.
/// `then` runs in the primary.db transaction that makes the company visible, with its id
/// (an import adds the company's users there): its failure undoes the whole creation.
pub fn create_company_with(
    primary: &Pool,
    data_dir: &Path,
    input: &NewCompany,
    fill: &mut dyn FnMut(&Path) -> anyhow::Result<()>,
    then: &mut dyn FnMut(&Connection, i64) -> Result<(), DbError>,
) -> Result<Company, ProvisionError> {
    let name = CompanyName::parse(&input.name)?;
    let slug = match input.slug.as_deref() {
        Some(raw) => Slug::parse(raw)?,
        None => name.to_slug()?,
    };
    let industry = input
        .industry
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if industry.is_some_and(|s| s.chars().count() > 100 || s.chars().any(char::is_control)) {
        return Err(NameError {
            field: "industry",
            message: "must be at most 100 printable characters".into(),
        }
        .into());
    }
    let uuid = uuid::Uuid::new_v4().to_string();
    let db_path = format!("{COMPANIES_DIR}/{}/{DB_FILE}", slug.as_str());
    let final_db = resolve_inside(data_dir, &db_path)
        .map_err(|e| ProvisionError::Failed(anyhow::anyhow!(e)))?;
    let final_dir = final_db
        .parent()
        .expect("db path has a directory")
        .to_path_buf();

    let id = {
        let mut conn = primary.get().map_err(DbError::from)?;
        let tx = write_tx(&mut conn).map_err(DbError::from)?;
        if companies::name_or_slug_taken(&tx, name.as_str(), slug.as_str())? {
            return Err(ProvisionError::Conflict(format!(
                "a company named {:?} or with slug {:?} already exists",
                name.as_str(),
                slug.as_str()
            )));
        }
        let id = companies::insert_unprovisioned(
            &tx,
            &uuid,
            name.as_str(),
            slug.as_str(),
            industry,
            &db_path,
        )?;
        tx.commit().map_err(DbError::from)?;
        id
    };

    let tmp_dir = data_dir.join(COMPANIES_DIR).join(format!(".tmp-{uuid}"));
    let undo_row = || {
        if let Ok(conn) = primary.get() {
            let _ = companies::delete(&conn, id);
        }
    };
    if final_dir.exists() {
        undo_row();
        return Err(ProvisionError::Conflict(format!(
            "the data directory already holds {}/{}; move it away or choose another slug",
            COMPANIES_DIR,
            slug.as_str()
        )));
    }
    if let Err(err) = build_files(&tmp_dir, &final_dir, DB_FILE, fill) {
        let _ = fs::remove_dir_all(&tmp_dir);
        undo_row();
        return Err(ProvisionError::Failed(err));
    }
    // From here the final directory is ours to remove if the last step fails.
    let marked = primary.get().map_err(DbError::from).and_then(|mut conn| {
        let tx = write_tx(&mut conn)?;
        companies::mark_provisioned(&tx, id)?;
        then(&tx, id)?;
        tx.commit()?;
        companies::get(&conn, id)
    });
    match marked {
        Ok(Some(company)) => Ok(company),
        outcome => {
            let _ = fs::remove_dir_all(&final_dir);
            undo_row();
            let cause = match outcome {
                Err(e) => anyhow::Error::from(e),
                _ => anyhow::anyhow!("company row vanished during provisioning"),
            };
            Err(ProvisionError::Failed(cause))
        }
    }
}

/// A new company database in `dir`, with every company migration.
fn new_database(dir: &Path) -> anyhow::Result<()> {
    new_database_file(&dir.join(DB_FILE))
}

/// A new database at `path` with every company migration (a company's, or the library's).
pub(super) fn new_database_file(path: &Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut conn = Connection::open(path).context("creating the company database")?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")?;
    migrations::migrate(&mut conn, MigrationSet::Company)
        .context("migrating the company database")?;
    // Closing the only connection checkpoints the WAL into the database file.
    Ok(())
}

/// Builds the company's files in `tmp_dir` (the database `db_name` by `fill`) and moves
/// them to `final_dir` in one rename.
pub(super) fn build_files(
    tmp_dir: &Path,
    final_dir: &Path,
    db_name: &str,
    fill: &mut dyn FnMut(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    if final_dir.exists() {
        anyhow::bail!(
            "{} already exists; refusing to overwrite it",
            final_dir.display()
        );
    }
    fs::create_dir_all(tmp_dir.join(VECTORS_DIR)).context("creating the company directory")?;
    fs::create_dir_all(tmp_dir.join(UPLOADS_DIR)).context("creating the uploads directory")?;
    let db_file = tmp_dir.join(db_name);
    fill(tmp_dir)?;
    fs::File::open(&db_file)
        .with_context(|| format!("{} was not made", db_file.display()))?
        .sync_all()?;
    fs::File::open(tmp_dir)?.sync_all()?;
    fs::rename(tmp_dir, final_dir).context("moving the company directory into place")?;
    if let Some(parent) = final_dir.parent() {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// Why a company could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// Requests still run on it, or it is closed for other maintenance: retry later.
    #[error(transparent)]
    Busy(#[from] super::TenantError),
    #[error("deleting the company failed: {0}")]
    Failed(#[from] anyhow::Error),
}

/// Deletes a company: closes it in the registry (waiting for requests in flight), moves its
/// directory aside (database, -wal, -shm, vectors, uploads), removes its row (its users go
/// by cascade), then the directory. Moving first means a failure leaves the company whole:
/// the directory is moved back if the row cannot be removed.
pub async fn delete_company(
    registry: &std::sync::Arc<TenantRegistry>,
    primary: &Pool,
    data_dir: &Path,
    company: &Company,
) -> Result<(), DeleteError> {
    let _closed = registry
        .close(
            company.id,
            "company is being deleted",
            Duration::from_secs(10),
        )
        .await?;
    let (primary, data_dir, company) = (primary.clone(), data_dir.to_path_buf(), company.clone());
    let deleted = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let dir = resolve_inside(&data_dir, &company.db_path)
            .map_err(|e| anyhow::anyhow!(e))?
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| anyhow::anyhow!("company path has no directory"))?;
        let trash = data_dir.join(COMPANIES_DIR).join(format!(".trash-{}", company.uuid));
        let moved = dir.exists();
        if moved {
            fs::rename(&dir, &trash)?;
        }
        let removed = primary.get().map_err(DbError::from).and_then(|conn| companies::delete(&conn, company.id));
        if let Err(err) = removed {
            if moved {
                fs::rename(&trash, &dir)?;
            }
            return Err(err.into());
        }
        if moved {
            // The company is gone; a failure here leaves only a .trash- dir, cleaned at start.
            if let Err(err) = fs::remove_dir_all(&trash) {
                tracing::warn!(error = %err, dir = %trash.display(), "could not remove a deleted company's files");
            }
        }
        Ok(())
    })
    .await
    .map_err(|e| DeleteError::Failed(e.into()))?;
    Ok(deleted?)
}

/// Removes what an interrupted provisioning or deletion left behind: `.tmp-*` and
/// `.trash-*` directories, and unprovisioned rows older than `grace` (a concurrent
/// `silo company create` in another process may be mid-way).
pub fn cleanup_leftovers(
    primary: &Pool,
    data_dir: &Path,
    grace: Duration,
) -> anyhow::Result<usize> {
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(grace)?;
    let cutoff_text = crate::store::db::timestamp(cutoff);
    let conn = primary.get()?;
    let mut removed = companies::delete_stale_unprovisioned(&conn, &cutoff_text)?;
    let companies_dir = data_dir.join(COMPANIES_DIR);
    let Ok(entries) = fs::read_dir(&companies_dir) else {
        return Ok(removed);
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(".tmp-") || name.starts_with(".trash-")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() >= grace);
        if old {
            fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The directory holding every company.
pub fn companies_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(COMPANIES_DIR)
}
