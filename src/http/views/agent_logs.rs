//! Agent runs as the API shows them.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::company::agent_logs;

// One agent run.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgentLog {
    pub id: String,
    /// Public id of the message the run belongs to.
    pub message_id: Option<String>,
    pub user_id: Option<String>,
    pub agent_name: String,
    pub agent_type: Option<String>,
    pub action: Option<String>,
    #[schema(value_type = Option<Value>)]
    pub input_data: Option<Value>,
    #[schema(value_type = Option<Value>)]
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

impl From<agent_logs::AgentLog> for AgentLog {
    fn from(l: agent_logs::AgentLog) -> Self {
        AgentLog {
            id: l.uuid,
            message_id: l.message_id,
            user_id: l.user_id,
            agent_name: l.agent_name,
            agent_type: l.agent_type,
            action: l.action,
            input_data: l.input_data,
            output_data: l.output_data,
            execution_time: l.execution_time,
            tokens_used: l.tokens_used,
            status: l.status,
            error_message: l.error_message,
            reasoning: l.reasoning,
            confidence: l.confidence,
            created_at: l.created_at,
        }
    }
}
