//! /api/agent-logs: the record of agent runs. Reading needs agents:read, writing
//! agents:execute. A log is visible to the user who ran it, the owner of its message's
//! conversation, and company admins.

use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::json::{ApiJson, ApiQuery};
use super::openapi::ErrorBody;
use super::validate;
use super::views::agent_logs::AgentLog;
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::agent_logs as service;
use crate::store::company::Listing;
use crate::store::company::agent_logs::{AgentLogFilter, NewAgentLog};

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_agent_log, list_agent_logs))
}

const STATUSES: &[&str] = &["success", "failed", "timeout"];

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AgentLogQuery {
    /// Only the runs for this message.
    #[param(value_type = Option<uuid::Uuid>)]
    message_id: Option<String>,
    /// research, analyzer, grounding, explainability, ...
    #[param(pattern = "text:line", max_length = 100)]
    agent_type: Option<String>,
    /// success, failed or timeout.
    #[param(pattern = "^(success|failed|timeout)$")]
    status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Rows to skip (default 0).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    offset: Option<u32>,
}

/// Agent runs the caller may see, newest first.
#[utoipa::path(get, path = "/api/agent-logs", tag = "agents", params(AgentLogQuery),
    responses((status = 200, body = Listing<AgentLog>), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_agent_logs(
    actor: Actor,
    ApiQuery(q): ApiQuery<AgentLogQuery>,
) -> ApiResult<Json<Listing<AgentLog>>> {
    let page = validate::page(q.limit, q.offset)?;
    let message = q
        .message_id
        .as_deref()
        .map(|m| validate::id("message", m))
        .transpose()?;
    let agent_type = validate::opt_text("agent_type", q.agent_type.as_deref(), 100)?;
    let status = q
        .status
        .as_deref()
        .map(|s| validate::one_of("status", s, STATUSES))
        .transpose()?;
    let filter = AgentLogFilter {
        message_id: None,
        agent_type,
        status,
    };
    let listing = service::list(actor, message, filter, page).await?;
    Ok(Json(listing.map(AgentLog::from)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgentLog {
    /// The message the run worked on (a message of the caller's conversations).
    #[schema(value_type = Option<uuid::Uuid>)]
    pub message_id: Option<String>,
    #[schema(pattern = "text:line!", max_length = 100)]
    pub agent_name: String,
    #[schema(pattern = "text:line", max_length = 100)]
    pub agent_type: Option<String>,
    #[schema(pattern = "text:line", max_length = 200)]
    pub action: Option<String>,
    #[schema(value_type = Option<Value>)]
    pub input_data: Option<Value>,
    #[schema(value_type = Option<Value>)]
    pub output_data: Option<Value>,
    /// Seconds, >= 0.
    #[schema(minimum = 0.0)]
    pub execution_time: Option<f64>,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub tokens_used: Option<i64>,
    /// success (default), failed or timeout.
    #[schema(pattern = "^(success|failed|timeout)$")]
    pub status: Option<String>,
    #[schema(pattern = "text:text", max_length = 100_000)]
    pub error_message: Option<String>,
    #[schema(pattern = "text:text", max_length = 100_000)]
    pub reasoning: Option<String>,
    /// 0 to 1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<f64>,
}

/// Records an agent run.
#[utoipa::path(post, path = "/api/agent-logs", tag = "agents", request_body = CreateAgentLog,
    responses((status = 201, body = AgentLog), (status = 400, body = ErrorBody),
              (status = 404, description = "an id in the body names nothing the caller can see", body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_agent_log(
    actor: Actor,
    ApiJson(body): ApiJson<CreateAgentLog>,
) -> ApiResult<(StatusCode, Json<AgentLog>)> {
    let message = body
        .message_id
        .as_deref()
        .map(|m| validate::id_field("message_id", m))
        .transpose()?;
    let long = |field: &str, v: Option<String>| -> ApiResult<Option<String>> {
        v.map(|t| validate::long_text(field, &t, 100_000, true))
            .transpose()
    };
    let new = NewAgentLog {
        message_id: None,
        agent_name: validate::text("agent_name", &body.agent_name, 100)?,
        agent_type: validate::opt_text("agent_type", body.agent_type.as_deref(), 100)?,
        action: validate::opt_text("action", body.action.as_deref(), 200)?,
        input_data: body.input_data,
        output_data: body.output_data,
        execution_time: body
            .execution_time
            .map(|t| validate::non_negative("execution_time", t))
            .transpose()?,
        tokens_used: body
            .tokens_used
            .map(|t| validate::count("tokens_used", t, super::usage::MAX_TOKENS))
            .transpose()?,
        status: validate::one_of(
            "status",
            body.status.as_deref().unwrap_or("success"),
            STATUSES,
        )?,
        error_message: long("error_message", body.error_message)?,
        reasoning: long("reasoning", body.reasoning)?,
        confidence: body
            .confidence
            .map(|c| validate::unit_interval("confidence", c))
            .transpose()?,
    };
    let created = service::record(actor, message, new).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}
