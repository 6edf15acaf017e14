//! The `agent_logs` table: one row per agent run, for auditing and explainability.
//!
//! A log is visible to the user who triggered it, to the owner of the conversation its
//! message belongs to, and to company admins.

use rusqlite::{Connection, OptionalExtension, Row, ToSql, params};
use serde_json::Value;

use super::{Page, Viewer, json_opt, to_json};
use crate::store::db::now;

#[derive(Clone, Debug)]
pub struct AgentLog {
    pub row_id: i64,
    pub uuid: String,
    /// Public id of the message the run belongs to.
    pub message_id: Option<String>,
    pub user_id: Option<String>,
    pub agent_name: String,
    pub agent_type: Option<String>,
    pub action: Option<String>,
    pub input_data: Option<Value>,
    pub output_data: Option<Value>,
    /// Seconds.
    pub execution_time: Option<f64>,
    pub tokens_used: Option<i64>,
    /// `success`, `failed` or `timeout`.
    pub status: String,
    pub error_message: Option<String>,
    pub reasoning: Option<String>,
    pub confidence: Option<f64>,
    pub created_at: String,
}

const COLUMNS: &str = "l.id, l.uuid, m.uuid, l.user_id, l.agent_name, l.agent_type, l.action, \
    l.input_data, l.output_data, l.execution_time, l.tokens_used, l.status, l.error_message, \
    l.reasoning, l.confidence, l.created_at";

const FROM: &str = "agent_logs l LEFT JOIN messages m ON m.id = l.message_id \
    LEFT JOIN conversations c ON c.id = m.conversation_id";

impl AgentLog {
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(AgentLog {
            row_id: row.get(0)?,
            uuid: row.get(1)?,
            message_id: row.get(2)?,
            user_id: row.get(3)?,
            agent_name: row.get(4)?,
            agent_type: row.get(5)?,
            action: row.get(6)?,
            input_data: json_opt(row, 7)?,
            output_data: json_opt(row, 8)?,
            execution_time: row.get(9)?,
            tokens_used: row.get(10)?,
            status: row.get(11)?,
            error_message: row.get(12)?,
            reasoning: row.get(13)?,
            confidence: row.get(14)?,
            created_at: row.get(15)?,
        })
    }
}

/// A validated new log.
#[derive(Clone, Debug, Default)]
pub struct NewAgentLog {
    pub message_id: Option<i64>,
    pub agent_name: String,
    pub agent_type: Option<String>,
    pub action: Option<String>,
    pub input_data: Option<Value>,
    pub output_data: Option<Value>,
    pub execution_time: Option<f64>,
    pub tokens_used: Option<i64>,
    pub status: String,
    pub error_message: Option<String>,
    pub reasoning: Option<String>,
    pub confidence: Option<f64>,
}

pub fn insert(conn: &Connection, uuid: &str, user: &str, l: &NewAgentLog) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO agent_logs (uuid, message_id, user_id, agent_name, agent_type, action,
             input_data, output_data, execution_time, tokens_used, status, error_message,
             reasoning, confidence, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        uuid,
        l.message_id,
        user,
        l.agent_name,
        l.agent_type,
        l.action,
        l.input_data.as_ref().map(to_json),
        l.output_data.as_ref().map(to_json),
        l.execution_time,
        l.tokens_used,
        l.status,
        l.error_message,
        l.reasoning,
        l.confidence,
        now()
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, row_id: i64) -> rusqlite::Result<Option<AgentLog>> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE l.id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([row_id], AgentLog::from_row)
        .optional()
}

/// List filters (validated).
#[derive(Clone, Debug, Default)]
pub struct AgentLogFilter {
    /// Rowid of the message (resolved from its public id by the caller).
    pub message_id: Option<i64>,
    pub agent_type: Option<String>,
    pub status: Option<String>,
}

/// A page of the logs `viewer` may see, newest first.
pub fn list(
    conn: &Connection,
    viewer: &Viewer<'_>,
    filter: &AgentLogFilter,
    page: Page,
) -> rusqlite::Result<(Vec<AgentLog>, u64)> {
    let mut conds: Vec<&str> = Vec::new();
    let mut args: Vec<&dyn ToSql> = Vec::new();
    if !viewer.is_admin {
        conds.push("(l.user_id = ? OR c.user_id = ?)");
        args.push(&viewer.user_uuid);
        args.push(&viewer.user_uuid);
    }
    if let Some(m) = &filter.message_id {
        conds.push("l.message_id = ?");
        args.push(m);
    }
    if let Some(t) = &filter.agent_type {
        conds.push("l.agent_type = ?");
        args.push(t);
    }
    if let Some(s) = &filter.status {
        conds.push("l.status = ?");
        args.push(s);
    }
    let condition = if conds.is_empty() {
        "1".to_string()
    } else {
        conds.join(" AND ")
    };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM {FROM} WHERE {condition}"))?
        .query_row(args.as_slice(), |r| r.get(0))?;
    args.push(&page.limit);
    args.push(&page.offset);
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM} WHERE {condition} ORDER BY l.created_at DESC, l.id DESC LIMIT ? OFFSET ?"
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(args.as_slice(), AgentLog::from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((items, total as u64))
}

/// Rowid of a log by public id, when `viewer` may see it (to link usage rows).
pub fn row_id_visible(
    conn: &Connection,
    viewer: &Viewer<'_>,
    uuid: &str,
) -> rusqlite::Result<Option<i64>> {
    let sql = format!(
        "SELECT l.id FROM {FROM} WHERE l.uuid = ?1 AND (?2 OR l.user_id = ?3 OR c.user_id = ?3)"
    );
    conn.prepare_cached(&sql)?
        .query_row(params![uuid, viewer.is_admin, viewer.user_uuid], |r| {
            r.get(0)
        })
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::company::{conversations, messages, testdb};

    #[test]
    fn filters_and_visibility() {
        let db = testdb::open();
        let c = &db.conn;
        let conv = conversations::insert(c, "c1", "alice", &Default::default()).unwrap();
        let msg = messages::insert(
            c,
            "m1",
            conv,
            &messages::NewMessage {
                role: "user".into(),
                content: "q".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let log = |t: &str, s: &str, m: Option<i64>| NewAgentLog {
            message_id: m,
            agent_name: "ResearchAgent".into(),
            agent_type: Some(t.into()),
            status: s.into(),
            input_data: Some(serde_json::json!({"q": 1})),
            ..Default::default()
        };
        insert(c, "l1", "alice", &log("research", "success", Some(msg))).unwrap();
        insert(c, "l2", "alice", &log("grounding", "failed", None)).unwrap();
        insert(c, "l3", "bob", &log("research", "success", None)).unwrap();
        let alice = Viewer {
            user_uuid: "alice",
            is_admin: false,
        };
        let admin = Viewer {
            user_uuid: "x",
            is_admin: true,
        };
        let all = AgentLogFilter::default();
        assert_eq!(list(c, &alice, &all, Page::default()).unwrap().1, 2);
        assert_eq!(list(c, &admin, &all, Page::default()).unwrap().1, 3);
        let f = AgentLogFilter {
            message_id: Some(msg),
            ..Default::default()
        };
        let (items, total) = list(c, &alice, &f, Page::default()).unwrap();
        assert_eq!(total, 1);
        assert_eq!(items[0].message_id.as_deref(), Some("m1"));
        let f = AgentLogFilter {
            status: Some("failed".into()),
            agent_type: Some("grounding".into()),
            ..Default::default()
        };
        assert_eq!(list(c, &admin, &f, Page::default()).unwrap().1, 1);
        assert!(row_id_visible(c, &alice, "l3").unwrap().is_none());
    }
}
