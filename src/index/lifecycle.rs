//! A company's vector index as the server uses it: loaded lazily with the open company
//! (single-flight), caught up with chunks committed while it loaded, saved by a periodic
//! maintenance task and before the company is closed.
//!
//! The index belongs to an open company ([`Home`], implemented by the tenant's handle), so
//! it lives and dies with it; everything done to it is done here and in [`super::hooks`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{IndexError, VECTORS_DIR, VectorIndex};
use crate::embed::Embedder;
use crate::store::company::jobs;
use crate::store::db::{Conn, DbError, write_tx};

/// Where an index is held: set once, on first use.
pub type Slot = tokio::sync::OnceCell<VectorIndex>;

/// An open company, as the index sees it: its slot, its directory, its database.
pub trait Home: Send + Sync + 'static {
    type Error: From<IndexError>
        + From<DbError>
        + From<tokio::task::JoinError>
        + std::fmt::Display
        + Send
        + 'static;

    fn index_slot(&self) -> &Slot;
    /// The company's directory; the index's files are in its `vectors/`.
    fn home_dir(&self) -> PathBuf;
    fn connect(&self) -> Result<Conn, Self::Error>;
    /// For logs: the company's slug.
    fn label(&self) -> &str;
}

/// What [`ensure`] did besides handing out the index.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ensured {
    /// The index was loaded (or rebuilt) by this call.
    pub loaded_now: bool,
    /// Chunks were stale and a reindex job was queued: wake the worker.
    pub reindex_queued: bool,
}

/// The company's index for `embedder`, loading (or rebuilding from SQLite) on first use.
/// With `reindex`, a load that finds chunks the index cannot hold (another embedder's)
/// queues a reindex job. After a load, the index catches up with chunks committed meanwhile
/// (in the background). Blocking work runs on the blocking pool.
pub async fn ensure<'a, H: Home>(
    home: &'a Arc<H>,
    embedder: &Arc<dyn Embedder>,
    reindex: bool,
) -> Result<(&'a VectorIndex, Ensured), H::Error> {
    let mut ensured = Ensured::default();
    let index = home
        .index_slot()
        .get_or_try_init(|| async {
            ensured.loaded_now = true;
            let (loader, embedder) = (home.clone(), embedder.clone());
            let (index, queued) =
                tokio::task::spawn_blocking(move || load(&*loader, embedder.as_ref(), reindex))
                    .await??;
            ensured.reindex_queued = queued;
            Ok::<_, H::Error>(index)
        })
        .await?;
    if ensured.loaded_now {
        // Ingestion hooks found no index while it loaded: pick up what they missed.
        let home = home.clone();
        tokio::task::spawn_blocking(move || {
            let caught_up = home.connect().map_err(|e| e.to_string()).and_then(|conn| {
                let ix = home.index_slot().get().expect("just loaded");
                ix.catch_up(&conn).map_err(|e| e.to_string())
            });
            if let Err(e) = caught_up {
                tracing::warn!(company = %home.label(), error = %e, "vector index catch-up failed");
            }
        });
    }
    Ok((index, ensured))
}

/// Opens the index; with `reindex`, queues a reindex job when chunks are stale. Returns
/// the index and whether a job was queued.
fn load<H: Home>(
    home: &H,
    embedder: &dyn Embedder,
    reindex: bool,
) -> Result<(VectorIndex, bool), H::Error> {
    let mut conn = home.connect()?;
    let dir = home.home_dir().join(VECTORS_DIR);
    let index = VectorIndex::open_or_rebuild(&dir, &conn, embedder.id(), embedder.dimensions())?;
    let report = index.open_report();
    let mut queued = false;
    if report.stale > 0 {
        if reindex {
            let tx = write_tx(&mut conn).map_err(DbError::from)?;
            // The open just counted them: the job need not count again.
            let params = serde_json::json!({ "total": report.stale }).to_string();
            queued = jobs::enqueue_reindex(&tx, Some(&params)).map_err(DbError::from)?;
            tx.commit().map_err(DbError::from)?;
        }
        tracing::warn!(company = %home.label(), stale = report.stale, current = embedder.id(),
                       previous = ?report.previous_embedder, queued,
                       "chunks not embedded by the current embedder are missing from vector \
                        search until reindexed (`silo reindex --company {}`)", home.label());
    }
    Ok((index, queued))
}

/// Writes the index's unsaved changes (dirty graph or pending compaction) to disk.
/// Blocking. Called before the company is closed and by the periodic maintenance.
pub fn persist<H: Home>(home: &H) {
    let Some(index) = home.index_slot().get() else {
        return;
    };
    let maintained = home
        .connect()
        .map_err(|e| e.to_string())
        .and_then(|conn| index.maintain(&conn).map_err(|e| e.to_string()));
    if let Err(err) = maintained {
        tracing::warn!(company = %home.label(), error = %err, "could not save the vector index");
    }
}

/// Whether the loaded index has changes to save or tombstones to compact.
pub fn needs_saving<H: Home>(home: &H) -> bool {
    home.index_slot()
        .get()
        .is_some_and(|ix| ix.is_dirty() || ix.needs_compaction())
}

/// Every `interval`, saves the indexes of the open companies `open()` lists that have
/// unsaved changes or need compaction, after `trim()` (the registry's memory budget).
/// Dumps happen here, never on a request.
pub fn spawn_maintenance<H: Home>(
    open: impl Fn() -> Vec<Arc<H>> + Send + 'static,
    trim: impl Fn() + Send + 'static,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            trim();
            let dirty: Vec<_> = open().into_iter().filter(|h| needs_saving(&**h)).collect();
            if dirty.is_empty() {
                continue;
            }
            let _ =
                tokio::task::spawn_blocking(move || dirty.iter().for_each(|h| persist(&**h))).await;
        }
    })
}
