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
use super::validate::{self, double_option};
use crate::app::AppState;
use crate::identity::Actor;
use crate::store::company::reports::{self, NewReport, Report, ReportPatch};
use crate::store::company::{Listing, new_uuid};
use crate::store::db::write_tx;
use crate::tenant::context;

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
    #[schema(value_type = crate::store::company::ObjectOrArray)]
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
    #[schema(value_type = Option<crate::store::company::ObjectOrArray>)]
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
    actor.require("reports:generate")?;
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
    let created = context::run(move |conn| {
        let tx = write_tx(conn)?;
        let uuid = new_uuid();
        reports::insert(&tx, &uuid, &actor.user_uuid, &new)?;
        let r = reports::get_by_uuid(&tx, &uuid)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("inserted report vanished")))?;
        tx.commit()?;
        Ok::<_, Error>(r)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The company's saved reports, newest first.
#[utoipa::path(get, path = "/api/reports", tag = "reports", params(ReportQuery),
    responses((status = 200, body = Listing<Report>), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_reports(
    actor: Actor,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Json<Listing<Report>>> {
    actor.require("reports:read")?;
    let page = validate::page(q.limit, q.offset)?;
    let kind = validate::opt_text("report_type", q.report_type.as_deref(), 100)?;
    let listing = context::run(move |conn| {
        let (items, total) = reports::list(conn, kind.as_deref(), page)?;
        Ok::<_, Error>(Listing::new(items, total, page))
    })
    .await?;
    Ok(Json(listing))
}

fn found(conn: &rusqlite::Connection, id: &str) -> ApiResult<Report> {
    reports::get_by_uuid(conn, id)?.ok_or_else(|| Error::not_found("report"))
}

#[utoipa::path(get, path = "/api/reports/{id}", tag = "reports",
    params(("id" = String, Path, description = "report id")),
    responses((status = 200, body = Report), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_report(actor: Actor, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Report>> {
    actor.require("reports:read")?;
    let id = validate::id("report", &id)?;
    Ok(Json(context::read(move |conn| found(conn, &id)).await?))
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
    actor.require("reports:generate")?;
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
    let updated = context::run(move |conn| {
        let tx = write_tx(conn)?;
        let r = found(&tx, &id)?;
        actor.require_owner(&r.created_by, "the author", "this report")?;
        reports::update(&tx, r.row_id, &patch)?;
        let r = found(&tx, &id)?;
        tx.commit()?;
        Ok::<_, Error>(r)
    })
    .await?;
    Ok(Json(updated))
}

#[utoipa::path(delete, path = "/api/reports/{id}", tag = "reports",
    params(("id" = String, Path, description = "report id")),
    responses((status = 204, description = "deleted"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_report(actor: Actor, ApiPath(id): ApiPath<String>) -> ApiResult<StatusCode> {
    actor.require("reports:generate")?;
    let id = validate::id("report", &id)?;
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        let r = found(&tx, &id)?;
        actor.require_owner(&r.created_by, "the author", "this report")?;
        reports::delete(&tx, r.row_id)?;
        tx.commit()?;
        Ok::<_, Error>(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
