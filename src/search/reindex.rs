//! Moving a company's chunks to the current embedder: every chunk whose stored vector is
//! missing, unlabelled or made by another embedder is embedded again, a batch per
//! transaction (with its `token_usage` row), so an interrupted reindex keeps what it did.
//!
//! Two callers: the background `reindex` job (queued automatically when a company's index
//! finds stale chunks, see `ingest::reindex_job`), which adds each batch to the loaded index
//! as it commits, and `silo reindex`, which rebuilds and saves the index at the end.

use std::path::Path;

use rusqlite::{Connection, params};

use crate::company::usage;
use crate::db::write_tx;
use crate::embed::{Embedder, usage::usage_row};
use crate::pricing::PriceTable;
use crate::vectors::manifest::{MANIFEST_FILE, Manifest};
use crate::vectors::{VECTORS_DIR, VectorIndex, store};

/// Chunks embedded per call (the local model is fastest at batches of about 8).
pub const BATCH: usize = 8;

/// Which chunks are stale for an embedder: no vector, an unlabelled one, another model's,
/// or one of the wrong length.
const STALE: &str = "(embedding IS NULL OR embedding_model IS NOT ?1 OR length(embedding) != ?2)";

#[derive(Debug, Default, serde::Serialize)]
pub struct ReindexReport {
    /// Unlabelled vectors found to be the current embedder's (kept, not embedded again).
    pub adopted: usize,
    pub reembedded: usize,
    pub indexed: usize,
}

/// Who a reindex's `token_usage` rows are charged to, at which prices.
#[derive(Clone, Copy)]
pub struct Charge<'a> {
    pub prices: &'a PriceTable,
    pub user_id: &'a str,
}

/// One committed batch.
#[derive(Debug)]
pub struct Batch {
    /// The chunks embedded, ascending.
    pub ids: Vec<i64>,
    pub tokens: i64,
}

/// Chunks whose vector is not from `embedder`.
pub fn stale_count(conn: &Connection, embedder: &dyn Embedder) -> rusqlite::Result<usize> {
    let n: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM document_chunks WHERE {STALE}"),
        params![embedder.id(), embedder.dimensions() as i64 * 4],
        |r| r.get(0),
    )?;
    Ok(n as usize)
}

/// Vectors stored before chunks recorded their embedder (schema version 1) carry no
/// label; the company's index manifest says which embedder made them. When that is
/// `embedder`, they are labelled as its own instead of being embedded again. Returns the
/// ids labelled. Call inside a write transaction.
pub fn adopt_unlabelled(
    conn: &Connection,
    company_dir: &Path,
    embedder: &dyn Embedder,
) -> anyhow::Result<Vec<i64>> {
    let manifest = Manifest::read(&company_dir.join(VECTORS_DIR))
        .ok()
        .flatten();
    let Some(m) = manifest else {
        return Ok(Vec::new());
    };
    if m.embedder_id != embedder.id() || m.dimensions != embedder.dimensions() {
        return Ok(Vec::new());
    }
    let ids = conn
        .prepare(
            "UPDATE document_chunks SET embedding_model = ?1
              WHERE embedding_model IS NULL AND length(embedding) = ?2
             RETURNING id",
        )?
        .query_map(
            params![embedder.id(), embedder.dimensions() as i64 * 4],
            |r| r.get(0),
        )?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(ids)
}

/// Embeds up to `limit` stale chunks with ids above `after` and stores their vectors and
/// one usage row in one transaction. `None` when no stale chunk is left after `after`.
pub fn reembed_next(
    conn: &mut Connection,
    embedder: &dyn Embedder,
    after: i64,
    limit: usize,
    charge: Charge<'_>,
) -> anyhow::Result<Option<Batch>> {
    let dims = embedder.dimensions();
    let batch: Vec<(i64, String)> = conn
        .prepare_cached(&format!(
            "SELECT id, content FROM document_chunks WHERE id > ?3 AND {STALE}
              ORDER BY id LIMIT ?4"
        ))?
        .query_map(
            params![embedder.id(), dims as i64 * 4, after, limit as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<Result<_, _>>()?;
    if batch.is_empty() {
        return Ok(None);
    }
    let texts: Vec<&str> = batch.iter().map(|(_, t)| t.as_str()).collect();
    let vectors = embedder.embed(&texts)?;
    anyhow::ensure!(
        vectors.len() == batch.len(),
        "the embedder returned {} vectors for {} texts",
        vectors.len(),
        batch.len()
    );
    if let Some(v) = vectors
        .iter()
        .find(|v| v.len() != dims || v.iter().any(|x| !x.is_finite()))
    {
        anyhow::bail!(
            "the embedder returned a malformed vector ({} values, expected {dims})",
            v.len()
        );
    }
    let tokens = crate::embed::usage::estimate_tokens(&texts);
    let items: Vec<(i64, Vec<f32>)> = batch.iter().map(|(id, _)| *id).zip(vectors).collect();
    let tx = write_tx(conn)?;
    // A chunk deleted meanwhile simply updates nothing.
    store::set_embeddings(&tx, embedder.id(), &items)?;
    usage::insert(
        &tx,
        &usage_row(embedder, charge.prices, charge.user_id, tokens),
    )?;
    tx.commit()?;
    Ok(Some(Batch {
        ids: items.into_iter().map(|(id, _)| id).collect(),
        tokens,
    }))
}

/// `silo reindex`: labels or re-embeds every stale chunk, then rebuilds and saves the
/// index in `company_dir/vectors`. `progress(done, total)` is called after each batch.
/// Blocking.
pub fn reindex(
    conn: &mut Connection,
    company_dir: &Path,
    embedder: &dyn Embedder,
    charge: Charge<'_>,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<ReindexReport> {
    let mut report = ReindexReport::default();
    let tx = write_tx(conn)?;
    report.adopted = adopt_unlabelled(&tx, company_dir, embedder)?.len();
    tx.commit()?;
    let total = stale_count(conn, embedder)?;
    let mut after = 0i64;
    while let Some(batch) = reembed_next(conn, embedder, after, BATCH, charge)? {
        report.reembedded += batch.ids.len();
        after = *batch.ids.last().expect("a batch is never empty");
        progress(report.reembedded, total);
    }
    // The old dump belongs to another embedder or misses the new vectors: drop its manifest
    // so the open rebuilds from SQLite, then save the new one.
    let dir = company_dir.join(VECTORS_DIR);
    std::fs::create_dir_all(&dir)?;
    match std::fs::remove_file(dir.join(MANIFEST_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let index = VectorIndex::open_or_rebuild(&dir, conn, embedder.id(), embedder.dimensions())?;
    index.dump_if_dirty()?;
    report.indexed = index.len();
    Ok(report)
}
