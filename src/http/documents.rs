//! /api/documents: upload, metadata, listing, chunks and deletion.
//!
//! Scope rule: `user` documents are visible to their uploader and company admins only,
//! `company` documents to every user of the company; a document one may not see answers
//! 404 exactly like one that does not exist. Changing or deleting a document is for its
//! uploader and company admins (others who can see it get 403).

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::{ApiJson, ApiPath, ApiQuery};
use super::multipart::ApiMultipart;
use super::openapi::ErrorBody;
use super::trash::DeleteQuery;
use super::upload;
use super::validate::{self, PageQuery, double_option};
use super::views::documents::{Chunk, Document};
use super::views::jobs::Job;
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::documents::{self, SCOPES, UploadMeta};
use crate::service::library;
use crate::store::company::documents::{DocumentFilter, DocumentPatch, STATUSES};
use crate::store::company::trash::Kind;
use crate::store::company::{Listing, Page};
use crate::tenant::context;
use crate::tenant::provision::UPLOADS_DIR;

pub fn api() -> OpenApiRouter<AppState> {
    // Uploads stream to disk and enforce the configured limit themselves (413), so the
    // router's 1 MiB JSON body limit is lifted on this path only.
    let upload = OpenApiRouter::new()
        .routes(routes!(create_document, list_documents))
        .layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .merge(upload)
        .routes(routes!(get_document, update_document, delete_document))
        .routes(routes!(list_document_chunks))
}

/// The multipart form of an upload (for the API description).
#[derive(ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// The file: txt, md, html, csv, json, pdf or docx; its content must match its name.
    #[schema(format = Binary, value_type = String)]
    file: Vec<u8>,
    title: Option<String>,
    description: Option<String>,
    category: Option<String>,
    /// A JSON array of strings, e.g. `["q3", "energy"]`.
    tags: Option<String>,
    /// `company` (everyone in the company) or `user` (the uploader and admins; default).
    scope: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UploadResponse {
    pub document: Document,
    /// Follow processing at GET /api/jobs/{job_id}.
    pub job_id: String,
}

/// A document with its latest processing job.
#[derive(Serialize, ToSchema)]
pub struct DocumentResponse {
    #[serde(flatten)]
    pub document: Document,
    pub job: Option<Job>,
}

/// Uploads a document and queues it for processing.
#[utoipa::path(post, path = "/api/documents", tag = "documents",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "stored and queued", body = UploadResponse),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_document(
    State(app): State<AppState>,
    actor: Actor,
    ApiMultipart(mp): ApiMultipart,
) -> ApiResult<(StatusCode, Json<UploadResponse>)> {
    receive(&app, &actor, mp, Some(SCOPES)).await
}

/// Receives an upload into the current database (a company's, or the library's) and stores
/// it as a document of `actor`'s. `scopes` are the scope part's values (the first but one,
/// `user`, is the default); `None` refuses the part (a library document's scope is fixed).
pub(super) async fn receive(
    app: &AppState,
    actor: &Actor,
    mp: axum::extract::Multipart,
    scopes: Option<&[&str]>,
) -> ApiResult<(StatusCode, Json<UploadResponse>)> {
    documents::may_upload(actor)?;
    let ctx = context::current()?;
    let limit = app.workspace.max_upload_bytes;
    let parts = upload::read_parts(mp, &ctx.db.dir().join(UPLOADS_DIR), limit).await?;
    let file = parts
        .file
        .ok_or_else(|| Error::invalid("file", "is required"))?;
    let tags: Vec<String> = match parts
        .tags
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(raw) => validate::tags(
            "tags",
            &serde_json::from_str::<Vec<String>>(raw)
                .map_err(|_| Error::invalid("tags", "must be a JSON array of strings"))?,
        )?,
        None => Vec::new(),
    };
    let scope = parts
        .scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let scope = match (scope, scopes) {
        (Some(s), Some(scopes)) => validate::one_of("scope", s, scopes)?,
        (None, Some(_)) => "user".to_string(),
        (Some(_), None) => return Err(library_scope()),
        (None, None) => library::STORED_SCOPE.to_string(),
    };
    let meta = UploadMeta {
        title: validate::opt_text("title", parts.title.as_deref(), 500)?,
        description: validate::opt_long_text("description", parts.description.as_deref(), 10_000)?,
        category: validate::opt_text("category", parts.category.as_deref(), 100)?,
        tags,
        scope,
    };
    let uploaded = documents::upload(app, actor, file, meta).await?;
    let mut document = Document::from(uploaded.document);
    if scopes.is_none() {
        document.scope = library::SHOWN_SCOPE.into();
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(UploadResponse {
            document,
            job_id: uploaded.job_id,
        }),
    ))
}

/// A scope given for a library document.
pub(super) fn library_scope() -> Error {
    Error::invalid(
        "scope",
        "a library document is read by every company (scope global); leave scope out",
    )
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct DocumentQuery {
    /// pending, processing, completed or failed.
    #[param(pattern = "^(pending|processing|completed|failed)$")]
    status: Option<String>,
    /// company or user.
    #[param(pattern = "^(company|user)$")]
    scope: Option<String>,
    #[param(pattern = "text:line", max_length = 100)]
    category: Option<String>,
    /// Text contained in the title, file name or description.
    #[param(pattern = "text:line", max_length = 200)]
    q: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Rows to skip (default 0).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    offset: Option<u32>,
}

/// Lists the documents the caller may see, newest first.
#[utoipa::path(get, path = "/api/documents", tag = "documents", params(DocumentQuery),
    responses((status = 200, body = Listing<Document>), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_documents(
    actor: Actor,
    ApiQuery(q): ApiQuery<DocumentQuery>,
) -> ApiResult<Json<Listing<Document>>> {
    let (filter, page) = filter_of(q)?;
    let listing = documents::list(&actor, filter, page).await?;
    Ok(Json(listing.map(Document::from)))
}

/// The filter and page of a document listing.
pub(super) fn filter_of(q: DocumentQuery) -> Result<(DocumentFilter, Page), Error> {
    let page = validate::page(q.limit, q.offset)?;
    let filter = DocumentFilter {
        status: q
            .status
            .as_deref()
            .map(|s| validate::one_of("status", s, STATUSES))
            .transpose()?,
        scope: q
            .scope
            .as_deref()
            .map(|s| validate::one_of("scope", s, SCOPES))
            .transpose()?,
        category: validate::opt_text("category", q.category.as_deref(), 100)?,
        q: validate::opt_text("q", q.q.as_deref(), 200)?,
    };
    Ok((filter, page))
}

/// A document with its status, error, chunk count and summary fields.
#[utoipa::path(get, path = "/api/documents/{id}", tag = "documents",
    params(("id" = String, Path, description = "document id")),
    responses((status = 200, body = DocumentResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_document(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DocumentResponse>> {
    let id = validate::id("document", &id)?;
    let (document, job) = documents::get(&actor, id).await?;
    Ok(Json(DocumentResponse {
        document: document.into(),
        job: job.map(Job::from),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDocument {
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
    /// company or user.
    #[schema(pattern = "^(company|user)$")]
    pub scope: Option<String>,
}

/// Changes a document's metadata.
#[utoipa::path(patch, path = "/api/documents/{id}", tag = "documents",
    params(("id" = String, Path, description = "document id")), request_body = UpdateDocument,
    responses((status = 200, body = Document), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_document(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateDocument>,
) -> ApiResult<Json<Document>> {
    let id = validate::id("document", &id)?;
    Ok(Json(
        documents::update(&actor, id, patch_of(body)?).await?.into(),
    ))
}

/// The checked changes of a PATCH.
pub(super) fn patch_of(body: UpdateDocument) -> Result<DocumentPatch, Error> {
    Ok(DocumentPatch {
        title: validate::patch_text("title", body.title, 500)?,
        description: body
            .description
            .map(|d| validate::opt_long_text("description", d.as_deref(), 10_000))
            .transpose()?,
        category: validate::patch_text("category", body.category, 100)?,
        tags: body
            .tags
            .as_deref()
            .map(|t| validate::tags("tags", t))
            .transpose()?,
        scope: body
            .scope
            .as_deref()
            .map(|s| validate::one_of("scope", s, SCOPES))
            .transpose()?,
    })
}

/// Moves a document to the trash: gone at once from lists, gets and every search mode,
/// restorable for the retention period (30 days by default), then purged with its chunks,
/// jobs, index entries and stored file. `permanent=true` (company admins) purges now.
#[utoipa::path(delete, path = "/api/documents/{id}", tag = "documents",
    params(("id" = String, Path, description = "document id"), DeleteQuery),
    responses((status = 204, description = "in the trash (or purged)"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_document(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<StatusCode> {
    super::trash::delete(&actor, Kind::Document, &id, query).await
}

/// A document's chunks in reading order.
#[utoipa::path(get, path = "/api/documents/{id}/chunks", tag = "documents",
    params(("id" = String, Path, description = "document id"), PageQuery),
    responses((status = 200, body = Listing<Chunk>), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_document_chunks(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<Chunk>>> {
    let id = validate::id("document", &id)?;
    let page = validate::page(q.limit, q.offset)?;
    let listing = documents::chunks(&actor, id, page).await?;
    Ok(Json(listing.map(Chunk::from)))
}
