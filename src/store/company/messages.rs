//! The `messages` table with the RAG fields of seed 001 (retrieved documents, sources,
//! reasoning chain, grounding evidence, agents involved, confidence). The JSON shapes are
//! checked before they get here (http layer); the schema checks they are valid JSON.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::Value;

use super::{Page, json_opt, to_json};
use crate::store::db::now;

/// Below this confidence an answer carries a low-confidence warning (seed 001).
pub const LOW_CONFIDENCE_THRESHOLD: f64 = 0.30;

#[derive(Clone, Debug)]
pub struct Message {
    pub row_id: i64,
    pub uuid: String,
    pub conversation_id: String,
    /// `user`, `assistant` or `system`.
    pub role: String,
    pub content: String,
    pub retrieved_documents: Option<Value>,
    pub sources: Option<Value>,
    pub confidence_score: Option<f64>,
    pub low_confidence_warning: bool,
    pub reasoning_chain: Option<Value>,
    pub grounding_evidence: Option<Value>,
    pub agents_involved: Option<Vec<String>>,
    pub created_at: String,
}

const COLUMNS: &str = "m.id, m.uuid, c.uuid, m.role, m.content, m.retrieved_documents, m.sources, \
    m.confidence_score, m.low_confidence_warning, m.reasoning_chain, m.grounding_evidence, \
    m.agents_involved, m.created_at";

impl Message {
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Message {
            row_id: row.get(0)?,
            uuid: row.get(1)?,
            conversation_id: row.get(2)?,
            role: row.get(3)?,
            content: row.get(4)?,
            retrieved_documents: json_opt(row, 5)?,
            sources: json_opt(row, 6)?,
            confidence_score: row.get(7)?,
            low_confidence_warning: row.get(8)?,
            reasoning_chain: json_opt(row, 9)?,
            grounding_evidence: json_opt(row, 10)?,
            agents_involved: json_opt(row, 11)?,
            created_at: row.get(12)?,
        })
    }
}

/// A validated new message.
#[derive(Clone, Debug, Default)]
pub struct NewMessage {
    pub role: String,
    pub content: String,
    pub retrieved_documents: Option<Value>,
    pub sources: Option<Value>,
    pub confidence_score: Option<f64>,
    pub reasoning_chain: Option<Value>,
    pub grounding_evidence: Option<Value>,
    pub agents_involved: Option<Vec<String>>,
}

/// Inserts a message; the low-confidence flag is derived here from the score and stored,
/// so the warning a user saw survives a later change of threshold.
pub fn insert(
    conn: &Connection,
    uuid: &str,
    conversation_id: i64,
    m: &NewMessage,
) -> rusqlite::Result<i64> {
    let low = m
        .confidence_score
        .is_some_and(|s| s < LOW_CONFIDENCE_THRESHOLD);
    conn.prepare_cached(
        "INSERT INTO messages (uuid, conversation_id, role, content, retrieved_documents, sources,
             confidence_score, low_confidence_warning, reasoning_chain, grounding_evidence,
             agents_involved, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        uuid,
        conversation_id,
        m.role,
        m.content,
        m.retrieved_documents.as_ref().map(to_json),
        m.sources.as_ref().map(to_json),
        m.confidence_score,
        low,
        m.reasoning_chain.as_ref().map(to_json),
        m.grounding_evidence.as_ref().map(to_json),
        m.agents_involved.as_ref().map(to_json),
        now()
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, row_id: i64) -> rusqlite::Result<Option<Message>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.id = ?1"
    );
    conn.prepare_cached(&sql)?
        .query_row([row_id], Message::from_row)
        .optional()
}

/// A page of a conversation's messages, oldest first.
pub fn list_for_conversation(
    conn: &Connection,
    conversation_id: i64,
    page: Page,
) -> rusqlite::Result<(Vec<Message>, u64)> {
    let total: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM messages WHERE conversation_id = ?1")?
        .query_row([conversation_id], |r| r.get(0))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.conversation_id = ?1 ORDER BY m.created_at, m.id LIMIT ?2 OFFSET ?3"
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(
            params![conversation_id, page.limit, page.offset],
            Message::from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total as u64))
}

/// Rowid of a message by public id, if `viewer` may reach it (its conversation's owner, or
/// an admin): to link usage rows and agent logs.
pub fn row_id_visible(
    conn: &Connection,
    viewer: &super::Viewer<'_>,
    uuid: &str,
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(
        "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.uuid = ?1 AND (?2 OR c.user_id = ?3) AND c.deleted_at IS NULL",
    )?
    .query_row(params![uuid, viewer.is_admin, viewer.user_uuid], |r| {
        r.get(0)
    })
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::company::{conversations, testdb};
    use serde_json::json;

    #[test]
    fn rag_fields_round_trip_and_low_confidence_is_derived() {
        let db = testdb::open();
        let c = &db.conn;
        let conv = conversations::insert(c, "c1", "u", &Default::default()).unwrap();
        let m = NewMessage {
            role: "assistant".into(),
            content: "answer".into(),
            sources: Some(json!([{"id": "d", "relevance_score": 0.9}])),
            confidence_score: Some(0.29),
            grounding_evidence: Some(json!({"score": 0.5})),
            agents_involved: Some(vec!["ResearchAgent".into()]),
            ..Default::default()
        };
        let id = insert(c, "m1", conv, &m).unwrap();
        let got = get(c, id).unwrap().unwrap();
        assert!(got.low_confidence_warning);
        assert_eq!(got.sources, m.sources);
        assert_eq!(got.conversation_id, "c1");
        let high = NewMessage {
            confidence_score: Some(0.30),
            ..m.clone()
        };
        let id2 = insert(c, "m2", conv, &high).unwrap();
        assert!(!get(c, id2).unwrap().unwrap().low_confidence_warning);
        assert_eq!(
            list_for_conversation(c, conv, Page::default()).unwrap().1,
            2
        );
        let viewer = |user_uuid, is_admin| crate::store::company::Viewer {
            user_uuid,
            is_admin,
        };
        assert_eq!(
            row_id_visible(c, &viewer("u", false), "m1").unwrap(),
            Some(id)
        );
        assert_eq!(
            row_id_visible(c, &viewer("other", false), "m1").unwrap(),
            None
        );
        assert_eq!(
            row_id_visible(c, &viewer("other", true), "m1").unwrap(),
            Some(id)
        );
    }
}
