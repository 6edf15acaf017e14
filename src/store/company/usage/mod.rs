//! The `token_usage` table: every model call's tokens and estimated cost, and the summary
//! that aggregates them.
//!
//! The summary's GROUP BY is built from [`GroupKey`]s, each mapped to a fixed column
//! expression: request input chooses among those names and is never interpolated into SQL.
//! Both the range filter and every grouped or summed column are covered by
//! `idx_token_usage_summary`, so a summary over millions of rows never touches the table.

use rusqlite::{Connection, Row, ToSql, params};

#[derive(Clone, Debug)]
pub struct UsageRecord {
    pub row_id: i64,
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
    /// A row of `user_id`'s model call, with a fresh time-ordered id and the current time;
    /// tokens are 0 until set, then [`NewUsage::priced`] fills in the cost.
    pub fn new(user_id: &str, provider: &str, model: &str, operation_type: &str) -> Self {
        NewUsage {
            uuid: super::new_time_ordered_uuid(),
            user_id: user_id.to_string(),
            provider: provider.to_string(),
            model: model.to_string(),
            operation_type: operation_type.to_string(),
            created_at: crate::store::db::now(),
            ..NewUsage::default()
        }
    }

    /// Sets the estimated cost and currency from `prices` (0 when the provider and model
    /// are not in the table).
    pub fn priced(mut self, prices: &crate::pricing::PriceTable) -> Self {
        self.estimated_cost = prices
            .cost(
                &self.provider,
                &self.model,
                self.prompt_tokens,
                self.completion_tokens,
                self.embedding_tokens,
            )
            .unwrap_or(0.0);
        self.currency = prices.currency.clone();
        self
    }

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKey {
    Provider,
    Model,
    OperationType,
    User,
    Day,
}

impl GroupKey {
    pub const ALL: [GroupKey; 5] = [
        GroupKey::Provider,
        GroupKey::Model,
        GroupKey::OperationType,
        GroupKey::User,
        GroupKey::Day,
    ];

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

    /// The SQL expression grouped on in `token_usage`: a constant, never built from input.
    fn raw_sql(self) -> &'static str {
        match self {
            GroupKey::Provider => "provider",
            GroupKey::Model => "model",
            GroupKey::OperationType => "operation_type",
            GroupKey::User => "user_id",
            GroupKey::Day => "substr(created_at, 1, 10)",
        }
    }

    /// The same in the daily rollup `token_usage_daily`.
    fn rollup_sql(self) -> &'static str {
        match self {
            GroupKey::Day => "day",
            other => other.raw_sql(),
        }
    }
}

/// Sums over a set of usage rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageTotals {
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub embedding_tokens: i64,
    pub total_tokens: i64,
    pub estimated_cost: f64,
}

/// One group of a summary: the values of the group keys (in `group_by` order) and its sums.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageGroup {
    /// Group key name → value, e.g. `{"provider": "custom", "day": "2025-01-31"}`.
    pub key: serde_json::Map<String, serde_json::Value>,
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

const RAW_SUMS: &str = "COUNT(*), COALESCE(SUM(prompt_tokens), 0), \
    COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(embedding_tokens), 0), \
    COALESCE(SUM(total_tokens), 0), COALESCE(SUM(estimated_cost), 0.0)";

const ROLLUP_SUMS: &str = "COALESCE(SUM(requests), 0), COALESCE(SUM(prompt_tokens), 0), \
    COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(embedding_tokens), 0), \
    COALESCE(SUM(total_tokens), 0), COALESCE(SUM(estimated_cost), 0.0)";

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

impl UsageTotals {
    fn add(&mut self, o: &UsageTotals) {
        self.requests += o.requests;
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.embedding_tokens += o.embedding_tokens;
        self.total_tokens += o.total_tokens;
        self.estimated_cost += o.estimated_cost;
    }
}

/// Where a part of a summary is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    /// Whole days `[from_day, to_day)` of the daily rollup (open when None).
    Rollup {
        from_day: Option<String>,
        to_day: Option<String>,
    },
    /// Raw rows with `created_at` in `[from, to)`.
    Raw {
        from: Option<String>,
        to: Option<String>,
    },
}

fn is_midnight(ts: &str) -> bool {
    ts.get(10..) == Some("T00:00:00.000Z")
}

fn next_day(day: &str) -> String {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .map_or_else(
            || "9999-12-31".to_string(),
            |d| d.format("%Y-%m-%d").to_string(),
        )
}

fn midnight_of(day: &str) -> String {
    format!("{day}T00:00:00.000Z")
}

/// Splits `[from, to)` (canonical timestamps) into whole days, read from the rollup, and the
/// partial days at its edges, read from the raw rows.
fn plan(from: Option<&str>, to: Option<&str>) -> Vec<Source> {
    let day = |ts: &str| ts.get(..10).unwrap_or(ts).to_string();
    let lo = from.map(|f| {
        if is_midnight(f) {
            day(f)
        } else {
            next_day(&day(f))
        }
    });
    let hi = to.map(day);
    if let (Some(l), Some(h)) = (&lo, &hi)
        && l >= h
    {
        // No whole day inside: the range is read from the raw rows alone.
        return vec![Source::Raw {
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        }];
    }
    let mut parts = Vec::with_capacity(3);
    if let (Some(f), Some(l)) = (from, &lo)
        && !is_midnight(f)
    {
        parts.push(Source::Raw {
            from: Some(f.to_string()),
            to: Some(midnight_of(l)),
        });
    }
    parts.push(Source::Rollup {
        from_day: lo.clone(),
        to_day: hi.clone(),
    });
    if let (Some(t), Some(h)) = (to, &hi)
        && !is_midnight(t)
    {
        parts.push(Source::Raw {
            from: Some(midnight_of(h)),
            to: Some(t.to_string()),
        });
    }
    parts
}

/// Sums of one source, per group (keys in `group_by` order).
fn aggregate(
    conn: &Connection,
    source: &Source,
    user_id: Option<&str>,
    group_by: &[GroupKey],
) -> rusqlite::Result<Vec<(Vec<String>, UsageTotals)>> {
    let (table, time_col, sums, lo, hi) = match source {
        Source::Rollup { from_day, to_day } => {
            ("token_usage_daily", "day", ROLLUP_SUMS, from_day, to_day)
        }
        Source::Raw { from, to } => ("token_usage", "created_at", RAW_SUMS, from, to),
    };
    // Grouped in the rollup's primary-key order (day, provider, model, operation, user), so
    // SQLite can walk the key instead of sorting; values are put back in the asked order.
    let canonical: Vec<GroupKey> = [
        GroupKey::Day,
        GroupKey::Provider,
        GroupKey::Model,
        GroupKey::OperationType,
        GroupKey::User,
    ]
    .into_iter()
    .filter(|k| group_by.contains(k))
    .collect();
    let position: Vec<usize> = group_by
        .iter()
        .map(|k| {
            canonical
                .iter()
                .position(|c| c == k)
                .expect("every key is canonical")
        })
        .collect();
    let keys: Vec<&str> = canonical
        .iter()
        .map(|k| match source {
            Source::Rollup { .. } => k.rollup_sql(),
            Source::Raw { .. } => k.raw_sql(),
        })
        .collect();
    // Fixed fragments only; every value is bound.
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<&dyn ToSql> = Vec::new();
    if let Some(user) = &user_id {
        conds.push("user_id = ?".into());
        args.push(user);
    }
    if let Some(lo) = lo {
        conds.push(format!("{time_col} >= ?"));
        args.push(lo);
    }
    if let Some(hi) = hi {
        conds.push(format!("{time_col} < ?"));
        args.push(hi);
    }
    let condition = if conds.is_empty() {
        "1".to_string()
    } else {
        conds.join(" AND ")
    };
    let sql = if keys.is_empty() {
        format!("SELECT {sums} FROM {table} WHERE {condition}")
    } else {
        let k = keys.join(", ");
        format!("SELECT {k}, {sums} FROM {table} WHERE {condition} GROUP BY {k}")
    };
    let n = keys.len();
    conn.prepare_cached(&sql)?
        .query_map(args.as_slice(), |r| {
            let values = (0..n)
                .map(|i| r.get::<_, String>(i))
                .collect::<Result<Vec<_>, _>>()?;
            let key = position.iter().map(|&i| values[i].clone()).collect();
            Ok((key, totals_at(r, n)?))
        })?
        .collect()
}

/// Sums per group (ordered by the group keys) and the grand totals. Whole days come from
/// the daily rollup, the partial days at the range's edges from the raw rows: exact sums,
/// read from thousands of rollup rows instead of millions of usage rows.
pub fn summary(
    conn: &Connection,
    q: &SummaryQuery,
) -> rusqlite::Result<(Vec<UsageGroup>, UsageTotals)> {
    let mut merged: std::collections::BTreeMap<Vec<String>, UsageTotals> = Default::default();
    for source in plan(q.from.as_deref(), q.to.as_deref()) {
        for (key, t) in aggregate(conn, &source, q.user_id.as_deref(), &q.group_by)? {
            if t.requests > 0 {
                merged.entry(key).or_default().add(&t);
            }
        }
    }
    let mut totals = UsageTotals::default();
    let mut groups = Vec::new();
    for (values, t) in merged {
        totals.add(&t);
        if q.group_by.is_empty() {
            continue;
        }
        let key = q
            .group_by
            .iter()
            .zip(values)
            .map(|(k, v)| (k.name().to_string(), serde_json::Value::String(v)))
            .collect();
        groups.push(UsageGroup { key, totals: t });
    }
    Ok((groups, totals))
}

#[cfg(test)]
mod tests;
