//! The `conversations` table. A conversation belongs to the user who started it: only that
//! user sees it (chat history is personal), so every read and write is keyed by the owner.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{Page, json_opt, to_json};
use crate::store::db::now;

#[derive(Clone, Debug)]
pub struct Conversation {
    pub row_id: i64,
    pub uuid: String,
    pub title: Option<String>,
    pub user_id: String,
    pub llm_provider: Option<String>,
    pub llm_model: Option<String>,
    /// Document ids retrieval is limited to; null means every document the user may read.
    pub selected_document_ids: Option<Vec<String>>,
    pub message_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "c.id, c.uuid, c.title, c.user_id, c.llm_provider, c.llm_model, \
    c.selected_document_ids, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id), \
    c.created_at, c.updated_at";

impl Conversation {
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Conversation {
            row_id: row.get(0)?,
            uuid: row.get(1)?,
            title: row.get(2)?,
            user_id: row.get(3)?,
            llm_provider: row.get(4)?,
            llm_model: row.get(5)?,
            selected_document_ids: json_opt(row, 6)?,
            message_count: row.get(7)?,
            created_at: row.get(8)?,
            updated_at: row.get(9)?,
        })
    }
}

#[derive(Clone, Debug, Default)]
pub struct NewConversation {
    pub title: Option<String>,
    pub llm_provider: Option<String>,
    pub llm_model: Option<String>,
    pub selected_document_ids: Option<Vec<String>>,
}

pub fn insert(
    conn: &Connection,
    uuid: &str,
    owner: &str,
    c: &NewConversation,
) -> rusqlite::Result<i64> {
    let ts = now();
    conn.prepare_cached(
        "INSERT INTO conversations (uuid, title, user_id, llm_provider, llm_model,
             selected_document_ids, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(params![
        uuid,
        c.title,
        owner,
        c.llm_provider,
        c.llm_model,
        c.selected_document_ids.as_ref().map(to_json),
        ts
    ])?;
    Ok(conn.last_insert_rowid())
}

/// The owner's conversation with this public id.
pub fn get_owned(
    conn: &Connection,
    owner: &str,
    uuid: &str,
) -> rusqlite::Result<Option<Conversation>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM conversations c WHERE c.uuid = ?1 AND c.user_id = ?2 AND c.deleted_at IS NULL"
    );
    conn.prepare_cached(&sql)?
        .query_row(params![uuid, owner], Conversation::from_row)
        .optional()
}

/// The owner's conversations, most recently active first.
pub fn list_owned(
    conn: &Connection,
    owner: &str,
    page: Page,
) -> rusqlite::Result<(Vec<Conversation>, u64)> {
    let total: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM conversations WHERE user_id = ?1 AND deleted_at IS NULL",
        )?
        .query_row([owner], |r| r.get(0))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM conversations c WHERE c.user_id = ?1 AND c.deleted_at IS NULL
         ORDER BY c.updated_at DESC, c.id DESC LIMIT ?2 OFFSET ?3"
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(
            params![owner, page.limit, page.offset],
            Conversation::from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total as u64))
}

/// Changes; `None` keeps a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct ConversationPatch {
    pub title: Option<Option<String>>,
    pub llm_provider: Option<Option<String>>,
    pub llm_model: Option<Option<String>>,
    pub selected_document_ids: Option<Option<Vec<String>>>,
}

pub fn update(conn: &Connection, row_id: i64, p: &ConversationPatch) -> rusqlite::Result<bool> {
    let docs = p
        .selected_document_ids
        .clone()
        .flatten()
        .map(|d| to_json(&d));
    Ok(conn
        .prepare_cached(
            "UPDATE conversations SET
                 title = CASE WHEN ?2 THEN ?3 ELSE title END,
                 llm_provider = CASE WHEN ?4 THEN ?5 ELSE llm_provider END,
                 llm_model = CASE WHEN ?6 THEN ?7 ELSE llm_model END,
                 selected_document_ids = CASE WHEN ?8 THEN ?9 ELSE selected_document_ids END
             WHERE id = ?1",
        )?
        .execute(params![
            row_id,
            p.title.is_some(),
            p.title.clone().flatten(),
            p.llm_provider.is_some(),
            p.llm_provider.clone().flatten(),
            p.llm_model.is_some(),
            p.llm_model.clone().flatten(),
            p.selected_document_ids.is_some(),
            docs
        ])?
        > 0)
}

/// Deletes a conversation; its messages and their agent logs go by cascade, token usage
/// keeps its rows with the links set NULL (billing history survives).
pub fn delete(conn: &Connection, row_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM conversations WHERE id = ?1", [row_id])? > 0)
}

/// Rowid of a conversation by public id, if `viewer` may reach it (its owner, or an admin):
/// to link usage rows.
pub fn row_id_visible(
    conn: &Connection,
    viewer: &super::Viewer<'_>,
    uuid: &str,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT id FROM conversations
          WHERE uuid = ?1 AND (?2 OR user_id = ?3) AND deleted_at IS NULL",
    )?
    .query_row(params![uuid, viewer.is_admin, viewer.user_uuid], |r| {
        r.get(0)
    })
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::company::testdb;

    #[test]
    fn crud_is_owner_scoped() {
        let db = testdb::open();
        let c = &db.conn;
        let new = NewConversation {
            title: Some("Energy".into()),
            selected_document_ids: Some(vec!["d1".into()]),
            ..Default::default()
        };
        let id = insert(c, "c1", "alice", &new).unwrap();
        assert!(get_owned(c, "bob", "c1").unwrap().is_none());
        let got = get_owned(c, "alice", "c1").unwrap().unwrap();
        assert_eq!(got.selected_document_ids, Some(vec!["d1".to_string()]));
        assert_eq!(list_owned(c, "bob", Page::default()).unwrap().1, 0);
        assert_eq!(list_owned(c, "alice", Page::default()).unwrap().1, 1);
        let patch = ConversationPatch {
            title: Some(Some("Renamed".into())),
            selected_document_ids: Some(None),
            ..Default::default()
        };
        assert!(update(c, id, &patch).unwrap());
        let got = get_owned(c, "alice", "c1").unwrap().unwrap();
        assert_eq!(got.title.as_deref(), Some("Renamed"));
        assert_eq!(got.selected_document_ids, None);
        assert!(delete(c, id).unwrap());
        assert!(get_owned(c, "alice", "c1").unwrap().is_none());
    }
}
