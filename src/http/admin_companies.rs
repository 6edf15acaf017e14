//! /api/admin/companies: the super admin creates, inspects, changes and deletes companies.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::validate::{self, PageQuery};
use super::views::companies::CompanyResponse;
use crate::app::AppState;
use crate::identity::Actor;
use crate::ops::migrate::CompanyReport;
use crate::service::companies::{self, CompanyChanges};
use crate::store::company::Listing;
use crate::tenant::names::CompanyName;
use crate::tenant::provision::NewCompany;

/// Permission: companies:manage (super admins; the group also requires the role).
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_companies, create_company))
        .routes(routes!(get_company, update_company, delete_company))
        .routes(routes!(migrate_company))
}

/// Every company, by creation.
#[utoipa::path(get, path = "/api/admin/companies", tag = "admin", params(PageQuery),
    responses((status = 200, body = Listing<CompanyResponse>),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_companies(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<CompanyResponse>>> {
    let page = page.page()?;
    let listing = companies::list(&app, &actor, page).await?;
    Ok(Json(listing.map(|company| {
        let open = app.registry.is_open(company.id);
        CompanyResponse::new(company, open, None)
    })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompany {
    #[schema(pattern = "text:company-name", max_length = 100)]
    pub name: String,
    /// Derived from the name when absent.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,62}$")]
    pub slug: Option<String>,
    #[schema(pattern = "text:line", max_length = 100)]
    pub industry: Option<String>,
}

/// Creates a company and its database.
#[utoipa::path(post, path = "/api/admin/companies", tag = "admin", request_body = CreateCompany,
    responses((status = 201, body = CompanyResponse), (status = 400, body = ErrorBody),
              (status = 409, description = "the name or slug is taken", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<CreateCompany>,
) -> ApiResult<(StatusCode, Json<CompanyResponse>)> {
    let input = NewCompany {
        name: body.name,
        slug: body.slug,
        industry: body.industry,
    };
    let company = companies::create(&app, &actor, input).await?;
    Ok((
        StatusCode::CREATED,
        Json(CompanyResponse::new(company, false, None)),
    ))
}

/// A company with its statistics.
#[utoipa::path(get, path = "/api/admin/companies/{id}", tag = "admin",
    params(("id" = String, Path, description = "company id or slug")),
    responses((status = 200, body = CompanyResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CompanyResponse>> {
    let company = companies::find(&app, &actor, id).await?;
    let stats = companies::stats(&app, &actor, &company).await?;
    Ok(Json(CompanyResponse::new(company, stats.open, Some(stats))))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCompany {
    #[schema(pattern = "text:company-name", max_length = 100)]
    pub name: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "super::validate::double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 100)]
    pub industry: Option<Option<String>>,
    pub is_active: Option<bool>,
}

/// Renames a company, sets its industry, or (de)activates it.
#[utoipa::path(patch, path = "/api/admin/companies/{id}", tag = "admin",
    params(("id" = String, Path, description = "company id or slug")),
    request_body = UpdateCompany,
    responses((status = 200, body = CompanyResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "the name is taken", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateCompany>,
) -> ApiResult<Json<CompanyResponse>> {
    let company = companies::find(&app, &actor, id).await?;
    let changes = CompanyChanges {
        name: match &body.name {
            Some(raw) => {
                Some(CompanyName::parse(raw).map_err(|e| Error::invalid(e.field, e.message))?)
            }
            None => None,
        },
        industry: body
            .industry
            .map(|i| validate::opt_text("industry", i.as_deref(), 100))
            .transpose()?,
        is_active: body.is_active,
    };
    let updated = companies::update(&app, &actor, &company, changes).await?;
    let open = app.registry.is_open(updated.id);
    Ok(Json(CompanyResponse::new(updated, open, None)))
}

/// Deletes a company, its users and its files.
#[utoipa::path(delete, path = "/api/admin/companies/{id}", tag = "admin",
    params(("id" = String, Path, description = "company id or slug")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let company = companies::find(&app, &actor, id).await?;
    companies::delete(&app, &actor, company).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs the company's pending migrations now (backed up first). While it runs, the company's
/// requests answer 503; a second migration of the same company at once answers 409.
#[utoipa::path(post, path = "/api/admin/companies/{id}/migrate", tag = "admin",
    params(("id" = String, Path, description = "company id or slug")),
    responses((status = 200, description = "migrated or already current", body = CompanyReport),
              (status = 403, description = "needs system:config", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "already being migrated", body = ErrorBody),
              (status = 503, description = "the migration failed and was rolled back", body = ErrorBody)),
    security(("bearer" = [])))]
async fn migrate_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CompanyReport>> {
    let company = companies::find(&app, &actor, id).await?;
    Ok(Json(companies::migrate(&app, &actor, &company).await?))
}
