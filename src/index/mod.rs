//! Per-company vector index: an HNSW graph (hnsw_rs) over the embeddings stored in
//! `document_chunks.embedding`, with its dump and manifest in `companies/<id>/vectors/`.
//!
//! The index is derived data (invariant 3). [`VectorIndex::open_or_rebuild`] trusts a dump
//! only when its manifest matches the embedder and its files check out, and then reconciles
//! it with SQLite: chunks added since the dump are inserted, chunks deleted since are
//! tombstoned. Anything else — no dump, a corrupt or truncated one, another embedder —
//! rebuilds the graph from SQLite.
//!
//! - [`lifecycle`]: an open company's index: loaded on first use, caught up, saved, kept
//!   by periodic maintenance ([`Home`] is the open company, implemented by the tenant).
//! - [`hooks`]: what ingestion tells the loaded index after it commits chunks.
//! - [`reembed`]: moving a company's chunks to another embedder.
//! - [`distance`]: the fast cosine distance on unit vectors the graph is built with.
//! - [`manifest`]: the commit point of a dump and the checksums of its files.
//! - `vector_index`, `search`, `exact`, `build`, `dump`: the in-memory index, searching
//!   it (walking the graph, or scoring every point of a small one), building graphs,
//!   atomic dumps.
//!
//! The SQL it runs lives in `store::company::embeddings`.

mod build;
pub mod distance;
mod dump;
mod exact;
pub mod hooks;
pub mod lifecycle;
pub mod manifest;
pub mod reembed;
mod search;
mod vector_index;

pub use lifecycle::{Ensured, Home, Slot};
pub use vector_index::{IndexParams, OpenReport, OpenSource, VectorIndex};

/// The graph type: f32 vectors, cosine distance on unit vectors, `'static` because a
/// reloaded graph borrows its (leaked) loader.
pub(crate) type Graph = hnsw_rs::prelude::Hnsw<'static, f32, distance::DistUnitCosine>;

/// Name of the index directory inside a company's directory (`companies/<id>/vectors`).
pub const VECTORS_DIR: &str = "vectors";

/// Errors of the vector index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The files on disk cannot be used (the caller rebuilds; never shown to users).
    #[error("index files unusable: {0}")]
    Corrupt(String),
    #[error("vector has {found} dimensions, the index expects {expected}")]
    Dimensions { expected: usize, found: usize },
    #[error("vector of chunk {0} is zero or not finite")]
    InvalidVector(i64),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}
