//! Hooks into the per-company vector index (HNSW files under
//! `companies/<slug>/vectors/`), called after ingestion's transaction commits.
//!
//! SQLite stays the source of truth (invariant 3): the embeddings are already stored in
//! `document_chunks.embedding`, so a hook that fails or never runs (a crash) only leaves the
//! index behind, and the index reconciles with SQLite when it is next loaded. Hooks therefore
//! never fail the job, and they are quick: an insert into the in-memory graph, never a dump.

use super::lifecycle::Home;

/// Called after chunks with embeddings were committed: `items` are `document_chunks`
/// rowids (AUTOINCREMENT, never reused) with the vectors just stored for them by
/// `embedder_id`. When the company's index is loaded, the vectors go into it now; otherwise
/// the index picks them up from SQLite when it is next loaded.
pub fn on_chunks_committed<H: Home>(home: &H, embedder_id: &str, items: &[(i64, Vec<f32>)]) {
    let Some(index) = home
        .index_slot()
        .get()
        .filter(|ix| ix.embedder_id() == embedder_id)
    else {
        return;
    };
    if let Err(err) = index.add(items) {
        // Not fatal: SQLite holds the vectors and the next load catches the index up.
        tracing::warn!(company = %home.label(), error = %err, "vector index not updated");
    }
}

/// Called after chunks were deleted (document deleted, or re-processed): they become
/// tombstones in the loaded index (hnsw_rs has no delete), compacted when they pile up.
pub fn on_chunks_removed<H: Home>(home: &H, chunk_ids: &[i64]) {
    if let Some(index) = home.index_slot().get() {
        index.tombstone(chunk_ids);
    }
}

/// Called after a document went to the trash or came back from it: its chunks become
/// tombstones, or searchable again (chunks compacted out of the graph meanwhile are added
/// again from their stored vectors). The document's state is read from SQLite under the
/// index's writer lock, so two quick changes end in the last one's state whatever order
/// their hooks run in. Without a loaded index there is nothing to do: the next load
/// reads SQLite.
pub fn on_trash_changed<H: Home>(home: &H, document_id: i64) {
    let Some(index) = home.index_slot().get() else {
        return;
    };
    let settled = home.connect().map_err(|e| e.to_string()).and_then(|conn| {
        let missing = index.with_writer(|| {
            let ids = crate::store::company::chunks::ids_for_document(&conn, document_id)?;
            if crate::store::company::trash::is_trashed(&conn, document_id)? {
                index.tombstone(&ids);
                Ok(Vec::new())
            } else {
                Ok::<_, rusqlite::Error>(index.untombstone(&ids))
            }
        });
        let missing = missing.map_err(|e| e.to_string())?;
        if missing.is_empty() {
            return Ok(());
        }
        let items = crate::store::company::embeddings::embeddings_of(
            &conn,
            &missing,
            index.embedder_id(),
            index.dimensions(),
        )
        .map_err(|e| e.to_string())?;
        index.add(&items).map_err(|e| e.to_string())
    });
    if let Err(err) = settled {
        tracing::warn!(company = %home.label(), error = %err, "vector index not updated for the trash");
    }
}
