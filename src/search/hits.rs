//! The result rows of a search.

use rusqlite::Connection;

use crate::store::company::chunks;

/// One result of POST /api/search (public ids only, invariant 7).
#[derive(Clone, Debug, PartialEq)]
pub struct SearchHit {
    /// The chunk's UUID.
    pub chunk_id: String,
    /// The document's UUID.
    pub document_id: String,
    /// The document's title, else its file name.
    pub document_title: String,
    pub content: String,
    pub page_number: Option<i64>,
    pub chunk_index: i64,
    pub score: f64,
}

/// Turns ranked `(chunk id, score)` pairs into result rows, keeping their order; chunks
/// deleted in the meantime are left out.
pub fn load_hits(conn: &Connection, ranked: &[(i64, f64)]) -> rusqlite::Result<Vec<SearchHit>> {
    if ranked.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
    let mut rows = chunks::hit_rows(conn, &ids)?;
    Ok(ranked
        .iter()
        .filter_map(|(id, score)| {
            rows.remove(id).map(|row| SearchHit {
                chunk_id: row.chunk_uuid,
                document_id: row.document_uuid,
                document_title: row.document_title,
                content: row.content,
                page_number: row.page_number,
                chunk_index: row.chunk_index,
                score: *score,
            })
        })
        .collect())
}
