//! The `document_chunks` table: the pieces of text that search and answers cite. Inserting a
//! chunk also indexes it for keyword search (the FTS triggers in the schema); embeddings are
//! stored beside the text as little-endian f32 BLOBs, the source of truth for the vector
//! index (invariant 3).

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, Row, params};

use super::Page;
use crate::store::db::now;

/// A row of `document_chunks`, without its embedding (large, and read only by the index).
#[derive(Clone, Debug)]
pub struct Chunk {
    pub row_id: i64,
    pub uuid: String,
    pub content: String,
    pub chunk_index: i64,
    pub page_number: Option<i64>,
    pub section: Option<String>,
    pub token_count: Option<i64>,
    /// Whether the chunk has a stored embedding (is searchable by vector).
    pub embedded: bool,
    pub created_at: String,
}

impl Chunk {
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Chunk {
            row_id: row.get(0)?,
            uuid: row.get(1)?,
            content: row.get(2)?,
            chunk_index: row.get(3)?,
            page_number: row.get(4)?,
            section: row.get(5)?,
            token_count: row.get(6)?,
            embedded: row.get(7)?,
            created_at: row.get(8)?,
        })
    }
}

/// A chunk to insert.
#[derive(Clone, Debug, PartialEq)]
pub struct NewChunk {
    pub content: String,
    pub chunk_index: i64,
    pub page_number: Option<i64>,
    pub section: Option<String>,
    pub token_count: i64,
    /// Already encoded with [`encode_embedding`].
    pub embedding: Option<Vec<u8>>,
    /// Id of the embedder that made `embedding` (search skips vectors of another model).
    pub embedding_model: Option<String>,
}

pub use super::embeddings::encode_embedding;

/// Inserts chunks of document `document_id` (call inside the caller's write transaction, so
/// chunks, FTS rows and the document's status commit together). Returns the new rowids.
pub fn insert_many(
    conn: &Connection,
    document_id: i64,
    chunks: &[NewChunk],
) -> rusqlite::Result<Vec<i64>> {
    let ts = now();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO document_chunks (uuid, document_id, content, chunk_index, page_number,
             section, token_count, embedding, embedding_model, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut ids = Vec::with_capacity(chunks.len());
    for c in chunks {
        stmt.execute(params![
            super::new_time_ordered_uuid(),
            document_id,
            c.content,
            c.chunk_index,
            c.page_number,
            c.section,
            c.token_count,
            c.embedding,
            c.embedding.as_ref().and(c.embedding_model.as_ref()),
            ts
        ])?;
        ids.push(conn.last_insert_rowid());
    }
    Ok(ids)
}

/// Removes every chunk of a document (a re-run starts from scratch). Returns the removed
/// rowids, which the vector index must tombstone.
pub fn delete_for_document(conn: &Connection, document_id: i64) -> rusqlite::Result<Vec<i64>> {
    let ids = ids_for_document(conn, document_id)?;
    conn.execute(
        "DELETE FROM document_chunks WHERE document_id = ?1",
        [document_id],
    )?;
    Ok(ids)
}

/// Rowids of a document's chunks, in order.
pub fn ids_for_document(conn: &Connection, document_id: i64) -> rusqlite::Result<Vec<i64>> {
    conn.prepare_cached(
        "SELECT id FROM document_chunks WHERE document_id = ?1 ORDER BY chunk_index",
    )?
    .query_map([document_id], |r| r.get(0))?
    .collect()
}

/// A page of a document's chunks in reading order and the document's chunk count.
pub fn list_for_document(
    conn: &Connection,
    document_id: i64,
    page: Page,
) -> rusqlite::Result<(Vec<Chunk>, u64)> {
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM document_chunks WHERE document_id = ?1")?
        .query_row([document_id], |r| r.get(0))?;
    let items = conn
        .prepare_cached(
            "SELECT id, uuid, content, chunk_index, page_number, section, token_count,
                    embedding IS NOT NULL, created_at
             FROM document_chunks WHERE document_id = ?1
             ORDER BY chunk_index LIMIT ?2 OFFSET ?3",
        )?
        .query_map(
            params![document_id, page.limit, page.offset],
            Chunk::from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total as u64))
}

/// What a search result shows of a chunk and its document.
#[derive(Clone, Debug)]
pub struct HitRow {
    pub chunk_uuid: String,
    pub document_uuid: String,
    /// The document's title, else its file name.
    pub document_title: String,
    pub content: String,
    pub page_number: Option<i64>,
    pub chunk_index: i64,
}

/// The result rows of the given chunks by rowid (chunks deleted meanwhile are absent).
pub fn hit_rows(conn: &Connection, ids: &[i64]) -> rusqlite::Result<HashMap<i64, HitRow>> {
    let json = serde_json::to_string(ids).expect("ids");
    conn.prepare_cached(
        "SELECT c.id, c.uuid, d.uuid, COALESCE(d.title, d.filename), c.content, c.page_number,
                c.chunk_index
           FROM document_chunks c JOIN documents d ON d.id = c.document_id
          WHERE c.id IN (SELECT value FROM json_each(?1)) AND d.deleted_at IS NULL",
    )?
    .query_map([json], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            HitRow {
                chunk_uuid: r.get(1)?,
                document_uuid: r.get(2)?,
                document_title: r.get(3)?,
                content: r.get(4)?,
                page_number: r.get(5)?,
                chunk_index: r.get(6)?,
            },
        ))
    })?
    .collect()
}

/// The `k` best chunks for the FTS5 query `fts` by BM25 as `(chunk id, -bm25)`, best first;
/// `allowed` restricts them to those document ids.
pub fn fts_match(
    conn: &Connection,
    fts: &str,
    k: usize,
    allowed: Option<&HashSet<i64>>,
) -> rusqlite::Result<Vec<(i64, f64)>> {
    let k = k as i64;
    let map = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)?, -r.get::<_, f64>(1)?));
    match allowed {
        None => conn
            .prepare_cached(
                "SELECT rowid, bm25(document_chunks_fts) FROM document_chunks_fts
                  WHERE document_chunks_fts MATCH ?1 AND rowid NOT IN (SELECT id FROM trashed_chunks)
                  ORDER BY bm25(document_chunks_fts) LIMIT ?2",
            )?
            .query_map(params![fts, k], map)?
            .collect(),
        Some(docs) => {
            let docs = serde_json::to_string(&docs.iter().collect::<Vec<_>>()).expect("ids");
            conn.prepare_cached(
                "SELECT f.rowid, bm25(document_chunks_fts) FROM document_chunks_fts f
                   JOIN document_chunks c ON c.id = f.rowid
                  WHERE document_chunks_fts MATCH ?1
                    AND c.document_id IN (SELECT value FROM json_each(?3))
                  ORDER BY bm25(document_chunks_fts) LIMIT ?2",
            )?
            .query_map(params![fts, k, docs], map)?
            .collect()
        }
    }
}

/// Up to `k` chunks matching the FTS5 query `fts`, in the index's order (no ranking: this
/// stops after `k` rows, where ranking scores every match); `allowed` as in [`fts_match`].
pub fn fts_unranked(
    conn: &Connection,
    fts: &str,
    k: usize,
    allowed: Option<&HashSet<i64>>,
) -> rusqlite::Result<Vec<i64>> {
    let k = k as i64;
    match allowed {
        None => conn
            .prepare_cached(
                "SELECT rowid FROM document_chunks_fts WHERE document_chunks_fts MATCH ?1
                  AND rowid NOT IN (SELECT id FROM trashed_chunks) LIMIT ?2",
            )?
            .query_map(params![fts, k], |r| r.get(0))?
            .collect(),
        Some(docs) => {
            let docs = serde_json::to_string(&docs.iter().collect::<Vec<_>>()).expect("ids");
            conn.prepare_cached(
                "SELECT f.rowid FROM document_chunks_fts f
                   JOIN document_chunks c ON c.id = f.rowid
                  WHERE document_chunks_fts MATCH ?1
                    AND c.document_id IN (SELECT value FROM json_each(?3))
                  LIMIT ?2",
            )?
            .query_map(params![fts, k, docs], |r| r.get(0))?
            .collect()
        }
    }
}

/// How many chunks match the FTS5 query `fts`, counted up to `limit` (the scan stops
/// there, so a common word costs no more than a rare one).
pub fn fts_count_upto(conn: &Connection, fts: &str, limit: usize) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "SELECT count(*) FROM (SELECT rowid FROM document_chunks_fts
          WHERE document_chunks_fts MATCH ?1 LIMIT ?2)",
    )?
    .query_row(params![fts, limit as i64], |r| r.get::<_, i64>(0))
    .map(|n| n as usize)
}

/// The highest chunk id: at least the number of chunks, found without counting them.
pub fn max_id(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT coalesce(max(id), 0) FROM document_chunks")?
        .query_row([], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::company::{documents, testdb};

    #[test]
    fn insert_list_and_embeddings_round_trip() {
        let db = testdb::open();
        let c = &db.conn;
        let doc = documents::insert(c, &documents::tests::new_doc("u", "user", "t")).unwrap();
        let v = [0.5f32, -1.25, 3.0];
        let chunks: Vec<NewChunk> = (0..3)
            .map(|i| NewChunk {
                content: format!("chunk {i}"),
                chunk_index: i,
                page_number: Some(i + 1),
                section: None,
                token_count: 2,
                embedding: (i == 0).then(|| encode_embedding(&v)),
                embedding_model: Some("test-model".into()),
            })
            .collect();
        let ids = insert_many(c, doc, &chunks).unwrap();
        assert_eq!(ids.len(), 3);
        let (page, total) = list_for_document(
            c,
            doc,
            Page {
                limit: 2,
                offset: 1,
            },
        )
        .unwrap();
        assert_eq!(total, 3);
        assert_eq!(page[0].chunk_index, 1);
        assert_eq!(page[0].page_number, Some(2));
        assert!(!page[0].embedded);
        let blob: Vec<u8> = c
            .query_row(
                "SELECT embedding FROM document_chunks WHERE id = ?1",
                [ids[0]],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            super::super::embeddings::decode_embedding(&blob, v.len()),
            Some(v.to_vec())
        );
        assert_eq!(delete_for_document(c, doc).unwrap(), ids);
        assert_eq!(list_for_document(c, doc, Page::default()).unwrap().1, 0);
    }
}
