//! Vector search with a document filter. The HNSW graph knows chunk ids only, so a filter
//! by document is applied one of two ways, whichever is cheaper and still exact about
//! the filter:
//!
//! - few allowed chunks (a search inside a handful of documents): score them exactly from
//!   their stored embeddings in SQLite — no graph walk can beat that, and it cannot miss;
//! - many allowed chunks: over-fetch from the graph, keep hits in allowed documents, and
//!   widen a few times if too few survive; finally a filtered graph search.

use std::collections::HashSet;

use rusqlite::Connection;

use super::SearchError;
use crate::index::{VectorIndex, distance};
use crate::store::company::embeddings;

/// Up to this many allowed chunks are scored exactly instead of through the graph
/// (~4k dot products of 384 floats plus reading their BLOBs: a few milliseconds).
pub const EXACT_MAX_CHUNKS: i64 = 4096;

/// The `k` chunks nearest to `query` as `(chunk id, cosine similarity)`, best first, only
/// from documents in `allowed` when given (`None` = every document).
pub fn vector_search(
    conn: &Connection,
    index: &VectorIndex,
    query: &[f32],
    k: usize,
    ef: usize,
    allowed: Option<&HashSet<i64>>,
) -> Result<Vec<(i64, f32)>, SearchError> {
    search_with_exact_max(conn, index, query, k, ef, allowed, EXACT_MAX_CHUNKS)
}

fn search_with_exact_max(
    conn: &Connection,
    index: &VectorIndex,
    query: &[f32],
    k: usize,
    ef: usize,
    allowed: Option<&HashSet<i64>>,
    exact_max: i64,
) -> Result<Vec<(i64, f32)>, SearchError> {
    let Some(docs) = allowed else {
        return Ok(index.search(query, k, ef, None)?);
    };
    if docs.is_empty() || k == 0 {
        return Ok(Vec::new());
    }
    if index.is_exhaustive() {
        // Every vector is in memory: filter by chunk id, read nothing else from SQLite.
        let chunk_ids = embeddings::chunks_of(conn, docs)?;
        let accept = |id: i64| chunk_ids.contains(&id);
        return Ok(index.search(query, k, ef, Some(&accept))?);
    }
    let allowed_chunks = embeddings::count_in(conn, docs, index.embedder_id())?;
    if allowed_chunks as i64 <= exact_max {
        return exact_search(conn, index, query, k, docs);
    }
    let mut fetch = k * 4;
    for _ in 0..3 {
        let hits = index.search(query, fetch, ef.max(fetch), None)?;
        let exhausted = hits.len() < fetch;
        let owners = embeddings::documents_of(conn, hits.iter().map(|h| h.0))?;
        let kept: Vec<(i64, f32)> = hits
            .into_iter()
            .filter(|(id, _)| owners.get(id).is_some_and(|d| docs.contains(d)))
            .take(k)
            .collect();
        if kept.len() >= k || exhausted {
            return Ok(kept);
        }
        fetch *= 4;
    }
    let chunk_ids: HashSet<i64> = embeddings::chunks_of(conn, docs)?;
    let accept = |id: i64| chunk_ids.contains(&id);
    Ok(index.search(query, k, ef.max(k), Some(&accept))?)
}

/// Exact scores for every chunk of the allowed documents embedded by the index's embedder
/// (read from SQLite, so deleted chunks are never among them).
fn exact_search(
    conn: &Connection,
    index: &VectorIndex,
    query: &[f32],
    k: usize,
    docs: &HashSet<i64>,
) -> Result<Vec<(i64, f32)>, SearchError> {
    let dims = index.dimensions();
    let mut q = query.to_vec();
    if !crate::embed::normalize(&mut q) {
        return Ok(Vec::new());
    }
    let mut scored = Vec::new();
    embeddings::scan_in(conn, docs, index.embedder_id(), dims, |id, mut v| {
        if crate::embed::normalize(&mut v) {
            scored.push((id, distance::dot(&q, &v)));
        }
    })?;
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(k);
    Ok(scored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::migrations::{MigrationSet, migrate};

    /// The graph path (over-fetch, widen, filtered fallback) and the exact path agree on
    /// which chunks a filtered search returns.
    #[test]
    fn graph_path_and_exact_path_agree() {
        let tmp = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(tmp.path().join("c.db")).unwrap();
        migrate(&mut conn, MigrationSet::Company).unwrap();
        let dims = 16;
        for d in 0..20i64 {
            let doc = crate::store::company::testdb::document(&conn);
            let vectors: Vec<Vec<f32>> = (0..15i64)
                .map(|i| {
                    (0..dims)
                        .map(|j| ((d * 31 + i * 7 + j as i64) as f32 * 0.37).sin())
                        .collect()
                })
                .collect();
            crate::store::company::testdb::chunks(&conn, doc, &["x"; 15], Some(("t", &vectors)));
        }
        // Walked, not scored exhaustively: the graph path is what is checked here.
        let walk = crate::index::IndexParams {
            exhaustive_max: 0,
            ..Default::default()
        };
        let index =
            VectorIndex::open_or_rebuild_with(&tmp.path().join("v"), &conn, "t", dims, walk)
                .unwrap();
        assert!(!index.is_exhaustive());
        let q: Vec<f32> = (0..dims).map(|j| (j as f32 * 0.9).cos()).collect();
        // A wide filter (graph path with over-fetch) and a narrow one (widening, then the
        // filtered fallback), each checked against exact scoring.
        for docs in [(1..=15).collect::<HashSet<i64>>(), [3].into()] {
            let exact =
                search_with_exact_max(&conn, &index, &q, 10, 300, Some(&docs), i64::MAX).unwrap();
            let graph = search_with_exact_max(&conn, &index, &q, 10, 300, Some(&docs), 0).unwrap();
            let ids = |v: &[(i64, f32)]| v.iter().map(|h| h.0).collect::<Vec<_>>();
            assert_eq!(ids(&graph), ids(&exact));
            assert_eq!(graph.len(), 10);
        }
    }
}
