//! GET /api/company: the caller's company, as routed through its tenant scope.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::openapi::ErrorBody;
use crate::app::AppState;
use crate::identity::Actor;
use crate::store::primary::companies;
use crate::tenant;

/// Permission: none beyond being a user of the company.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_company))
}

/// The answer of GET /api/company (documentation only: the handler builds it as JSON).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct CompanyInfo {
    id: String,
    name: String,
    slug: String,
    industry: Option<String>,
    /// The schema version of the company's database.
    schema_version: i64,
}

/// The caller's company.
#[utoipa::path(get, path = "/api/company", tag = "company",
    responses((status = 200, body = CompanyInfo), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_company(State(app): State<AppState>, _actor: Actor) -> ApiResult<Json<Value>> {
    let ctx = tenant::context::current()?;
    // The row, not the registry's copy: a rename shows at once.
    let id = ctx.db.company().id;
    let company = app
        .read_primary(move |conn| Ok(companies::get(conn, id)?))
        .await?
        .ok_or_else(|| Error::not_found("company"))?;
    Ok(Json(json!({
        "id": company.uuid,
        "name": company.name,
        "slug": company.slug,
        "industry": company.industry,
        "schema_version": ctx.db.schema_version(),
    })))
}
