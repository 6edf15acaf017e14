//! Reindexing a company for the current embedder: every chunk whose stored vector is
//! missing or was made by another embedder is embedded again (in batches, each batch
//! committed), then the vector index is rebuilt from SQLite and saved.

use rusqlite::{Connection, params};

use crate::db::write_tx;
use crate::embed::Embedder;
use crate::vectors::{VECTORS_DIR, VectorIndex, store};

/// Chunks embedded per call (the local model is fastest at batches of about 8).
const BATCH: usize = 8;

#[derive(Debug, Default, serde::Serialize)]
pub struct ReindexReport {
    pub reembedded: usize,
    pub indexed: usize,
}

/// Chunks whose vector is not from `embedder`.
pub fn stale_count(conn: &Connection, embedder: &dyn Embedder) -> rusqlite::Result<usize> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM document_chunks
          WHERE embedding IS NULL OR embedding_model IS NOT ?1 OR length(embedding) != ?2",
        params![embedder.id(), embedder.dimensions() as i64 * 4],
        |r| r.get(0),
    )?;
    Ok(n as usize)
}

/// Re-embeds stale chunks, then rebuilds and saves the index in `company_dir/vectors`.
/// `progress(done, total)` is called after each batch. Blocking.
pub fn reindex(
    conn: &mut Connection,
    company_dir: &std::path::Path,
    embedder: &dyn Embedder,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<ReindexReport> {
    let total = stale_count(conn, embedder)?;
    let mut report = ReindexReport::default();
    let mut after = 0i64;
    loop {
        let batch: Vec<(i64, String)> = conn
            .prepare_cached(
                "SELECT id, content FROM document_chunks
                  WHERE id > ?1 AND (embedding IS NULL OR embedding_model IS NOT ?2
                                     OR length(embedding) != ?3)
                  ORDER BY id LIMIT ?4",
            )?
            .query_map(
                params![
                    after,
                    embedder.id(),
                    embedder.dimensions() as i64 * 4,
                    BATCH as i64
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<Result<_, _>>()?;
        let Some(&(last, _)) = batch.last() else {
            break;
        };
        let texts: Vec<&str> = batch.iter().map(|(_, t)| t.as_str()).collect();
        let vectors = embedder.embed(&texts)?;
        anyhow::ensure!(
            vectors.len() == batch.len(),
            "the embedder returned {} vectors for {} texts",
            vectors.len(),
            batch.len()
        );
        let tx = write_tx(conn)?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE document_chunks SET embedding = ?2, embedding_model = ?3 WHERE id = ?1",
            )?;
            for ((id, _), v) in batch.iter().zip(&vectors) {
                anyhow::ensure!(
                    v.len() == embedder.dimensions(),
                    "the embedder returned a vector of {} values",
                    v.len()
                );
                stmt.execute(params![id, store::encode_embedding(v), embedder.id()])?;
            }
        }
        tx.commit()?;
        report.reembedded += batch.len();
        after = last;
        progress(report.reembedded, total);
    }
    // The old dump belongs to another embedder or misses the new vectors: drop its manifest
    // so the open rebuilds from SQLite, then save the new one.
    let dir = company_dir.join(VECTORS_DIR);
    std::fs::create_dir_all(&dir)?;
    let manifest = dir.join(crate::vectors::manifest::MANIFEST_FILE);
    if manifest.exists() {
        std::fs::remove_file(&manifest)?;
    }
    let index = VectorIndex::open_or_rebuild(&dir, conn, embedder.id(), embedder.dimensions())?;
    index.dump_if_dirty()?;
    report.indexed = index.len();
    Ok(report)
}
