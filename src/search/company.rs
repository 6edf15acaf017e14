//! A company's vector index as the server uses it: loaded lazily with the open company
//! (single-flight), kept in step by ingestion, saved by a periodic maintenance task and
//! before the company is closed.

use std::sync::Arc;
use std::time::Duration;

use crate::embed::Embedder;
use crate::tenant::{TenantDb, TenantError, TenantRegistry};
use crate::vectors::{VECTORS_DIR, VectorIndex};

/// The company's index for `embedder`, loading (or rebuilding from SQLite) on first use.
/// Blocking work runs on the blocking pool.
pub async fn index<'a>(
    db: &'a Arc<TenantDb>,
    embedder: &Arc<dyn Embedder>,
) -> Result<&'a VectorIndex, TenantError> {
    db.vectors
        .get_or_try_init(|| {
            let (db, embedder) = (db.clone(), embedder.clone());
            async move { tokio::task::spawn_blocking(move || load(&db, embedder.as_ref())).await? }
        })
        .await
}

fn load(db: &TenantDb, embedder: &dyn Embedder) -> Result<VectorIndex, TenantError> {
    let conn = db.conn()?;
    let dir = db.dir().join(VECTORS_DIR);
    let index = VectorIndex::open_or_rebuild(&dir, &conn, embedder.id(), embedder.dimensions())
        .map_err(|e| {
            TenantError::Unavailable(format!("the vector index could not be opened: {e}"))
        })?;
    let report = index.open_report();
    tracing::info!(company = %db.company().slug, source = ?report.source, caught_up = report.caught_up,
                   tombstoned = report.tombstoned, chunks = index.len(), "vector index loaded");
    if let Some(previous) = &report.previous_embedder {
        tracing::warn!(company = %db.company().slug, %previous, current = embedder.id(),
                       "the embedder changed: run `silo reindex --company {}`", db.company().slug);
    }
    Ok(index)
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
