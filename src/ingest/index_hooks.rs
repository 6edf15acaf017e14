//! Hooks for the per-company vector index (HNSW files under `companies/<slug>/vectors/`).
//!
//! ┌──────────────────────────────────────────────────────────────────────────────────┐
//! │ SEAM FOR THE SEMANTIC-SEARCH WORK. Ingestion calls these after its transaction     │
//! │ commits; today they only log. SQLite stays the source of truth (invariant 3): the  │
//! │ embeddings are already stored in `document_chunks.embedding`, so a hook that fails │
//! │ or never runs (crash) only leaves the index behind, and the index catches up from  │
//! │ SQLite (manifest: highest chunk rowid indexed). Hooks must therefore never fail    │
//! │ the job, and must not block for long: they run on the worker's blocking thread.    │
//! └──────────────────────────────────────────────────────────────────────────────────┘

use crate::tenant::TenantDb;

/// Called after chunks with embeddings were committed: `chunk_ids` are `document_chunks`
/// rowids (AUTOINCREMENT, never reused), each with an embedding of the current embedder.
/// The search work inserts them into the company's HNSW index here.
pub fn on_chunks_committed(db: &TenantDb, embedder_id: &str, chunk_ids: &[i64]) {
    tracing::debug!(company = %db.company().slug, embedder_id, chunks = chunk_ids.len(),
                    "vector index hook: chunks committed");
}

/// Called after chunks were deleted (document deleted, or re-processed): the search work
/// tombstones these rowids in the company's index (hnsw_rs has no delete) and compacts it
/// when tombstones pile up.
pub fn on_chunks_removed(db: &TenantDb, chunk_ids: &[i64]) {
    tracing::debug!(company = %db.company().slug, chunks = chunk_ids.len(),
                    "vector index hook: chunks removed");
}
