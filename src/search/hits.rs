//! The result rows of a search.

use std::collections::HashMap;

use rusqlite::Connection;

use super::Source;

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
    /// The searcher's company, or the library.
    pub source: Source,
}

/// Turns ranked `(chunk id, score)` pairs of `source` into result rows, keeping their
/// order; chunks deleted in the meantime are left out.
pub fn load_hits(
    conn: &Connection,
    ranked: &[(i64, f64)],
    source: Source,
) -> rusqlite::Result<Vec<SearchHit>> {
    let ids: Vec<i64> = ranked.iter().map(|r| r.0).collect();
    let mut rows = rows(conn, &ids, source)?;
    Ok(ranked
        .iter()
        .filter_map(|(id, score)| rows.remove(id).map(|row| row.scored(*score)))
        .collect())
}

/// The result rows of chunks `ids` of `source` by chunk id, their score not yet set.
pub(super) fn rows(
    conn: &Connection,
    ids: &[i64],
    source: Source,
) -> rusqlite::Result<HashMap<i64, SearchHit>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(chunks::hit_rows(conn, ids)?
        .into_iter()
        .map(|(id, row)| {
            let hit = SearchHit {
                chunk_id: row.chunk_uuid,
                document_id: row.document_uuid,
                document_title: row.document_title,
                content: row.content,
                page_number: row.page_number,
                chunk_index: row.chunk_index,
                score: 0.0,
                source,
            };
            (id, hit)
        })
        .collect())
}

impl SearchHit {
    pub(super) fn scored(self, score: f64) -> SearchHit {
        SearchHit { score, ..self }
    }
}
