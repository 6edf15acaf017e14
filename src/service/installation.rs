//! The installation at a glance, for the super admin: companies browsed by name or age with
//! search and keyset pagination, and the overview numbers (companies, users, storage, the
//! newest backup). Each read is a fixed number of statements whatever the number of
//! companies; the storage walk, which touches every company's files, is cached.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use crate::app::AppState;
use crate::error::Error;
use crate::identity::Actor;
use crate::ops::backup;
use crate::store::company::stats::dir_bytes;
use crate::store::primary::companies::{self, After, Browsed, Order};
use crate::store::primary::users;

/// How long the storage total is reused before it is walked again.
const STORAGE_TTL: Duration = Duration::from_secs(60);

/// A page of companies: `next` starts the following page (`None` on the last).
#[derive(Debug)]
pub struct BrowsePage {
    pub items: Vec<Browsed>,
    pub total: u64,
    pub next: Option<After>,
}

/// Up to `limit` companies matching `q`, in `order`, after `after`.
pub async fn browse(
    app: &AppState,
    actor: &Actor,
    q: Option<String>,
    order: Order,
    after: Option<After>,
    limit: u32,
) -> Result<BrowsePage, Error> {
    actor.require("companies:manage")?;
    let (items, total) = app
        .read_primary(move |conn| {
            Ok(companies::browse(
                conn,
                q.as_deref(),
                order,
                after.as_ref(),
                limit + 1,
            )?)
        })
        .await?;
    let mut items = items;
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|b| After {
            name: b.company.name.clone(),
            id: b.company.id,
        })
    } else {
        None
    };
    Ok(BrowsePage { items, total, next })
}

/// The overview of the installation.
#[derive(Debug, Default)]
pub struct Overview {
    pub active_companies: u64,
    pub inactive_companies: u64,
    pub users: u64,
    /// Every company's files (databases, WAL, indexes, uploads), the library's and
    /// primary.db's, as of `storage_age` ago.
    pub storage_bytes: u64,
    pub storage_age: Duration,
    /// The newest snapshot under DATA_DIR/backups and how old it is.
    pub newest_backup: Option<(String, Duration)>,
}

pub async fn overview(app: &AppState, actor: &Actor) -> Result<Overview, Error> {
    actor.require("companies:manage")?;
    let ((active, inactive), users) = app
        .read_primary(|conn| Ok((companies::count_by_state(conn)?, users::count_all(conn)?)))
        .await?;
    let (storage_bytes, storage_age) = storage(app).await?;
    let root = app.data_dir.join(backup::BACKUPS_DIR);
    let newest_backup = tokio::task::spawn_blocking(move || newest_snapshot(&root)).await?;
    Ok(Overview {
        active_companies: active,
        inactive_companies: inactive,
        users,
        storage_bytes,
        storage_age,
        newest_backup,
    })
}

/// The bytes under the data directory's company, library and primary files, walked at
/// most once per [`STORAGE_TTL`].
async fn storage(app: &AppState) -> Result<(u64, Duration), Error> {
    if let Some((at, bytes)) = *app.storage_bytes.lock().unwrap_or_else(|p| p.into_inner())
        && at.elapsed() < STORAGE_TTL
    {
        return Ok((bytes, at.elapsed()));
    }
    let dir = app.data_dir.clone();
    let bytes = tokio::task::spawn_blocking(move || {
        let file = |name: &str| std::fs::metadata(dir.join(name)).map_or(0, |m| m.len());
        dir_bytes(&dir.join(crate::tenant::provision::COMPANIES_DIR))
            + dir_bytes(&crate::tenant::library::dir(&dir))
            + file("primary.db")
            + file("primary.db-wal")
    })
    .await?;
    *app.storage_bytes.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), bytes));
    Ok((bytes, Duration::ZERO))
}

fn newest_snapshot(root: &Path) -> Option<(String, Duration)> {
    let newest = backup::list_snapshots(root).ok()?.into_iter().next()?;
    let age = std::fs::metadata(&newest)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    Some((newest.file_name()?.to_string_lossy().into_owned(), age))
}
