//! The `token_usage` table: every model call's tokens and estimated cost, and the summary
//! that aggregates them.
//!
//! The summary's GROUP BY is built from [`GroupKey`]s, each mapped to a fixed column
//! expression: request input chooses among those names and is never interpolated into SQL.
//! Both the range filter and every grouped or summed column are covered by
//! `idx_token_usage_summary`, so a summary over millions of rows never touches the table.

use rusqlite::{Connection, Row, ToSql, params};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::now;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UsageRecord {
    #[serde(skip)]
    pub row_id: i64,
    #[serde(rename = "id")]
    pub uuid: String,
    pub user_id: String,
    pub conversation_id: Option<String>,
    pub message_id: Option<String>,
    pub agent_log_id: Option<String>,
    pub provider: String,
    pub model: String,
    pub operation_type: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub embedding_tokens: i64,
    pub estimated_cost: f64,
    pub currency: String,
    pub created_at: String,
}

impl UsageRecord {
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(UsageRecord {
            row_id: row.get(0)?,
            uuid: row.get(1)?,
            user_id: row.get(2)?,
            conversation_id: row.get(3)?,
            message_id: row.get(4)?,
            agent_log_id: row.get(5)?,
            provider: row.get(6)?,
            model: row.get(7)?,
            operation_type: row.get(8)?,
            prompt_tokens: row.get(9)?,
            completion_tokens: row.get(10)?,
            total_tokens: row.get(11)?,
            embedding_tokens: row.get(12)?,
            estimated_cost: row.get(13)?,
            currency: row.get(14)?,
            created_at: row.get(15)?,
        })
    }
}

/// A validated usage row; ids of linked rows are already resolved to rowids.
#[derive(Clone, Debug, Default)]
pub struct NewUsage {
    pub uuid: String,
    pub user_id: String,
    pub conversation_id: Option<i64>,
    pub message_id: Option<i64>,
    pub agent_log_id: Option<i64>,
    pub provider: String,
    pub model: String,
    pub operation_type: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub embedding_tokens: i64,
    pub estimated_cost: f64,
    pub currency: String,
    pub created_at: String,
}

impl NewUsage {
    /// Total tokens as the seed defines them: prompt + completion.
    pub fn total_tokens(&self) -> i64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// Inserts one usage row; returns its rowid.
pub fn insert(conn: &Connection, u: &NewUsage) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO token_usage (uuid, user_id, conversation_id, message_id, agent_log_id,
             provider, model, operation_type, prompt_tokens, completion_tokens, total_tokens,
             embedding_tokens, estimated_cost, currency, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        u.uuid,
        u.user_id,
        u.conversation_id,
        u.message_id,
        u.agent_log_id,
        u.provider,
        u.model,
        u.operation_type,
        u.prompt_tokens,
        u.completion_tokens,
        u.total_tokens(),
        u.embedding_tokens,
        u.estimated_cost,
        u.currency,
        u.created_at
    ])?;
    Ok(conn.last_insert_rowid())
}

pub fn get(conn: &Connection, row_id: i64) -> rusqlite::Result<Option<UsageRecord>> {
    use rusqlite::OptionalExtension;
    conn.prepare_cached(
        "SELECT u.id, u.uuid, u.user_id, c.uuid, m.uuid, l.uuid, u.provider, u.model,
                u.operation_type, u.prompt_tokens, u.completion_tokens, u.total_tokens,
                u.embedding_tokens, u.estimated_cost, u.currency, u.created_at
         FROM token_usage u
         LEFT JOIN conversations c ON c.id = u.conversation_id
         LEFT JOIN messages m ON m.id = u.message_id
         LEFT JOIN agent_logs l ON l.id = u.agent_log_id
         WHERE u.id = ?1",
    )?
    .query_row([row_id], UsageRecord::from_row)
    .optional()
}

/// What a summary may group by. The API names map to fixed SQL expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupKey {
    Provider,
    Model,
    OperationType,
    User,
    Day,
}

impl GroupKey {
    pub const ALL: [GroupKey; 5] =
        [GroupKey::Provider, GroupKey::Model, GroupKey::OperationType, GroupKey::User, GroupKey::Day];

    /// Parses an API name; `None` for anything else.
    pub fn parse(name: &str) -> Option<GroupKey> {
        GroupKey::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            GroupKey::Provider => "provider",
            GroupKey::Model => "model",
            GroupKey::OperationType => "operation_type",
            GroupKey::User => "user",
            GroupKey::Day => "day",
        }
    }

    /// The SQL expression grouped on: a constant, never built from input.
    fn sql(self) -> &'static str {
        match self {
            GroupKey::Provider => "provider",
            GroupKey::Model => "model",
            GroupKey::OperationType => "operation_type",
            GroupKey::User => "user_id",
            GroupKey::Day => "substr(created_at, 1, 10)",
        }
    }
}

/// Sums over a set of usage rows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct UsageTotals {
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub embedding_tokens: i64,
    pub total_tokens: i64,
    pub estimated_cost: f64,
}

/// One group of a summary: the values of the group keys (in `group_by` order) and its sums.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct UsageGroup {
    /// Group key name → value, e.g. `{"provider": "custom", "day": "2025-01-31"}`.
    pub key: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// A summary request: half-open range `[from, to)` of canonical RFC 3339 strings.
#[derive(Clone, Debug, Default)]
pub struct SummaryQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub user_id: Option<String>,
    pub group_by: Vec<GroupKey>,
}

const SUMS: &str = "COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), \
    COALESCE(SUM(embedding_tokens), 0), COALESCE(SUM(total_tokens), 0), COALESCE(SUM(estimated_cost), 0.0)";

fn totals_at(row: &Row<'_>, at: usize) -> rusqlite::Result<UsageTotals> {
    Ok(UsageTotals {
        requests: row.get(at)?,
        prompt_tokens: row.get(at + 1)?,
        completion_tokens: row.get(at + 2)?,
        embedding_tokens: row.get(at + 3)?,
        total_tokens: row.get(at + 4)?,
        estimated_cost: row.get(at + 5)?,
    })
}

/// Sums per group (ordered by the group keys) and the grand totals.
pub fn summary(conn: &Connection, q: &SummaryQuery) -> rusqlite::Result<(Vec<UsageGroup>, UsageTotals)> {
    let mut conds: Vec<&str> = Vec::new();
    let mut args: Vec<&dyn ToSql> = Vec::new();
    if let Some(user) = &q.user_id {
        conds.push("user_id = ?");
        args.push(user);
    }
    if let Some(from) = &q.from {
        conds.push("created_at >= ?");
        args.push(from);
    }
    if let Some(to) = &q.to {
        conds.push("created_at < ?");
        args.push(to);
    }
    let condition = if conds.is_empty() { "1".to_string() } else { conds.join(" AND ") };
    let totals = conn
        .prepare_cached(&format!("SELECT {SUMS} FROM token_usage WHERE {condition}"))?
        .query_row(args.as_slice(), |r| totals_at(r, 0))?;
    if q.group_by.is_empty() {
        return Ok((Vec::new(), totals));
    }
    let exprs: Vec<&str> = q.group_by.iter().map(|k| k.sql()).collect();
    let keys = exprs.join(", ");
    let sql = format!(
        "SELECT {keys}, {SUMS} FROM token_usage WHERE {condition} GROUP BY {keys} ORDER BY {keys}"
    );
    let n = q.group_by.len();
    let groups = conn
        .prepare_cached(&sql)?
        .query_map(args.as_slice(), |r| {
            let mut key = serde_json::Map::new();
            for (i, k) in q.group_by.iter().enumerate() {
                key.insert(k.name().to_string(), serde_json::Value::String(r.get(i)?));
            }
            Ok(UsageGroup { key, totals: totals_at(r, n)? })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok((groups, totals))
}

/// Current time for a usage row.
pub fn stamp() -> String {
    now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::company::testdb;

    fn usage(user: &str, provider: &str, model: &str, op: &str, p: i64, c: i64, cost: f64, at: &str) -> NewUsage {
        NewUsage {
            uuid: crate::company::new_uuid(),
            user_id: user.into(),
            provider: provider.into(),
            model: model.into(),
            operation_type: op.into(),
            prompt_tokens: p,
            completion_tokens: c,
            estimated_cost: cost,
            currency: "USD".into(),
            created_at: at.into(),
            ..Default::default()
        }
    }

    #[test]
    fn summary_sums_and_groups() {
        let db = testdb::open();
        let c = &db.conn;
        let rows = [
            usage("a", "custom", "deepseek", "chat", 100, 50, 0.5, "2025-01-01T10:00:00.000Z"),
            usage("a", "custom", "deepseek", "chat", 10, 5, 0.25, "2025-01-02T10:00:00.000Z"),
            usage("b", "ollama", "llama3", "embedding", 7, 0, 0.0, "2025-01-02T11:00:00.000Z"),
            usage("b", "custom", "deepseek", "analysis", 1, 1, 1.0, "2025-01-03T00:00:00.000Z"),
        ];
        for r in &rows {
            insert(c, r).unwrap();
        }
        let q = SummaryQuery { group_by: vec![GroupKey::Provider], ..Default::default() };
        let (groups, totals) = summary(c, &q).unwrap();
        assert_eq!(totals.requests, 4);
        assert_eq!(totals.total_tokens, 150 + 15 + 7 + 2);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].key["provider"], "custom");
        assert_eq!(groups[0].totals.total_tokens, 167);
        assert!((groups[0].totals.estimated_cost - 1.75).abs() < 1e-9);
        let q = SummaryQuery {
            from: Some("2025-01-02T00:00:00.000Z".into()),
            to: Some("2025-01-03T00:00:00.000Z".into()),
            group_by: vec![GroupKey::Day, GroupKey::User],
            ..Default::default()
        };
        let (groups, totals) = summary(c, &q).unwrap();
        assert_eq!(totals.requests, 2);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].key["day"], "2025-01-02");
        assert_eq!(groups[0].key["user"], "a");
        assert_eq!(groups[1].totals.prompt_tokens, 7);
        let q = SummaryQuery { user_id: Some("b".into()), group_by: vec![GroupKey::OperationType, GroupKey::Model], ..Default::default() };
        let (groups, _) = summary(c, &q).unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].key["operation_type"], "analysis");
    }

    #[test]
    fn group_keys_parse_only_known_names() {
        assert_eq!(GroupKey::parse("operation_type"), Some(GroupKey::OperationType));
        assert_eq!(GroupKey::parse("user_id"), None);
        assert_eq!(GroupKey::parse("provider; DROP TABLE token_usage"), None);
    }
}
