//! The global document library: /api/admin/library/... for super admins (upload, list,
//! change, delete, restore, follow processing) and /api/library/documents/... for every
//! company's users (read). Handlers run in the library's `TenantCtx` as the librarian or a
//! reader (`guard::enter_library`, `service::library`); the handlers of /api/documents do
//! the work. Library documents are searched with the company's at POST /api/search.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::documents::{
    DocumentQuery, DocumentResponse, UpdateDocument, UploadResponse, filter_of, patch_of, receive,
};
use super::error::ApiResult;
use super::json::{ApiJson, ApiPath, ApiQuery};
use super::multipart::ApiMultipart;
use super::openapi::ErrorBody;
use super::trash::{DeleteQuery, TrashItem};
use super::validate::{self, PageQuery, double_option};
use super::views::documents::{Chunk, Document};
use super::views::jobs::Job;
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::{documents, jobs, library};
use crate::store::company::Listing;
use crate::store::company::trash::Kind;

/// /api/admin/library: super admins, as the library's librarian.
pub fn admin_api() -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::new()
        .routes(routes!(add_document, admin_list))
        .layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .merge(upload)
        .routes(routes!(admin_get, update_document, delete_document))
        .routes(routes!(admin_chunks))
        .routes(routes!(restore_document))
        .routes(routes!(library_trash))
        .routes(routes!(library_job))
}

/// /api/library: company users, as readers.
pub fn reader_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reader_list))
        .routes(routes!(reader_get))
        .routes(routes!(reader_chunks))
}

/// The multipart form of a library upload (for the API description).
#[derive(ToSchema)]
#[allow(dead_code)]
struct LibraryUploadForm {
    /// The file: txt, md, html, csv, json, pdf or docx; its content must match its name.
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    title: Option<String>,
    description: Option<String>,
    category: Option<String>,
    /// A JSON array of strings, e.g. `["policy", "hr"]`.
    tags: Option<String>,
}

/// The changes of a library document: those of a company's, without `scope` (always
/// `global`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLibraryDocument {
    /// null clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 500)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:text", max_length = 10_000)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 100)]
    pub category: Option<Option<String>>,
    #[schema(max_items = 50, value_type = Option<Vec<super::validate::Tag>>)]
    pub tags: Option<Vec<String>>,
}

/// A document as the library shows it: scope `global`.
fn shown(document: impl Into<Document>) -> Document {
    Document {
        scope: library::SHOWN_SCOPE.into(),
        ..document.into()
    }
}

async fn list(actor: &Actor, q: DocumentQuery) -> ApiResult<Json<Listing<Document>>> {
    let (mut filter, page) = filter_of(q)?;
    // Every library document is stored with one scope: `global` asks for all of them.
    filter.scope = None;
    Ok(Json(documents::list(actor, filter, page).await?.map(shown)))
}

async fn get(actor: &Actor, id: &str) -> ApiResult<Json<DocumentResponse>> {
    let id = validate::id("document", id)?;
    let (document, job) = documents::get(actor, id).await?;
    Ok(Json(DocumentResponse {
        document: shown(document),
        job: job.map(Job::from),
    }))
}

async fn chunks(actor: &Actor, id: &str, q: PageQuery) -> ApiResult<Json<Listing<Chunk>>> {
    let id = validate::id("document", id)?;
    let page = validate::page(q.limit, q.offset)?;
    Ok(Json(
        documents::chunks(actor, id, page).await?.map(Chunk::from),
    ))
}

/// Adds a document to the library and queues it for processing (follow it at
/// GET /api/admin/library/jobs/{job_id}); every company's users can read and search it once
/// it is processed.
#[utoipa::path(post, path = "/api/admin/library/documents", tag = "library",
    request_body(content = LibraryUploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "stored and queued", body = UploadResponse),
        (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_document(
    State(app): State<AppState>,
    actor: Actor,
    ApiMultipart(mp): ApiMultipart,
) -> ApiResult<(StatusCode, Json<UploadResponse>)> {
    let added = receive(&app, &actor, mp, None).await?;
    let doc = &added.1.document;
    let detail =
        serde_json::json!({"filename": doc.filename, "title": doc.title, "sha256": doc.sha256});
    app.audit(&actor, "library.document.add", doc.id.clone(), detail)
        .await;
    Ok(added)
}

/// Lists the library's documents, newest first (`scope` is accepted and ignored: every
/// library document is `global`).
#[utoipa::path(get, path = "/api/admin/library/documents", tag = "library", params(DocumentQuery),
    responses((status = 200, body = Listing<Document>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn admin_list(
    actor: Actor,
    ApiQuery(q): ApiQuery<DocumentQuery>,
) -> ApiResult<Json<Listing<Document>>> {
    list(&actor, q).await
}

/// A library document with its latest processing job.
#[utoipa::path(get, path = "/api/admin/library/documents/{id}", tag = "library",
    params(("id" = String, Path, description = "document id")),
    responses((status = 200, body = DocumentResponse), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn admin_get(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DocumentResponse>> {
    get(&actor, &id).await
}

/// Changes a library document's metadata (its scope is always `global`).
#[utoipa::path(patch, path = "/api/admin/library/documents/{id}", tag = "library",
    params(("id" = String, Path, description = "document id")), request_body = UpdateLibraryDocument,
    responses((status = 200, body = Document), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_document(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateLibraryDocument>,
) -> ApiResult<Json<Document>> {
    let id = validate::id("document", &id)?;
    let patch = patch_of(UpdateDocument {
        title: body.title,
        description: body.description,
        category: body.category,
        tags: body.tags,
        scope: None,
    })?;
    let doc = shown(documents::update(&actor, id, patch).await?);
    let detail =
        serde_json::json!({"title": doc.title, "category": doc.category, "tags": doc.tags});
    app.audit(&actor, "library.document.update", doc.id.clone(), detail)
        .await;
    Ok(Json(doc))
}

/// Moves a library document to the library's trash: gone at once from every company's
/// lists and searches, restorable for the retention period, then purged. `permanent=true`
/// purges now.
#[utoipa::path(delete, path = "/api/admin/library/documents/{id}", tag = "library",
    params(("id" = String, Path, description = "document id"), DeleteQuery),
    responses((status = 204, description = "in the trash (or purged)"),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_document(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<StatusCode> {
    let permanent = query.permanent.unwrap_or(false);
    let done = super::trash::delete(&actor, Kind::Document, &id, query).await?;
    let detail = serde_json::json!({"permanent": permanent});
    app.audit(&actor, "library.document.delete", id, detail)
        .await;
    Ok(done)
}

/// A library document's chunks in reading order.
#[utoipa::path(get, path = "/api/admin/library/documents/{id}/chunks", tag = "library",
    params(("id" = String, Path, description = "document id"), PageQuery),
    responses((status = 200, body = Listing<Chunk>), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn admin_chunks(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<Chunk>>> {
    chunks(&actor, &id, q).await
}

/// Takes a library document out of the library's trash: readable and searchable again.
#[utoipa::path(post, path = "/api/admin/library/documents/{id}/restore", tag = "library",
    params(("id" = String, Path, description = "document id")),
    responses((status = 204, description = "restored"),
              (status = 404, description = "no such document in the trash (or purged)", body = ErrorBody),
              (status = 409, description = "the document is not in the trash (it is live)", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn restore_document(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let done = super::trash::restore(&actor, Kind::Document, &id).await?;
    let detail = serde_json::json!({});
    app.audit(&actor, "library.document.restore", id, detail)
        .await;
    Ok(done)
}

/// The library's trash, most recently deleted first.
#[utoipa::path(get, path = "/api/admin/library/trash", tag = "library", params(PageQuery),
    responses((status = 200, body = Listing<TrashItem>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn library_trash(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<TrashItem>>> {
    super::trash::listing(&app, &actor, page).await
}

/// A library processing job and its progress.
#[utoipa::path(get, path = "/api/admin/library/jobs/{id}", tag = "library",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn library_job(actor: Actor, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Job>> {
    let id = validate::id("job", &id)?;
    Ok(Json(jobs::get(actor, id).await?.into()))
}

/// Lists the global library's documents (every company reads them; needs documents:read).
#[utoipa::path(get, path = "/api/library/documents", tag = "library", params(DocumentQuery),
    responses((status = 200, body = Listing<Document>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn reader_list(
    actor: Actor,
    ApiQuery(q): ApiQuery<DocumentQuery>,
) -> ApiResult<Json<Listing<Document>>> {
    list(&actor, q).await
}

/// A global library document with its latest processing job.
#[utoipa::path(get, path = "/api/library/documents/{id}", tag = "library",
    params(("id" = String, Path, description = "document id")),
    responses((status = 200, body = DocumentResponse), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn reader_get(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DocumentResponse>> {
    get(&actor, &id).await
}

/// A global library document's chunks in reading order.
#[utoipa::path(get, path = "/api/library/documents/{id}/chunks", tag = "library",
    params(("id" = String, Path, description = "document id"), PageQuery),
    responses((status = 200, body = Listing<Chunk>), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn reader_chunks(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<Chunk>>> {
    chunks(&actor, &id, q).await
}
