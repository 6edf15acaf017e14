//! /api/company/users: a company admin manages the users of its own company. Users of other
//! companies answer 404; super admins are never created or touched here.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::users::{
    self, CreateCompanyUser, CreateUser, UpdateCompanyUser, UpdateUser, UserResponse,
};
use super::validate::PageQuery;
use crate::app::AppState;
use crate::identity::Actor;
use crate::store::company::Listing;
use crate::store::primary::users::{self as repo, User, UserFilter};

/// Permission: users:manage, and the caller must belong to a company.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_company_users, create_company_user))
        .routes(routes!(update_company_user, delete_company_user))
}

fn own_company(actor: &Actor) -> ApiResult<i64> {
    actor.require("users:manage")?;
    actor.company_id.ok_or_else(|| {
        Error::Forbidden(
            "company administration is for company admins; super admins use /api/admin/users"
                .into(),
        )
    })
}

/// The target user if it belongs to the caller's company; 404 otherwise.
async fn company_user(app: &AppState, company_id: i64, id: String) -> ApiResult<User> {
    let user = users::find_user(app, id).await?;
    if user.company_id != Some(company_id) {
        return Err(Error::not_found("user"));
    }
    Ok(user)
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
    let company_id = own_company(&actor)?;
    let page = page.page()?;
    let filter = UserFilter {
        company_id: Some(company_id),
        role: None,
    };
    let (items, total) = app
        .with_primary(move |conn| Ok(repo::list(conn, &filter, page.limit, page.offset)?))
        .await?;
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
    let company_id = own_company(&actor)?;
    if body.role == "super_admin" {
        return Err(Error::invalid(
            "role",
            "must be one of admin, analyst, viewer",
        ));
    }
    let body = CreateUser::from(body);
    let user = users::create_user(&app, &actor, body, Some(company_id)).await?;
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
    let body = UpdateUser::from(body);
    let company_id = own_company(&actor)?;
    let target = company_user(&app, company_id, id).await?;
    if target.id == actor.user_id && (body.role.is_some() || body.is_active == Some(false)) {
        return Err(Error::Conflict(
            "you cannot change your own role or deactivate yourself".into(),
        ));
    }
    Ok(Json(
        users::update_user(&app, &actor, target, body, false)
            .await?
            .into(),
    ))
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
    let company_id = own_company(&actor)?;
    let target = company_user(&app, company_id, id).await?;
    if target.id == actor.user_id {
        return Err(Error::Conflict("you cannot delete yourself".into()));
    }
    users::delete_user(&app, &actor, target).await?;
    Ok(StatusCode::NO_CONTENT)
}
