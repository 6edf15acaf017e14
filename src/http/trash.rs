//! The trash: GET /api/trash, POST /api/{documents,conversations,reports}/{id}/restore, and
//! the `?permanent=` of their DELETE routes (see `service::trash`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::json::{ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::validate::{self, PageQuery};
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::trash as service;
use crate::store::company::Listing;
use crate::store::company::trash::{Kind, Trashed};

/// Permission: that of deleting the item's kind (documents:delete, chat:use,
/// reports:generate); the item's owner, or a company admin for documents and reports.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_trash))
        .routes(routes!(restore_document))
        .routes(routes!(restore_conversation))
        .routes(routes!(restore_report))
}

/// `?permanent=` of a DELETE.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Purge at once instead of moving to the trash (company admins only; also purges an
    /// item already in the trash).
    pub permanent: Option<bool>,
}

/// The DELETE of an item of `kind`: to the trash, or purged with `permanent=true`.
pub async fn delete(
    actor: &Actor,
    kind: Kind,
    id: &str,
    query: DeleteQuery,
) -> ApiResult<StatusCode> {
    let id = validate::id(kind.as_str(), id)?;
    service::delete(actor, kind, id, query.permanent.unwrap_or(false)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An item in the trash.
#[derive(Serialize, ToSchema)]
pub struct TrashItem {
    pub kind: Kind,
    /// The item's id (restore it at /api/{kind}s/{id}/restore).
    pub id: String,
    pub title: Option<String>,
    /// The user who owns it (uploader, conversation user or author).
    pub owner_id: String,
    pub deleted_at: String,
    pub deleted_by: Option<String>,
    /// When it is purged for good.
    pub purge_at: String,
}

/// What the caller may restore (their own items; a company admin also every document and
/// report), most recently deleted first.
#[utoipa::path(get, path = "/api/trash", tag = "trash", params(PageQuery),
    responses((status = 200, body = Listing<TrashItem>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_trash(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<TrashItem>>> {
    listing(&app, &actor, page).await
}

/// A page of the current database's trash (a company's, or the library's) for `actor`.
pub(super) async fn listing(
    app: &AppState,
    actor: &Actor,
    page: PageQuery,
) -> ApiResult<Json<Listing<TrashItem>>> {
    let listing = service::list(actor, page.page()?).await?;
    let keep =
        chrono::Duration::from_std(app.workspace.trash_retention).unwrap_or(chrono::Duration::MAX);
    Ok(Json(listing.map(|t: Trashed| {
        let purge_at = chrono::DateTime::parse_from_rfc3339(&t.deleted_at)
            .map(|at| crate::store::db::timestamp(at.to_utc() + keep))
            .unwrap_or_default();
        TrashItem {
            kind: t.kind,
            id: t.uuid,
            title: t.title,
            owner_id: t.owner,
            deleted_at: t.deleted_at,
            deleted_by: t.deleted_by,
            purge_at,
        }
    })))
}

pub(super) async fn restore(actor: &Actor, kind: Kind, id: &str) -> ApiResult<StatusCode> {
    let id = validate::id(kind.as_str(), id)?;
    service::restore(actor, kind, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a document out of the trash: listed, readable and searchable again at once.
#[utoipa::path(post, path = "/api/documents/{id}/restore", tag = "trash",
    params(("id" = String, Path, description = "document id")),
    responses((status = 204, description = "restored"), (status = 403, body = ErrorBody),
              (status = 404, description = "no such item in the trash (or purged)", body = ErrorBody),
              (status = 409, description = "the item is not in the trash (it is live)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn restore_document(actor: Actor, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    restore(&actor, Kind::Document, &id).await
}

/// Takes one of the caller's conversations out of the trash, with its messages.
#[utoipa::path(post, path = "/api/conversations/{id}/restore", tag = "trash",
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 204, description = "restored"), (status = 403, body = ErrorBody),
              (status = 404, description = "no such item in the trash (or purged)", body = ErrorBody),
              (status = 409, description = "the item is not in the trash (it is live)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn restore_conversation(actor: Actor, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    restore(&actor, Kind::Conversation, &id).await
}

/// Takes a saved report out of the trash.
#[utoipa::path(post, path = "/api/reports/{id}/restore", tag = "trash",
    params(("id" = String, Path, description = "report id")),
    responses((status = 204, description = "restored"), (status = 403, body = ErrorBody),
              (status = 404, description = "no such item in the trash (or purged)", body = ErrorBody),
              (status = 409, description = "the item is not in the trash (it is live)", body = ErrorBody)),
    security(("bearer" = [])))]
async fn restore_report(actor: Actor, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    restore(&actor, Kind::Report, &id).await
}
