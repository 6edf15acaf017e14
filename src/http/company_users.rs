//! /api/company/users: a company admin manages the users of its own company. Users of other
//! companies answer 404; super admins are never created or touched here.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::json::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::users::{CreateCompanyUser, UpdateCompanyUser, UserResponse};
use super::validate::PageQuery;
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::accounts::{self, Scope};
use crate::store::company::Listing;

/// Permission: users:manage, and the caller must belong to a company.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_company_users, create_company_user))
        .routes(routes!(update_company_user, delete_company_user))
}

/// The users of the caller's company.
#[utoipa::path(get, path = "/api/company/users", tag = "company-admin", params(PageQuery),
    responses((status = 200, body = Listing<UserResponse>),
              (status = 403, description = "needs users:manage and a company", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_company_users(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<UserResponse>>> {
    let scope = Scope::own_company(&actor)?;
    let page = page.page()?;
    let filter = accounts::Filter::default();
    let (items, total) = accounts::list(&app, &scope, filter, page).await?;
    Ok(Json(Listing::new(
        items.into_iter().map(Into::into).collect(),
        total,
        page,
    )))
}

/// Creates a user (admin, analyst or viewer) in the caller's company.
#[utoipa::path(post, path = "/api/company/users", tag = "company-admin", request_body = CreateCompanyUser,
    responses((status = 201, body = UserResponse), (status = 400, body = ErrorBody),
              (status = 403, description = "needs users:manage and a company", body = ErrorBody),
              (status = 409, description = "the email is taken", body = ErrorBody),
              (status = 429, description = "told too often that an email is taken (20 an hour)", body = ErrorBody,
               headers(("Retry-After" = u64, description = "seconds to wait"))),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_company_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<CreateCompanyUser>,
) -> ApiResult<(StatusCode, Json<UserResponse>)> {
    let scope = Scope::own_company(&actor)?;
    let user = accounts::create_user(&app, &scope, body.into(), None).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Changes a user of the caller's company (not its password).
#[utoipa::path(patch, path = "/api/company/users/{id}", tag = "company-admin",
    params(("id" = String, Path, description = "user id")), request_body = UpdateCompanyUser,
    responses((status = 200, body = UserResponse), (status = 400, body = ErrorBody),
              (status = 403, description = "needs users:manage and a company", body = ErrorBody),
              (status = 404, description = "no such user in the company", body = ErrorBody),
              (status = 409, description = "your own role or active flag", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_company_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateCompanyUser>,
) -> ApiResult<Json<UserResponse>> {
    if let Some(role) = &body.role {
        crate::identity::accounts::check_role(role, true)?;
    }
    let scope = Scope::own_company(&actor)?;
    let user = accounts::update(&app, &scope, id, body.into()).await?;
    Ok(Json(user.into()))
}

/// Deletes a user of the caller's company.
#[utoipa::path(delete, path = "/api/company/users/{id}", tag = "company-admin",
    params(("id" = String, Path, description = "user id")),
    responses((status = 204, description = "deleted"),
              (status = 403, description = "needs users:manage and a company", body = ErrorBody),
              (status = 404, description = "no such user in the company", body = ErrorBody),
              (status = 409, description = "yourself", body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_company_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let scope = Scope::own_company(&actor)?;
    accounts::delete(&app, &scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
