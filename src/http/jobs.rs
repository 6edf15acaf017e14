//! Background jobs of the caller's company: document processing and reindexing, with their
//! progress. Admins see every job; others the jobs they started and those of documents they
//! may see.

use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::json::{ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::validate;
use super::views::jobs::Job;
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::jobs as service;
use crate::store::company::{Listing, jobs};

const TYPES: &[&str] = &[jobs::DOCUMENT_PROCESSING, jobs::REINDEX];

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(get_job))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct JobQuery {
    /// document_processing or reindex.
    #[param(pattern = "^(document_processing|reindex)$")]
    job_type: Option<String>,
    /// pending, processing, completed or failed.
    #[param(pattern = "^(pending|processing|completed|failed)$")]
    status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Rows to skip (default 0).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    offset: Option<u32>,
}

/// Lists the jobs the caller may see, newest first (a reindex after an embedder change is
/// visible to admins here, with its progress).
#[utoipa::path(get, path = "/api/jobs", tag = "documents", params(JobQuery),
    responses((status = 200, body = inline(Listing<Job>)), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_jobs(actor: Actor, ApiQuery(q): ApiQuery<JobQuery>) -> ApiResult<Json<Listing<Job>>> {
    let page = validate::page(q.limit, q.offset)?;
    let job_type = q
        .job_type
        .as_deref()
        .map(|t| validate::one_of("job_type", t, TYPES))
        .transpose()?;
    let status = q
        .status
        .as_deref()
        .map(|s| validate::one_of("status", s, jobs::STATUSES))
        .transpose()?;
    let listing = service::list(actor, job_type, status, page).await?;
    Ok(Json(listing.map(Job::from)))
}

/// A processing job's status and progress.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "documents",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_job(actor: Actor, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Job>> {
    let id = validate::id("job", &id)?;
    Ok(Json(service::get(actor, id).await?.into()))
}
