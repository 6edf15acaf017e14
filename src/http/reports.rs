//! /api/reports: saved reports. Everyone with reports:read sees the company's reports;
//! creating needs reports:generate, and changing or deleting one is for its author and
//! company admins.

use axum::Json;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::trash::DeleteQuery;
use super::validate::{self, double_option};
use super::views::reports::{ObjectOrArray, Report};
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::reports as service;
use crate::store::company::Listing;
use crate::store::company::reports::{NewReport, ReportPatch};
use crate::store::company::trash::Kind;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_report, list_reports))
        .routes(routes!(get_report, update_report, delete_report))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    #[param(pattern = "text:line", max_length = 100)]
    report_type: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// Rows to skip (default 0).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    offset: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReport {
    #[schema(pattern = "text:line!", max_length = 500)]
    pub title: String,
    #[schema(pattern = "text:line!", max_length = 100)]
    pub report_type: String,
    /// The report content: any JSON object or array.
    #[schema(value_type = ObjectOrArray)]
    pub report_data: Value,
    #[schema(max_items = 50, value_type = Option<Vec<super::validate::Tag>>)]
    pub tags: Option<Vec<String>>,
    /// 0 to 1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<f64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateReport {
    #[schema(pattern = "text:line!", max_length = 500)]
    pub title: Option<String>,
    #[schema(pattern = "text:line!", max_length = 100)]
    pub report_type: Option<String>,
    #[schema(value_type = Option<ObjectOrArray>)]
    pub report_data: Option<Value>,
    #[schema(max_items = 50, value_type = Option<Vec<super::validate::Tag>>)]
    pub tags: Option<Vec<String>>,
    /// null clears it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<f64>)]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<Option<f64>>,
}

fn report_type(v: &str) -> ApiResult<String> {
    validate::text("report_type", v, 100)
}

fn report_data(v: Value) -> ApiResult<Value> {
    if v.is_object() || v.is_array() {
        Ok(v)
    } else {
        Err(Error::invalid(
            "report_data",
            "must be a JSON object or array",
        ))
    }
}

/// Saves a report.
#[utoipa::path(post, path = "/api/reports", tag = "reports", request_body = CreateReport,
    responses((status = 201, body = Report), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_report(
    actor: Actor,
    ApiJson(body): ApiJson<CreateReport>,
) -> ApiResult<(StatusCode, Json<Report>)> {
    let new = NewReport {
        title: validate::text("title", &body.title, 500)?,
        report_type: report_type(&body.report_type)?,
        report_data: report_data(body.report_data)?,
        tags: validate::tags("tags", body.tags.as_deref().unwrap_or_default())?,
        confidence: body
            .confidence
            .map(|c| validate::unit_interval("confidence", c))
            .transpose()?,
    };
    let created = service::create(actor, new).await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// The company's saved reports, newest first.
#[utoipa::path(get, path = "/api/reports", tag = "reports", params(ReportQuery),
    responses((status = 200, body = Listing<Report>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_reports(
    actor: Actor,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Json<Listing<Report>>> {
    let page = validate::page(q.limit, q.offset)?;
    let kind = validate::opt_text("report_type", q.report_type.as_deref(), 100)?;
    let listing = service::list(actor, kind, page).await?;
    Ok(Json(listing.map(Report::from)))
}

#[utoipa::path(get, path = "/api/reports/{id}", tag = "reports",
    params(("id" = String, Path, description = "report id")),
    responses((status = 200, body = Report), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_report(actor: Actor, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Report>> {
    let id = validate::id("report", &id)?;
    Ok(Json(service::get(actor, id).await?.into()))
}

#[utoipa::path(patch, path = "/api/reports/{id}", tag = "reports",
    params(("id" = String, Path, description = "report id")), request_body = UpdateReport,
    responses((status = 200, body = Report), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_report(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateReport>,
) -> ApiResult<Json<Report>> {
    let id = validate::id("report", &id)?;
    let patch = ReportPatch {
        title: body
            .title
            .as_deref()
            .map(|t| validate::text("title", t, 500))
            .transpose()?,
        report_type: body.report_type.as_deref().map(report_type).transpose()?,
        report_data: body.report_data.map(report_data).transpose()?,
        tags: body
            .tags
            .as_deref()
            .map(|t| validate::tags("tags", t))
            .transpose()?,
        confidence: body
            .confidence
            .map(|c| {
                c.map(|c| validate::unit_interval("confidence", c))
                    .transpose()
            })
            .transpose()?,
    };
    let updated = service::update(actor, id, patch).await?;
    Ok(Json(updated.into()))
}

/// Moves a report to the trash (restorable for the retention period, then purged).
/// `permanent=true` (company admins) purges now.
#[utoipa::path(delete, path = "/api/reports/{id}", tag = "reports",
    params(("id" = String, Path, description = "report id"), DeleteQuery),
    responses((status = 204, description = "in the trash (or purged)"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_report(
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<StatusCode> {
    super::trash::delete(&actor, Kind::Report, &id, query).await
}
