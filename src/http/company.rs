//! GET /api/company: the caller's company, as routed through its tenant scope.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::openapi::ErrorBody;
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::companies;

/// Permission: none beyond being a user of the company.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_company))
}

/// The answer of GET /api/company.
#[derive(Serialize, ToSchema)]
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
async fn get_company(State(app): State<AppState>, _actor: Actor) -> ApiResult<Json<CompanyInfo>> {
    let (company, schema_version) = companies::current(&app).await?;
    Ok(Json(CompanyInfo {
        id: company.uuid,
        name: company.name,
        slug: company.slug,
        industry: company.industry,
        schema_version,
    }))
}
