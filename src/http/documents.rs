//! /api/documents and /api/jobs: upload, metadata, listing, chunks, deletion, job status.
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

use super::json::{ApiJson, ApiPath, ApiQuery};
use super::multipart::ApiMultipart;
use super::openapi::ErrorBody;
use super::upload;
use super::validate::{self, PageQuery, double_option};
use crate::app::AppState;
use super::error::{ApiResult, Error};
use crate::identity::Actor;
use crate::index::hooks;
use crate::ingest::extract::{self, DetectError};
use crate::store::company::chunks::{self, Chunk};
use crate::store::company::documents::{
    self, Document, DocumentFilter, DocumentPatch, NewDocument,
};
use crate::store::company::jobs::{self, Job};
use crate::store::company::{Listing, new_uuid};
use crate::store::db::write_tx;
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

const SCOPES: &[&str] = &["company", "user"];

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
    actor.require("documents:create")?;
    let ctx = context::current()?;
    let limit = app.workspace.max_upload_bytes;
    let parts = upload::read_parts(mp, &ctx.db.dir().join(UPLOADS_DIR), limit).await?;
    let file = parts
        .file
        .ok_or_else(|| Error::invalid("file", "is required"))?;
    let title = validate::opt_text("title", parts.title.as_deref(), 500)?;
    let description = validate::opt_long_text("description", parts.description.as_deref(), 10_000)?;
    let category = validate::opt_text("category", parts.category.as_deref(), 100)?;
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
    let scope = match parts
        .scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => validate::one_of("scope", s, SCOPES)?,
        None => "user".to_string(),
    };

    // The type is decided by the name and confirmed by the content.
    let (path, name) = (file.path.clone(), file.filename.clone());
    let kind = tokio::task::spawn_blocking(move || {
        // Read as little as the check needs: a header, a zip directory, or text in blocks.
        let mut file = std::io::BufReader::new(std::fs::File::open(&path)?);
        extract::detect_in(&name, &mut file)
    })
    .await?
    .map_err(Error::internal)?
    .map_err(|e| match e {
        DetectError::UnsupportedExtension => Error::UnsupportedMediaType(e.to_string()),
        DetectError::ContentMismatch(_) => {
            Error::UnsupportedMediaType(format!("{e}: the content does not match the file name"))
        }
    })?;

    let uuid = new_uuid();
    let rel_path = format!("{UPLOADS_DIR}/{uuid}.{}", kind.as_str());
    let new = NewDocument {
        uuid: uuid.clone(),
        filename: file.filename.clone(),
        file_path: rel_path.clone(),
        file_type: kind.as_str().into(),
        mime_type: kind.mime().into(),
        file_size: file.size as i64,
        sha256: file.sha256.clone(),
        title,
        description,
        category,
        tags,
        scope,
        uploaded_by: actor.user_uuid.clone(),
    };
    file.persist(&ctx.db.dir().join(&rel_path))
        .await
        .map_err(Error::internal)?;
    let job_uuid = new_uuid();
    let (job_uuid2, user) = (job_uuid.clone(), actor.user_uuid.clone());
    let stored = context::run(move |conn| {
        let tx = write_tx(conn)?;
        let doc_id = documents::insert(&tx, &new)?;
        jobs::insert(
            &tx,
            &job_uuid2,
            jobs::DOCUMENT_PROCESSING,
            Some(doc_id),
            Some(&user),
            None,
        )?;
        let doc = documents::get(&tx, doc_id)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("inserted document vanished")))?;
        tx.commit()?;
        Ok::<_, Error>(doc)
    })
    .await;
    let document = match stored {
        Ok(doc) => doc,
        Err(e) => {
            // No row points at the file: remove it.
            let _ = tokio::fs::remove_file(ctx.db.dir().join(&rel_path)).await;
            return Err(e);
        }
    };
    app.ingest.notify(ctx.db.company().id);
    Ok((
        StatusCode::ACCEPTED,
        Json(UploadResponse {
            document,
            job_id: job_uuid,
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct DocumentQuery {
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
    actor.require("documents:read")?;
    let page = validate::page(q.limit, q.offset)?;
    let filter = DocumentFilter {
        status: q
            .status
            .as_deref()
            .map(|s| validate::one_of("status", s, documents::STATUSES))
            .transpose()?,
        scope: q
            .scope
            .as_deref()
            .map(|s| validate::one_of("scope", s, SCOPES))
            .transpose()?,
        category: validate::opt_text("category", q.category.as_deref(), 100)?,
        q: validate::opt_text("q", q.q.as_deref(), 200)?,
    };
    let listing = context::run(move |conn| {
        let (items, total) = documents::list(conn, &actor.viewer(), &filter, page)?;
        Ok::<_, Error>(Listing::new(items, total, page))
    })
    .await?;
    Ok(Json(listing))
}

/// Loads a document the actor may see, or 404.
fn visible(conn: &rusqlite::Connection, actor: &Actor, id: &str) -> ApiResult<Document> {
    documents::get_visible(conn, &actor.viewer(), id)?
        .ok_or_else(|| Error::not_found("document"))
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
    actor.require("documents:read")?;
    let id = validate::id("document", &id)?;
    let found = context::read(move |conn| {
        let document = visible(conn, &actor, &id)?;
        let job = jobs::latest_for_document(conn, document.row_id)?;
        Ok::<_, Error>(DocumentResponse { document, job })
    })
    .await?;
    Ok(Json(found))
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
    actor.require("documents:update")?;
    let id = validate::id("document", &id)?;
    let patch = DocumentPatch {
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
    };
    let updated = context::run(move |conn| {
        let tx = write_tx(conn)?;
        let doc = visible(&tx, &actor, &id)?;
        actor.require_owner(&doc.uploaded_by, "the uploader", "this document")?;
        documents::update_metadata(&tx, doc.row_id, &patch)?;
        let doc =
            documents::get(&tx, doc.row_id)?.ok_or_else(|| Error::not_found("document"))?;
        tx.commit()?;
        Ok::<_, Error>(doc)
    })
    .await?;
    Ok(Json(updated))
}

/// Deletes a document, its chunks (and their keyword and vector index entries), its jobs
/// and its stored file.
#[utoipa::path(delete, path = "/api/documents/{id}", tag = "documents",
    params(("id" = String, Path, description = "document id")),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_document(actor: Actor, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    actor.require("documents:delete")?;
    let id = validate::id("document", &id)?;
    let (file_path, chunk_ids) = context::run(move |conn| {
        let tx = write_tx(conn)?;
        let doc = visible(&tx, &actor, &id)?;
        actor.require_owner(&doc.uploaded_by, "the uploader", "this document")?;
        let chunk_ids = chunks::ids_for_document(&tx, doc.row_id)?;
        documents::delete(&tx, doc.row_id)?;
        tx.commit()?;
        Ok::<_, Error>((doc.file_path, chunk_ids))
    })
    .await?;
    let ctx = context::current()?;
    // After the commit: the row is gone, so the file and index entries are unreachable; a
    // failure here leaves garbage, never a dangling document.
    if let Err(e) = tokio::fs::remove_file(ctx.db.dir().join(&file_path)).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, "could not remove a deleted document's file");
    }
    if !chunk_ids.is_empty() {
        // Takes the index's write lock, which a dump in progress can hold up: not here.
        let db = ctx.db.clone();
        tokio::task::spawn_blocking(move || hooks::on_chunks_removed(&*db, &chunk_ids)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
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
    actor.require("documents:read")?;
    let id = validate::id("document", &id)?;
    let page = validate::page(q.limit, q.offset)?;
    let listing = context::run(move |conn| {
        let doc = visible(conn, &actor, &id)?;
        let (items, total) = chunks::list_for_document(conn, doc.row_id, page)?;
        Ok::<_, Error>(Listing::new(items, total, page))
    })
    .await?;
    Ok(Json(listing))
}
