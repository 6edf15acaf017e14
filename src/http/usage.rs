//! /api/usage: recording model calls (metering:write) and summarising them
//! (metering:read). The service estimates the cost from the configured price table when a
//! call is recorded, so every row keeps the price in force at the time.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::{ApiJson, ApiQuery};
use super::openapi::ErrorBody;
use super::validate;
use super::views::usage::{UsageRecord, UsageSummary};
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::usage::{self as service, Call};
use crate::store::company::usage::{GroupKey, SummaryQuery};

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(record_usage))
        .routes(routes!(get_usage_summary))
}

/// Largest token count accepted for one call (far above any model's context).
pub(super) const MAX_TOKENS: i64 = 1_000_000_000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUsage {
    /// custom, ollama, ...
    #[schema(pattern = "text:line!", max_length = 100)]
    pub provider: String,
    #[schema(pattern = "text:line!", max_length = 200)]
    pub model: String,
    /// chat, embedding, analysis, grounding, explanation, ... (lower_snake_case).
    #[schema(pattern = "^[a-z0-9_]{1,50}$")]
    pub operation_type: String,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub prompt_tokens: i64,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub completion_tokens: i64,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub embedding_tokens: Option<i64>,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub conversation_id: Option<String>,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub message_id: Option<String>,
    #[schema(value_type = Option<uuid::Uuid>)]
    pub agent_log_id: Option<String>,
}

fn tokens(field: &str, v: i64) -> ApiResult<i64> {
    validate::count(field, v, MAX_TOKENS)
}

fn operation_type(raw: &str) -> ApiResult<String> {
    let op = raw.trim().to_ascii_lowercase();
    if op.is_empty()
        || op.len() > 50
        || !op
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Error::invalid(
            "operation_type",
            "must be 1 to 50 characters of a-z, 0-9 and _",
        ));
    }
    Ok(op)
}

/// Records one model call; answers the stored row with total_tokens and estimated_cost.
#[utoipa::path(post, path = "/api/usage", tag = "usage", request_body = CreateUsage,
    responses((status = 201, body = UsageRecord), (status = 400, body = ErrorBody),
              (status = 404, description = "an id in the body names nothing the caller can see", body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn record_usage(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<CreateUsage>,
) -> ApiResult<(StatusCode, Json<UsageRecord>)> {
    let id = |field: &str, v: Option<String>| -> ApiResult<Option<String>> {
        v.as_deref()
            .map(|v| validate::id_field(field, v))
            .transpose()
    };
    let call = Call {
        provider: validate::text("provider", &body.provider, 100)?,
        model: validate::text("model", &body.model, 200)?,
        operation_type: operation_type(&body.operation_type)?,
        prompt_tokens: tokens("prompt_tokens", body.prompt_tokens)?,
        completion_tokens: tokens("completion_tokens", body.completion_tokens)?,
        embedding_tokens: tokens("embedding_tokens", body.embedding_tokens.unwrap_or(0))?,
        conversation_id: id("conversation_id", body.conversation_id)?,
        message_id: id("message_id", body.message_id)?,
        agent_log_id: id("agent_log_id", body.agent_log_id)?,
    };
    let record = service::record(&app, actor, call).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// The schema of a summary bound: a date (`2026-12-01`) or an RFC 3339 time.
struct DateOrTime;

impl utoipa::PartialSchema for DateOrTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
        };
        let string = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        OneOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(string(KnownFormat::DateTime))
            .into()
    }
}

impl utoipa::ToSchema for DateOrTime {}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct SummaryParams {
    /// Start, inclusive: RFC 3339 time or YYYY-MM-DD.
    #[param(value_type = Option<DateOrTime>, inline)]
    from: Option<String>,
    /// End: an RFC 3339 time is exclusive; a YYYY-MM-DD date includes that whole day.
    #[param(value_type = Option<DateOrTime>, inline)]
    to: Option<String>,
    /// Comma-separated: provider, model, operation_type, user, day.
    #[param(
        pattern = "^((provider|model|operation_type|user|day)(,(provider|model|operation_type|user|day))*)?$"
    )]
    group_by: Option<String>,
    /// Only this user's usage (user id).
    #[param(value_type = Option<uuid::Uuid>)]
    user_id: Option<String>,
}

/// Sums of tokens and cost over a time range, grouped as asked.
#[utoipa::path(get, path = "/api/usage/summary", tag = "usage", params(SummaryParams),
    responses((status = 200, body = UsageSummary), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_usage_summary(
    actor: Actor,
    ApiQuery(q): ApiQuery<SummaryParams>,
) -> ApiResult<Json<UsageSummary>> {
    let from = q
        .from
        .as_deref()
        .map(|f| validate::timestamp("from", f, false))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|t| validate::timestamp("to", t, true))
            .transpose()?;
    if let (Some(f), Some(t)) = (&from, &to)
        && f > t
    {
        return Err(Error::invalid("to", "must not be before from"));
    }
    let mut group_by = Vec::new();
    for name in q
        .group_by
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        // Names are looked up in a fixed table; only that table's SQL reaches the query.
        let key = GroupKey::parse(name).ok_or_else(|| {
            Error::invalid(
                "group_by",
                format!("unknown group {name:?}; use provider, model, operation_type, user, day"),
            )
        })?;
        if !group_by.contains(&key) {
            group_by.push(key);
        }
    }
    let user_id = q
        .user_id
        .as_deref()
        .map(|u| validate::id_field("user_id", u))
        .transpose()?;
    let query = SummaryQuery {
        from: from.clone(),
        to: to.clone(),
        user_id,
        group_by: group_by.clone(),
    };
    let (groups, totals) = service::summary(actor, query).await?;
    Ok(Json(UsageSummary {
        from,
        to,
        group_by: group_by.into_iter().map(Into::into).collect(),
        groups: groups.into_iter().map(Into::into).collect(),
        totals: totals.into(),
    }))
}
