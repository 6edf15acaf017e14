//! Usage records and summaries as the API shows them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::company::usage;

// One recorded model call with its estimated cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageRecord {
    pub id: String,
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

impl From<usage::UsageRecord> for UsageRecord {
    fn from(u: usage::UsageRecord) -> Self {
        UsageRecord {
            id: u.uuid,
            user_id: u.user_id,
            conversation_id: u.conversation_id,
            message_id: u.message_id,
            agent_log_id: u.agent_log_id,
            provider: u.provider,
            model: u.model,
            operation_type: u.operation_type,
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens,
            embedding_tokens: u.embedding_tokens,
            estimated_cost: u.estimated_cost,
            currency: u.currency,
            created_at: u.created_at,
        }
    }
}

/// What a summary may group by. The API names map to fixed SQL expressions.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupKey {
    Provider,
    Model,
    OperationType,
    User,
    Day,
}

impl From<usage::GroupKey> for GroupKey {
    fn from(k: usage::GroupKey) -> Self {
        match k {
            usage::GroupKey::Provider => GroupKey::Provider,
            usage::GroupKey::Model => GroupKey::Model,
            usage::GroupKey::OperationType => GroupKey::OperationType,
            usage::GroupKey::User => GroupKey::User,
            usage::GroupKey::Day => GroupKey::Day,
        }
    }
}

/// Sums over a set of usage rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageTotals {
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub embedding_tokens: i64,
    pub total_tokens: i64,
    pub estimated_cost: f64,
}

impl From<usage::UsageTotals> for UsageTotals {
    fn from(t: usage::UsageTotals) -> Self {
        UsageTotals {
            requests: t.requests,
            prompt_tokens: t.prompt_tokens,
            completion_tokens: t.completion_tokens,
            embedding_tokens: t.embedding_tokens,
            total_tokens: t.total_tokens,
            estimated_cost: t.estimated_cost,
        }
    }
}

/// One group of a summary: the values of the group keys (in `group_by` order) and its sums.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageGroup {
    /// Group key name → value, e.g. `{"provider": "custom", "day": "2025-01-31"}`.
    pub key: serde_json::Map<String, serde_json::Value>,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

impl From<usage::UsageGroup> for UsageGroup {
    fn from(g: usage::UsageGroup) -> Self {
        UsageGroup {
            key: g.key,
            totals: g.totals.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct UsageSummary {
    pub from: Option<String>,
    pub to: Option<String>,
    pub group_by: Vec<GroupKey>,
    pub groups: Vec<UsageGroup>,
    pub totals: UsageTotals,
}
