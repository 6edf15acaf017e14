//! A company's vector index as the server uses it: loaded lazily with the open company
//! (single-flight), kept in step by ingestion, saved by a periodic maintenance task and
//! before the company is closed.

use std::sync::Arc;
use std::time::Duration;

use crate::embed::Embedder;
use crate::index::{VECTORS_DIR, VectorIndex};
use crate::ingest::IngestWorker;
use crate::store::company::jobs;
use crate::store::db::write_tx;
use crate::tenant::{TenantDb, TenantError, TenantRegistry};

/// The company's index for `embedder`, loading (or rebuilding from SQLite) on first use.
/// When the load finds chunks the index cannot hold (another embedder's), a reindex job is
/// queued on `worker` if it reindexes for this embedder. After a load, the index catches up
/// with chunks committed meanwhile, and the registry closes idle companies if loaded
/// indexes exceed their memory budget. Blocking work runs on the blocking pool.
pub async fn index<'a>(
    db: &'a Arc<TenantDb>,
    embedder: &Arc<dyn Embedder>,
    worker: &IngestWorker,
) -> Result<&'a VectorIndex, TenantError> {
    let mut loaded_now = false;
    let index = db
        .vectors
        .get_or_try_init(|| {
            loaded_now = true;
            let (db, embedder) = (db.clone(), embedder.clone());
            let reindex = worker.reindexes_for(embedder.id());
            let worker = worker.clone();
            async move {
                let id = db.company().id;
                let (index, queued) =
                    tokio::task::spawn_blocking(move || load(&db, embedder.as_ref(), reindex))
                        .await??;
                if queued {
                    worker.notify(id);
                }
                Ok::<_, TenantError>(index)
            }
        })
        .await?;
    if loaded_now {
        // Ingestion hooks found no index while it loaded: pick up what they missed.
        let db = db.clone();
        tokio::task::spawn_blocking(move || {
            let caught_up = db.conn().map_err(|e| e.to_string()).and_then(|conn| {
                let ix = db.loaded_index().expect("just loaded");
                ix.catch_up(&conn).map_err(|e| e.to_string())
            });
            if let Err(e) = caught_up {
                tracing::warn!(company = %db.company().slug, error = %e, "vector index catch-up failed");
            }
        });
        worker.registry().trim_indexes();
    }
    Ok(index)
}

/// Opens the index; with `reindex`, queues a reindex job when chunks are stale. Returns
/// the index and whether a job was queued.
fn load(
    db: &TenantDb,
    embedder: &dyn Embedder,
    reindex: bool,
) -> Result<(VectorIndex, bool), TenantError> {
    let mut conn = db.conn()?;
    let dir = db.dir().join(VECTORS_DIR);
    let index = VectorIndex::open_or_rebuild(&dir, &conn, embedder.id(), embedder.dimensions())
        .map_err(|e| {
            TenantError::Unavailable(format!("the vector index could not be opened: {e}"))
        })?;
    let report = index.open_report();
    let mut queued = false;
    if report.stale > 0 {
        if reindex {
            let tx = write_tx(&mut conn)?;
            // The open just counted them: the job need not count again.
            let params = serde_json::json!({ "total": report.stale }).to_string();
            queued = jobs::enqueue_reindex(&tx, Some(&params))?;
            tx.commit()?;
        }
        tracing::warn!(company = %db.company().slug, stale = report.stale, current = embedder.id(),
                       previous = ?report.previous_embedder, queued,
                       "chunks not embedded by the current embedder are missing from vector \
                        search until reindexed (`silo reindex --company {}`)", db.company().slug);
    }
    Ok((index, queued))
}

/// Every `interval`, saves the indexes of open companies that have unsaved changes or
/// need compaction. Dumps happen here, never on a request.
pub fn spawn_maintenance(
    registry: Arc<TenantRegistry>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.tick().await;
        loop {
            tick.tick().await;
            registry.trim_indexes();
            let dirty: Vec<_> = registry
                .open_handles()
                .into_iter()
                .filter(|db| {
                    db.loaded_index()
                        .is_some_and(|ix| ix.is_dirty() || ix.needs_compaction())
                })
                .collect();
            if dirty.is_empty() {
                continue;
            }
            let _ =
                tokio::task::spawn_blocking(move || dirty.iter().for_each(|db| db.persist_index()))
                    .await;
        }
    })
}

/// Saves every loaded index (at shutdown). Blocking.
pub fn persist_all(registry: &TenantRegistry) {
    for db in registry.open_handles() {
        db.persist_index();
    }
}
