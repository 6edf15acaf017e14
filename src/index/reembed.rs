//! Moving a company's chunks to the current embedder: every chunk whose stored vector is
//! missing, unlabelled or made by another embedder is embedded again, a batch per
//! transaction, so an interrupted reindex keeps what it did.
//!
//! Two callers: the background `reindex` job (queued automatically when a company's index
//! finds stale chunks, see `ingest::reindex_job`), which adds each batch to the loaded index
//! as it commits, and `silo reindex`, which opens the index itself and saves it at the end.
//! Unlabelled vectors the saved index shows to be the current embedder's are adopted when
//! the index opens (see `VectorIndex::open_or_rebuild`), not embedded again.

use std::path::Path;

use rusqlite::Connection;

use crate::embed::usage::usage_row;
use crate::embed::{EmbedError, Embedder, embed_checked};
use crate::index::{VECTORS_DIR, VectorIndex};
use crate::pricing::PriceTable;
use crate::store::company::embeddings;
use crate::store::company::usage;
use crate::store::db::write_tx;

/// Chunks embedded per call (the local model is fastest at batches of about 8).
pub const BATCH: usize = 8;

#[derive(Debug, Default, serde::Serialize)]
pub struct ReindexReport {
    /// Unlabelled vectors the saved index showed to be the current embedder's (kept).
    pub adopted: usize,
    pub reembedded: usize,
    /// Chunks the embedder refused (left stale and out of vector search).
    pub refused: usize,
    pub indexed: usize,
}

/// Who a reindex's `token_usage` row is charged to, at which prices.
#[derive(Clone, Copy)]
pub struct Charge<'a> {
    pub prices: &'a PriceTable,
    pub user_id: &'a str,
}

/// One committed batch.
#[derive(Debug, Default)]
pub struct Batch {
    /// The chunks embedded and stored, ascending, with their vectors.
    pub items: Vec<(i64, Vec<f32>)>,
    /// Chunks the embedder refused, one by one (left stale).
    pub refused: Vec<i64>,
    /// Highest chunk id looked at: where the next batch starts.
    pub last: i64,
    pub tokens: i64,
}

/// Chunks whose vector is not from `embedder`.
pub fn stale_count(conn: &Connection, embedder: &dyn Embedder) -> rusqlite::Result<usize> {
    embeddings::stale_count(conn, embedder.id(), embedder.dimensions())
}

/// Embeds up to `limit` stale chunks with ids above `after` and stores their vectors in one
/// transaction. `None` when no stale chunk is left after `after`.
///
/// A batch the embedder rejects (`EmbedError::Failed`, or a malformed vector) is retried a
/// chunk at a time and the chunks it still rejects are skipped, so one odd chunk cannot
/// stall a company's reindex; an unavailable embedder is an error (try again later).
pub fn reembed_next(
    conn: &mut Connection,
    embedder: &dyn Embedder,
    after: i64,
    limit: usize,
) -> Result<Option<Batch>, ReembedError> {
    let batch = embeddings::stale_after(conn, embedder.id(), embedder.dimensions(), after, limit)?;
    let Some(&(last, _)) = batch.last() else {
        return Ok(None);
    };
    let mut out = Batch {
        last,
        ..Batch::default()
    };
    let texts: Vec<&str> = batch.iter().map(|(_, t)| t.as_str()).collect();
    let mut items: Vec<(i64, Vec<f32>)> = Vec::with_capacity(batch.len());
    match embed_checked(embedder, &texts) {
        Ok(vectors) => items.extend(batch.iter().map(|(id, _)| *id).zip(vectors)),
        Err(EmbedError::Unavailable(why)) => return Err(ReembedError::Unavailable(why)),
        Err(EmbedError::Failed(why)) => {
            tracing::warn!(reason = %why, "the embedder refused a batch; retrying one by one");
            for (id, text) in &batch {
                match embed_checked(embedder, &[text.as_str()]) {
                    Ok(mut v) => items.push((*id, v.remove(0))),
                    Err(EmbedError::Unavailable(why)) => {
                        return Err(ReembedError::Unavailable(why));
                    }
                    Err(EmbedError::Failed(why)) => {
                        tracing::warn!(chunk = id, reason = %why, "the embedder refused a chunk");
                        out.refused.push(*id);
                    }
                }
            }
        }
    }
    out.tokens = crate::embed::usage::estimate_tokens(
        &batch
            .iter()
            .filter(|(id, _)| !out.refused.contains(id))
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>(),
    );
    let tx = write_tx(conn)?;
    // A chunk deleted meanwhile updates nothing, and must not reach the index.
    let stored = embeddings::set_embeddings(&tx, embedder.id(), &items)?;
    tx.commit()?;
    out.items = items
        .into_iter()
        .zip(stored)
        .filter_map(|(item, stored)| stored.then_some(item))
        .collect();
    Ok(Some(out))
}

/// Errors of [`reembed_next`].
#[derive(Debug, thiserror::Error)]
pub enum ReembedError {
    /// The embedder cannot answer now (a service down): try again later.
    #[error("the embedding service is unavailable: {0}")]
    Unavailable(String),
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Records `tokens` of reindexing as one usage row (no row for 0).
pub fn record_usage(
    conn: &Connection,
    embedder: &dyn Embedder,
    charge: Charge<'_>,
    tokens: i64,
) -> rusqlite::Result<()> {
    if tokens > 0 {
        usage::insert(
            conn,
            &usage_row(embedder, charge.prices, charge.user_id, tokens),
        )?;
    }
    Ok(())
}

/// `silo reindex`: opens the company's index (adopting unlabelled vectors it shows to be
/// this embedder's), embeds every stale chunk again and adds it, records the usage, and
/// saves the index in `company_dir/vectors`. `progress(done, total)` is called after each
/// batch. Blocking.
pub fn reindex(
    conn: &mut Connection,
    company_dir: &Path,
    embedder: &dyn Embedder,
    charge: Charge<'_>,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<ReindexReport> {
    let dir = company_dir.join(VECTORS_DIR);
    let index = VectorIndex::open_or_rebuild(&dir, conn, embedder.id(), embedder.dimensions())?;
    let mut report = ReindexReport {
        adopted: index.open_report().adopted,
        ..ReindexReport::default()
    };
    let total = index.open_report().stale;
    let (mut after, mut tokens) = (0i64, 0i64);
    while let Some(batch) = reembed_next(conn, embedder, after, BATCH)? {
        index.add(&batch.items)?;
        report.reembedded += batch.items.len();
        report.refused += batch.refused.len();
        tokens += batch.tokens;
        after = batch.last;
        progress(report.reembedded + report.refused, total);
    }
    record_usage(conn, embedder, charge, tokens)?;
    index.compact_if_needed(conn)?;
    index.dump_if_dirty()?;
    report.indexed = index.len();
    Ok(report)
}
