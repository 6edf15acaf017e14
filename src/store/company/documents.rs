//! The `documents` table: uploaded files, their metadata and their processing status.
//!
//! Visibility (the scope rule) is applied in SQL by every read that takes a [`Viewer`]:
//! `company` documents are visible to the whole company, `user` documents to their uploader
//! and company admins. A document the viewer may not see is reported as absent, so its
//! existence never leaks.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};

use super::{Page, Viewer, json_opt, like_contains, to_json};
use crate::store::db::now;

/// A row of `documents`.
#[derive(Clone, Debug)]
pub struct Document {
    pub row_id: i64,
    /// Public id.
    pub uuid: String,
    pub filename: String,
    /// Relative to the company directory (`uploads/<uuid>.<ext>`); never shown.
    pub file_path: String,
    pub file_type: Option<String>,
    pub mime_type: Option<String>,
    pub file_size: Option<i64>,
    pub sha256: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// `company` or `user`.
    pub scope: String,
    /// UUID of the uploader.
    pub uploaded_by: String,
    /// `pending`, `processing`, `completed` or `failed`.
    pub status: String,
    /// Why processing failed.
    pub error: Option<String>,
    pub num_chunks: i64,
    pub num_tokens: i64,
    pub auto_summary: Option<String>,
    pub auto_keywords: Option<Vec<String>>,
    pub auto_topics: Option<Vec<String>>,
    pub content_type: Option<String>,
    pub uploaded_at: String,
    pub updated_at: String,
    pub processed_at: Option<String>,
}

/// Every status a document can have (its processing's state).
pub const STATUSES: &[&str] = &["pending", "processing", "completed", "failed"];

const COLUMNS: &str = "id, uuid, filename, file_path, file_type, mime_type, file_size, sha256, \
    title, description, category, tags, scope, uploaded_by, status, error_message, num_chunks, \
    num_tokens, auto_summary, auto_keywords, auto_topics, content_type, uploaded_at, updated_at, \
    processed_at";

impl Document {
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Document {
            row_id: row.get(0)?,
            uuid: row.get(1)?,
            filename: row.get(2)?,
            file_path: row.get(3)?,
            file_type: row.get(4)?,
            mime_type: row.get(5)?,
            file_size: row.get(6)?,
            sha256: row.get(7)?,
            title: row.get(8)?,
            description: row.get(9)?,
            category: row.get(10)?,
            tags: json_opt(row, 11)?.unwrap_or_default(),
            scope: row.get(12)?,
            uploaded_by: row.get(13)?,
            status: row.get(14)?,
            error: row.get(15)?,
            num_chunks: row.get(16)?,
            num_tokens: row.get(17)?,
            auto_summary: row.get(18)?,
            auto_keywords: json_opt(row, 19)?,
            auto_topics: json_opt(row, 20)?,
            content_type: row.get(21)?,
            uploaded_at: row.get(22)?,
            updated_at: row.get(23)?,
            processed_at: row.get(24)?,
        })
    }
}

/// A validated new document.
#[derive(Clone, Debug)]
pub struct NewDocument {
    pub uuid: String,
    pub filename: String,
    pub file_path: String,
    pub file_type: String,
    pub mime_type: String,
    pub file_size: i64,
    pub sha256: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub scope: String,
    pub uploaded_by: String,
}

/// Inserts a `pending` document; returns its rowid.
pub fn insert(conn: &Connection, doc: &NewDocument) -> rusqlite::Result<i64> {
    let ts = now();
    conn.prepare_cached(
        "INSERT INTO documents (uuid, filename, file_path, file_type, mime_type, file_size, sha256,
             title, description, category, tags, scope, uploaded_by, status, uploaded_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'pending', ?14, ?14)",
    )?
    .execute(params![
        doc.uuid,
        doc.filename,
        doc.file_path,
        doc.file_type,
        doc.mime_type,
        doc.file_size,
        doc.sha256,
        doc.title,
        doc.description,
        doc.category,
        to_json(&doc.tags),
        doc.scope,
        doc.uploaded_by,
        ts
    ])?;
    Ok(conn.last_insert_rowid())
}

/// The SQL condition (and its parameters) that limits rows to what `viewer` may see.
fn visibility<'a>(viewer: &'a Viewer<'a>, args: &mut Vec<&'a dyn ToSql>) -> String {
    args.push(&viewer.is_admin);
    args.push(&viewer.user_uuid);
    super::document_visible("documents", "?", "?")
}

/// The internal ids of the documents `viewer` may see, narrowed to `uuids` when given
/// (unknown or invisible UUIDs simply match nothing). `None` means "no restriction" (an
/// admin without a list), which lets searches skip filtering altogether.
pub fn visible_ids(
    conn: &Connection,
    viewer: &Viewer<'_>,
    uuids: Option<&[String]>,
) -> rusqlite::Result<Option<HashSet<i64>>> {
    if viewer.is_admin && uuids.is_none() {
        return Ok(None);
    }
    visible_column(conn, viewer, uuids, "id").map(Some)
}

/// Of `uuids`, the public ids of the documents `viewer` may see.
pub fn visible_uuids(
    conn: &Connection,
    viewer: &Viewer<'_>,
    uuids: &[String],
) -> rusqlite::Result<HashSet<String>> {
    visible_column(conn, viewer, Some(uuids), "uuid")
}

fn visible_column<T: rusqlite::types::FromSql + Eq + std::hash::Hash>(
    conn: &Connection,
    viewer: &Viewer<'_>,
    uuids: Option<&[String]>,
    column: &str,
) -> rusqlite::Result<HashSet<T>> {
    let uuids = uuids.map(|u| serde_json::to_string(u).expect("uuids"));
    let sql = format!(
        "SELECT {column} FROM documents WHERE {}
            AND (?3 IS NULL OR uuid IN (SELECT value FROM json_each(?3)))",
        super::document_visible("documents", "?1", "?2")
    );
    conn.prepare_cached(&sql)?
        .query_map(params![viewer.is_admin, viewer.user_uuid, uuids], |r| {
            r.get(0)
        })?
        .collect()
}

/// A document by public id, if it exists and `viewer` may see it.
pub fn get_visible(
    conn: &Connection,
    viewer: &Viewer<'_>,
    uuid: &str,
) -> rusqlite::Result<Option<Document>> {
    let mut args: Vec<&dyn ToSql> = vec![&uuid];
    let vis = visibility(viewer, &mut args);
    let sql = format!("SELECT {COLUMNS} FROM documents WHERE uuid = ? AND {vis}");
    conn.prepare_cached(&sql)?
        .query_row(args.as_slice(), Document::from_row)
        .optional()
}

/// A document by rowid, whoever owns it (for the worker).
pub fn get(conn: &Connection, row_id: i64) -> rusqlite::Result<Option<Document>> {
    let sql = format!("SELECT {COLUMNS} FROM documents WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([row_id], Document::from_row)
        .optional()
}

/// List filters; every field is optional and already validated.
#[derive(Clone, Debug, Default)]
pub struct DocumentFilter {
    pub status: Option<String>,
    pub scope: Option<String>,
    pub category: Option<String>,
    /// Substring of title, filename or description.
    pub q: Option<String>,
}

/// A page of the documents `viewer` may see, newest first, and the matching total.
pub fn list(
    conn: &Connection,
    viewer: &Viewer<'_>,
    filter: &DocumentFilter,
    page: Page,
) -> rusqlite::Result<(Vec<Document>, u64)> {
    let pattern = filter.q.as_deref().map(like_contains);
    let mut args: Vec<&dyn ToSql> = Vec::new();
    // Each condition is a fixed SQL fragment with a placeholder: input is only ever bound.
    let vis = visibility(viewer, &mut args);
    let mut conds = vec![vis.as_str()];
    if let Some(status) = &filter.status {
        conds.push("status = ?");
        args.push(status);
    }
    if let Some(scope) = &filter.scope {
        conds.push("scope = ?");
        args.push(scope);
    }
    if let Some(category) = &filter.category {
        conds.push("category = ?");
        args.push(category);
    }
    if let Some(pattern) = &pattern {
        conds.push(
            "(title LIKE ? ESCAPE '\\' OR filename LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')",
        );
        args.extend([pattern as &dyn ToSql, pattern, pattern]);
    }
    let condition = conds.join(" AND ");
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM documents WHERE {condition}"))?
        .query_row(args.as_slice(), |r| r.get(0))?;
    let (limit, offset) = (page.limit, page.offset);
    args.push(&limit);
    args.push(&offset);
    let sql = format!(
        "SELECT {COLUMNS} FROM documents WHERE {condition}
         ORDER BY uploaded_at DESC, id DESC LIMIT ? OFFSET ?"
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(args.as_slice(), Document::from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total as u64))
}

/// Metadata changes; `None` leaves a field as it is, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct DocumentPatch {
    pub title: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub category: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub scope: Option<String>,
}

/// Applies `patch` to document `row_id`; returns false when it no longer exists.
pub fn update_metadata(
    conn: &Connection,
    row_id: i64,
    patch: &DocumentPatch,
) -> rusqlite::Result<bool> {
    let tags = patch.tags.as_ref().map(to_json);
    let changed = conn
        .prepare_cached(
            "UPDATE documents SET
                 title       = CASE WHEN ?2 THEN ?3 ELSE title END,
                 description = CASE WHEN ?4 THEN ?5 ELSE description END,
                 category    = CASE WHEN ?6 THEN ?7 ELSE category END,
                 tags        = COALESCE(?8, tags),
                 scope       = COALESCE(?9, scope),
                 updated_at  = ?10
             WHERE id = ?1",
        )?
        .execute(params![
            row_id,
            patch.title.is_some(),
            patch.title.clone().flatten(),
            patch.description.is_some(),
            patch.description.clone().flatten(),
            patch.category.is_some(),
            patch.category.clone().flatten(),
            tags,
            patch.scope,
            now()
        ])?;
    Ok(changed > 0)
}

/// Deletes document `row_id`. Its chunks (and their FTS rows, through the chunk triggers)
/// and its jobs go with it by cascade. Returns whether a row was deleted.
pub fn delete(conn: &Connection, row_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM documents WHERE id = ?1", [row_id])? > 0)
}

/// Every document's stored file path (relative to the company directory), by id.
pub fn file_paths(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT file_path FROM documents ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect()
}

/// Moves a document to `processing` and clears a previous error.
pub fn mark_processing(conn: &Connection, row_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE documents SET status = 'processing', error_message = NULL, updated_at = ?2
         WHERE id = ?1",
        params![row_id, now()],
    )? > 0)
}

/// Sets a document back to `pending` (a job interrupted by a restart will run again).
pub fn mark_pending(conn: &Connection, row_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE documents SET status = 'pending', updated_at = ?2 WHERE id = ?1",
        params![row_id, now()],
    )? > 0)
}

/// Records a successful processing run.
pub fn mark_completed(
    conn: &Connection,
    row_id: i64,
    num_chunks: i64,
    num_tokens: i64,
) -> rusqlite::Result<bool> {
    let ts = now();
    Ok(conn.execute(
        "UPDATE documents SET status = 'completed', error_message = NULL, num_chunks = ?2,
             num_tokens = ?3, processed_at = ?4, updated_at = ?4
         WHERE id = ?1",
        params![row_id, num_chunks, num_tokens, ts],
    )? > 0)
}

/// Records a failed processing run and why.
pub fn mark_failed(conn: &Connection, row_id: i64, error: &str) -> rusqlite::Result<bool> {
    let ts = now();
    Ok(conn.execute(
        "UPDATE documents SET status = 'failed', error_message = ?2, num_chunks = 0,
             num_tokens = 0, processed_at = ?3, updated_at = ?3
         WHERE id = ?1",
        params![row_id, error, ts],
    )? > 0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::company::{chunks, testdb};

    pub(crate) fn new_doc(user: &str, scope: &str, title: &str) -> NewDocument {
        let uuid = crate::store::company::new_uuid();
        NewDocument {
            file_path: format!("uploads/{uuid}.txt"),
            uuid,
            filename: format!("{title}.txt"),
            file_type: "txt".into(),
            mime_type: "text/plain".into(),
            file_size: 10,
            sha256: "a".repeat(64),
            title: Some(title.into()),
            description: None,
            category: Some("reports".into()),
            tags: vec!["q3".into()],
            scope: scope.into(),
            uploaded_by: user.into(),
        }
    }

    #[test]
    fn scope_rule_applies_to_get_and_list() {
        let db = testdb::open();
        let c = &db.conn;
        let a_private = new_doc("alice", "user", "alice private");
        let a_shared = new_doc("alice", "company", "alice shared");
        insert(c, &a_private).unwrap();
        insert(c, &a_shared).unwrap();
        let bob = Viewer {
            user_uuid: "bob",
            is_admin: false,
        };
        let alice = Viewer {
            user_uuid: "alice",
            is_admin: false,
        };
        let admin = Viewer {
            user_uuid: "root",
            is_admin: true,
        };
        assert!(get_visible(c, &bob, &a_private.uuid).unwrap().is_none());
        assert!(get_visible(c, &bob, &a_shared.uuid).unwrap().is_some());
        assert!(get_visible(c, &alice, &a_private.uuid).unwrap().is_some());
        assert!(get_visible(c, &admin, &a_private.uuid).unwrap().is_some());
        let f = DocumentFilter::default();
        assert_eq!(list(c, &bob, &f, Page::default()).unwrap().1, 1);
        assert_eq!(list(c, &alice, &f, Page::default()).unwrap().1, 2);
        assert_eq!(list(c, &admin, &f, Page::default()).unwrap().1, 2);
    }

    #[test]
    fn filters_and_search_escape_like_wildcards() {
        let db = testdb::open();
        let c = &db.conn;
        insert(c, &new_doc("u", "company", "Energy 100% report")).unwrap();
        insert(c, &new_doc("u", "company", "Energy plan")).unwrap();
        let v = Viewer {
            user_uuid: "u",
            is_admin: false,
        };
        let q = |q: &str| DocumentFilter {
            q: Some(q.into()),
            ..Default::default()
        };
        assert_eq!(list(c, &v, &q("100%"), Page::default()).unwrap().1, 1);
        assert_eq!(list(c, &v, &q("%"), Page::default()).unwrap().1, 1);
        assert_eq!(list(c, &v, &q("energy"), Page::default()).unwrap().1, 2);
        let status = DocumentFilter {
            status: Some("completed".into()),
            ..Default::default()
        };
        assert_eq!(list(c, &v, &status, Page::default()).unwrap().1, 0);
        let (items, total) = list(
            c,
            &v,
            &DocumentFilter::default(),
            Page {
                limit: 1,
                offset: 1,
            },
        )
        .unwrap();
        assert_eq!((items.len(), total), (1, 2));
    }

    #[test]
    fn patch_and_delete_cascade_to_chunks_and_fts() {
        let db = testdb::open();
        let c = &db.conn;
        let d = new_doc("u", "user", "t");
        let id = insert(c, &d).unwrap();
        let patch = DocumentPatch {
            title: Some(None),
            tags: Some(vec!["x".into(), "y".into()]),
            scope: Some("company".into()),
            ..Default::default()
        };
        assert!(update_metadata(c, id, &patch).unwrap());
        let got = get(c, id).unwrap().unwrap();
        assert_eq!(got.title, None);
        assert_eq!(got.tags, vec!["x", "y"]);
        assert_eq!(got.scope, "company");
        assert_eq!(got.category.as_deref(), Some("reports"));
        let drafts = vec![chunks::NewChunk {
            content: "solar panels on the roof".into(),
            chunk_index: 0,
            page_number: None,
            section: None,
            token_count: 5,
            embedding: None,
            embedding_model: None,
        }];
        chunks::insert_many(c, id, &drafts).unwrap();
        let fts = |c: &Connection| -> i64 {
            c.query_row(
                "SELECT COUNT(*) FROM document_chunks_fts WHERE document_chunks_fts MATCH 'solar'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(fts(c), 1);
        assert!(delete(c, id).unwrap());
        assert_eq!(fts(c), 0);
        let left: i64 = c
            .query_row("SELECT COUNT(*) FROM document_chunks", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
        assert!(!delete(c, id).unwrap());
    }
}
