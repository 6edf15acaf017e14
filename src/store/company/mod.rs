//! Repositories of the company database: free functions over `&Connection`, one module per
//! table, each row type with a `from_row`. They never choose a database themselves: callers
//! reach the connection through `tenant::context`, so every query here runs against the
//! current company's file (invariant 1).

pub mod agent_logs;
pub mod chunks;
pub mod conversations;
pub mod documents;
pub mod embeddings;
pub mod jobs;
pub mod messages;
pub mod profile;
pub mod reports;
pub mod stats;
pub mod trash;
pub mod usage;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};
use serde::Serialize;

/// Default and largest page size of every list (API contract).
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// A validated page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub offset: u32,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// One page of a list and the number of rows matching the filter, in the API's list shape.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

impl<T> Listing<T> {
    pub fn new(items: Vec<T>, total: u64, page: Page) -> Self {
        Listing {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        }
    }

    /// The same page with each item converted (a row into its response view).
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Listing<U> {
        Listing {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// Who may see what: `user`-scoped documents are visible to their uploader and to company
/// admins only; conversations (and their messages) to their owner only. Saved reports are
/// shared with the whole company: they are what analysts publish for everyone to read.
#[derive(Clone, Copy, Debug)]
pub struct Viewer<'a> {
    pub user_uuid: &'a str,
    pub is_admin: bool,
}

impl Viewer<'static> {
    /// Sees every row of the company (operator tools, background work).
    pub const EVERYTHING: Viewer<'static> = Viewer {
        user_uuid: "",
        is_admin: true,
    };
}

/// The one document-visibility rule, as an SQL condition on the `documents` row `doc`
/// (a table name or alias): true when the placeholder `admin` (the viewer is a company
/// admin) is, when the document is company-scoped, or when `user` (the viewer's UUID)
/// uploaded it, and the document is not in the trash. Every read that filters documents by
/// viewer uses it.
pub(crate) fn document_visible(doc: &str, admin: &str, user: &str) -> String {
    format!(
        "(({admin} OR {doc}.scope = 'company' OR {doc}.uploaded_by = {user}) \
         AND {doc}.deleted_at IS NULL)"
    )
}

/// A JSON column read as a parsed value. The schema guards these with json_valid(), so a
/// parse failure means the file was edited by hand; it surfaces as a conversion error.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JsonCol<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromSql for JsonCol<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        serde_json::from_str(text)
            .map(JsonCol)
            .map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// Reads an optional JSON column.
pub(crate) fn json_opt<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<T>> {
    Ok(row.get::<_, Option<JsonCol<T>>>(idx)?.map(|j| j.0))
}

/// Serialises a value for a JSON column (values built from serde types cannot fail).
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("serialising a JSON value")
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern and wraps it in `%`.
pub(crate) fn like_contains(needle: &str) -> String {
    let mut out = String::with_capacity(needle.len() + 2);
    out.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A new public id.
pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new public id that sorts by creation time (UUIDv7), for append-heavy tables: its
/// UNIQUE index grows at the end instead of touching a random page per insert, which keeps
/// each commit's WAL pages (and checkpoints) few. It reveals the creation time, which such
/// rows show in `created_at` anyway.
pub(crate) fn new_time_ordered_uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// A temporary company database migrated to the current schema, for repository tests.
#[cfg(test)]
pub(crate) mod testdb {
    use rusqlite::Connection;

    use crate::store::db::migrations::{MigrationSet, migrate};

    pub struct TestDb {
        pub conn: Connection,
        _dir: tempfile::TempDir,
    }

    pub fn open() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("company.db")).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL;")
            .unwrap();
        migrate(&mut conn, MigrationSet::Company).unwrap();
        TestDb { conn, _dir: dir }
    }

    /// Inserts a company-scoped document of user `u`; returns its rowid.
    pub fn document(conn: &Connection) -> i64 {
        let uuid = super::new_uuid();
        let doc = super::documents::NewDocument {
            file_path: format!("uploads/{uuid}.txt"),
            uuid,
            filename: "a.txt".into(),
            file_type: "txt".into(),
            mime_type: "text/plain".into(),
            file_size: 1,
            sha256: "a".repeat(64),
            title: None,
            description: None,
            category: None,
            tags: Vec::new(),
            scope: "company".into(),
            uploaded_by: "u".into(),
        };
        super::documents::insert(conn, &doc).unwrap()
    }

    /// Inserts chunks of `document` with the given texts (and, when given, vectors of
    /// `embedder`); returns their rowids.
    pub fn chunks(
        conn: &Connection,
        document: i64,
        texts: &[&str],
        vectors: Option<(&str, &[Vec<f32>])>,
    ) -> Vec<i64> {
        let new: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| super::chunks::NewChunk {
                content: text.to_string(),
                chunk_index: i as i64,
                page_number: None,
                section: None,
                token_count: 1,
                embedding: vectors.map(|(_, v)| super::chunks::encode_embedding(&v[i])),
                embedding_model: vectors.map(|(model, _)| model.to_string()),
            })
            .collect();
        super::chunks::insert_many(conn, document, &new).unwrap()
    }
}
