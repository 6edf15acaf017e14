//! /api/conversations and their messages. Conversations are personal: only their owner
//! reaches them (others get 404). Messages carry the RAG fields of seed 001, checked for
//! shape here before they are stored as JSON.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::trash::DeleteQuery;
use super::validate::{self, PageQuery, double_option};
use super::views::conversations::{Conversation, Message};
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::conversations as service;
use crate::store::company::Listing;
use crate::store::company::conversations::{ConversationPatch, NewConversation};
use crate::store::company::messages::NewMessage;
use crate::store::company::trash::Kind;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_conversation, list_conversations))
        .routes(routes!(
            get_conversation,
            update_conversation,
            delete_conversation
        ))
        .routes(routes!(create_message, list_messages))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    #[schema(pattern = "text:line", max_length = 500)]
    pub title: Option<String>,
    /// Document ids retrieval is limited to (each must be visible to the caller).
    #[schema(max_items = 200, value_type = Option<Vec<uuid::Uuid>>)]
    pub selected_document_ids: Option<Vec<String>>,
    #[schema(pattern = "text:line", max_length = 100)]
    pub llm_provider: Option<String>,
    #[schema(pattern = "text:line", max_length = 200)]
    pub llm_model: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 500)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<uuid::Uuid>>, max_items = 200)]
    pub selected_document_ids: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 100)]
    pub llm_provider: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 200)]
    pub llm_model: Option<Option<String>>,
}

fn selected_ids(ids: &[String]) -> ApiResult<Vec<String>> {
    validate::ids("selected_document_ids", ids, 200)
}

/// Starts a conversation.
#[utoipa::path(post, path = "/api/conversations", tag = "conversations", request_body = CreateConversation,
    responses((status = 201, body = Conversation), (status = 400, body = ErrorBody),
              (status = 404, description = "an id in the body names nothing the caller can see", body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_conversation(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<CreateConversation>,
) -> ApiResult<(StatusCode, Json<Conversation>)> {
    let new = NewConversation {
        title: validate::opt_text("title", body.title.as_deref(), 500)?,
        llm_provider: validate::opt_text("llm_provider", body.llm_provider.as_deref(), 100)?,
        llm_model: validate::opt_text("llm_model", body.llm_model.as_deref(), 200)?,
        selected_document_ids: body
            .selected_document_ids
            .as_deref()
            .map(selected_ids)
            .transpose()?,
    };
    let created = service::start(&app, actor, new).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// The caller's conversations, most recently active first.
#[utoipa::path(get, path = "/api/conversations", tag = "conversations", params(PageQuery),
    responses((status = 200, body = Listing<Conversation>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_conversations(
    actor: Actor,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<Conversation>>> {
    let page = validate::page(q.limit, q.offset)?;
    let listing = service::list(actor, page).await?;
    Ok(Json(listing.map(Conversation::from)))
}

#[utoipa::path(get, path = "/api/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 200, body = Conversation), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_conversation(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Conversation>> {
    let id = validate::id("conversation", &id)?;
    Ok(Json(service::get(actor, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "conversation id")), request_body = UpdateConversation,
    responses((status = 200, body = Conversation), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_conversation(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateConversation>,
) -> ApiResult<Json<Conversation>> {
    let id = validate::id("conversation", &id)?;
    let patch = ConversationPatch {
        title: validate::patch_text("title", body.title, 500)?,
        llm_provider: validate::patch_text("llm_provider", body.llm_provider, 100)?,
        llm_model: validate::patch_text("llm_model", body.llm_model, 200)?,
        selected_document_ids: body
            .selected_document_ids
            .map(|ids| ids.as_deref().map(selected_ids).transpose())
            .transpose()?,
    };
    let updated = service::update(&app, actor, id, patch).await?;
    Ok(Json(updated.into()))
}

/// Moves a conversation to the trash with its messages (restorable for the retention
/// period, then purged with them and their agent logs; usage rows stay). `permanent=true`
/// (company admins, on their own conversations) purges now.
#[utoipa::path(delete, path = "/api/conversations/{id}", tag = "conversations",
    params(("id" = String, Path, description = "conversation id"), DeleteQuery),
    responses((status = 204, description = "in the trash (or purged)"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_conversation(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<StatusCode> {
    super::trash::delete(&actor, Kind::Conversation, &id, query).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMessage {
    #[schema(pattern = "text:text!", max_length = 100_000)]
    pub content: String,
    /// `user` (default); `assistant` and `system` need agents:execute.
    #[schema(pattern = "^(user|assistant|system)$")]
    pub role: Option<String>,
    /// Array of retrieved chunks: `{document_id, chunk_id, content, similarity_score, page_number}`.
    #[schema(value_type = Option<Vec<Object>>)]
    #[schema(max_items = 200)]
    pub retrieved_documents: Option<Value>,
    /// Array of cited sources: `{id, filename, title, relevance_score, cited_text}`.
    #[schema(value_type = Option<Vec<Object>>)]
    #[schema(max_items = 200)]
    pub sources: Option<Value>,
    /// Array of steps: `{step, agent, action, reasoning, execution_time}`.
    #[schema(value_type = Option<Vec<Object>>)]
    #[schema(max_items = 200)]
    pub reasoning_chain: Option<Value>,
    /// Object: `{score, verified_claims, unverified_claims, evidence}`.
    #[schema(value_type = Option<Object>)]
    pub grounding_evidence: Option<Value>,
    #[schema(max_items = 50, value_type = Option<Vec<super::validate::Tag>>)]
    pub agents_involved: Option<Vec<String>>,
    /// 0 to 1; below 0.30 the message carries low_confidence_warning.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence_score: Option<f64>,
}

/// An array of JSON objects, at most `max` long.
fn array_of_objects(field: &str, v: Value, max: usize) -> ApiResult<Value> {
    match &v {
        Value::Array(items) if items.len() <= max => {
            if let Some(i) = items.iter().position(|x| !x.is_object()) {
                return Err(Error::invalid(format!("{field}[{i}]"), "must be an object"));
            }
            Ok(v)
        }
        Value::Array(_) => Err(Error::invalid(
            field,
            format!("must have at most {max} items"),
        )),
        _ => Err(Error::invalid(field, "must be an array of objects")),
    }
}

fn validate_message(body: CreateMessage) -> ApiResult<NewMessage> {
    let role = validate::one_of(
        "role",
        body.role.as_deref().unwrap_or("user"),
        &["user", "assistant", "system"],
    )?;
    let grounding = match body.grounding_evidence {
        Some(v @ Value::Object(_)) => Some(v),
        Some(_) => return Err(Error::invalid("grounding_evidence", "must be an object")),
        None => None,
    };
    Ok(NewMessage {
        role,
        content: validate::long_text("content", &body.content, 100_000, false)?,
        retrieved_documents: body
            .retrieved_documents
            .map(|v| array_of_objects("retrieved_documents", v, 200))
            .transpose()?,
        sources: body
            .sources
            .map(|v| array_of_objects("sources", v, 200))
            .transpose()?,
        reasoning_chain: body
            .reasoning_chain
            .map(|v| array_of_objects("reasoning_chain", v, 200))
            .transpose()?,
        grounding_evidence: grounding,
        agents_involved: body
            .agents_involved
            .map(|a| {
                if a.len() > 50 {
                    return Err(Error::invalid(
                        "agents_involved",
                        "must have at most 50 names",
                    ));
                }
                a.iter()
                    .enumerate()
                    .map(|(i, n)| validate::text(&format!("agents_involved[{i}]"), n, 100))
                    .collect()
            })
            .transpose()?,
        confidence_score: body
            .confidence_score
            .map(|c| validate::unit_interval("confidence_score", c))
            .transpose()?,
    })
}

/// Stores a message in a conversation.
#[utoipa::path(post, path = "/api/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path, description = "conversation id")), request_body = CreateMessage,
    responses((status = 201, body = Message), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_message(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateMessage>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let id = validate::id("conversation", &id)?;
    let new = validate_message(body)?;
    let created = service::add_message(actor, id, new).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// A conversation's messages, oldest first.
#[utoipa::path(get, path = "/api/conversations/{id}/messages", tag = "conversations",
    params(("id" = String, Path, description = "conversation id"), PageQuery),
    responses((status = 200, body = Listing<Message>), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_messages(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<Message>>> {
    let id = validate::id("conversation", &id)?;
    let page = validate::page(q.limit, q.offset)?;
    let listing = service::list_messages(actor, id, page).await?;
    Ok(Json(listing.map(Message::from)))
}
