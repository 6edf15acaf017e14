//! Searching a company's documents.

use std::sync::Arc;

use crate::app::App;
use crate::embed::Embedder;
use crate::index::{self, VectorIndex};
use crate::tenant::{TenantDb, TenantError};

/// The company's vector index for `embedder`, loaded on first use. A load that queued a
/// reindex wakes the worker, and one that grew the loaded indexes lets the registry close
/// idle companies to stay in the memory budget.
pub async fn company_index<'a>(
    app: &App,
    db: &'a Arc<TenantDb>,
    embedder: &Arc<dyn Embedder>,
) -> Result<&'a VectorIndex, TenantError> {
    let reindex = app.ingest.reindexes_for(embedder.id());
    let (index, ensured) = index::lifecycle::ensure(db, embedder, reindex).await?;
    if ensured.reindex_queued {
        app.ingest.notify(db.company().id);
    }
    if ensured.loaded_now {
        app.registry.trim_indexes();
    }
    Ok(index)
}
