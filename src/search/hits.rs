//! Who may see which documents, and the result rows of a search.

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;
use serde::Serialize;

/// Which documents a searcher may read.
#[derive(Clone, Copy, Debug)]
pub enum Visibility<'a> {
    /// Every document of the company (admins, operator tools).
    All,
    /// Company-scope documents plus the ones this user (UUID) uploaded.
    User(&'a str),
}

impl<'a> From<crate::company::Viewer<'a>> for Visibility<'a> {
    fn from(viewer: crate::company::Viewer<'a>) -> Self {
        if viewer.is_admin {
            Visibility::All
        } else {
            Visibility::User(viewer.user_uuid)
        }
    }
}

/// The internal ids of the documents a search may return: those visible under
/// `visibility`, narrowed to `document_uuids` when given (unknown or invisible UUIDs
/// simply match nothing — the route decides whether that is a 404). `None` means "no
/// restriction", which lets searches skip filtering altogether.
pub fn allowed_documents(
    conn: &Connection,
    visibility: Visibility<'_>,
    document_uuids: Option<&[String]>,
) -> rusqlite::Result<Option<HashSet<i64>>> {
    if matches!(visibility, Visibility::All) && document_uuids.is_none() {
        return Ok(None);
    }
    let user = match visibility {
        Visibility::All => None,
        Visibility::User(u) => Some(u),
    };
    let uuids = document_uuids.map(|u| serde_json::to_string(u).expect("uuids"));
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM documents
          WHERE (?1 IS NULL OR scope = 'company' OR uploaded_by = ?1)
            AND (?2 IS NULL OR uuid IN (SELECT value FROM json_each(?2)))",
    )?;
    let ids = stmt
        .query_map(rusqlite::params![user, uuids], |r| r.get(0))?
        .collect::<rusqlite::Result<HashSet<i64>>>()?;
    Ok(Some(ids))
}

/// One result of POST /api/search (public ids only, invariant 7).
#[derive(Clone, Debug, PartialEq, Serialize)]
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
    let json = serde_json::to_string(&ranked.iter().map(|r| r.0).collect::<Vec<_>>()).expect("ids");
    let mut stmt = conn.prepare_cached(
        "SELECT c.id, c.uuid, d.uuid, COALESCE(d.title, d.filename), c.content, c.page_number,
                c.chunk_index
           FROM document_chunks c JOIN documents d ON d.id = c.document_id
          WHERE c.id IN (SELECT value FROM json_each(?1))",
    )?;
    let mut rows: HashMap<i64, SearchHit> = stmt
        .query_map([json], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                SearchHit {
                    chunk_id: r.get(1)?,
                    document_id: r.get(2)?,
                    document_title: r.get(3)?,
                    content: r.get(4)?,
                    page_number: r.get(5)?,
                    chunk_index: r.get(6)?,
                    score: 0.0,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(ranked
        .iter()
        .filter_map(|(id, score)| {
            rows.remove(id).map(|mut hit| {
                hit.score = *score;
                hit
            })
        })
        .collect())
}
