//! /api/company/users: a company admin manages the users of its own company. Users of other
//! companies answer 404; super admins are never created or touched here.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};

use super::json::{ApiJson, ApiPath, ApiQuery, ListResponse, Page};
use super::users::{self, CreateUser, UpdateUser, UserResponse};
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::primary::users::{self as repo, User, UserFilter};
use crate::tenant::Actor;

/// Permission: users:manage, and the caller must belong to a company.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/company/users",
            get(list_company_users).post(create_company_user),
        )
        .route(
            "/api/company/users/{id}",
            patch(update_company_user).delete(delete_company_user),
        )
}

fn own_company(actor: &Actor) -> ApiResult<i64> {
    actor.require("users:manage")?;
    actor.company_id.ok_or_else(|| {
        ApiError::Forbidden(
            "company administration is for company admins; super admins use /api/admin/users"
                .into(),
        )
    })
}

/// The target user if it belongs to the caller's company; 404 otherwise.
async fn company_user(app: &AppState, company_id: i64, id: String) -> ApiResult<User> {
    let user = users::find_user(app, id).await?;
    if user.company_id != Some(company_id) {
        return Err(ApiError::not_found("user"));
    }
    Ok(user)
}

async fn list_company_users(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<ListResponse<UserResponse>>> {
    let company_id = own_company(&actor)?;
    let page = page.checked()?;
    let filter = UserFilter {
        company_id: Some(company_id),
        role: None,
    };
    let (items, total) = app
        .with_primary(move |conn| Ok(repo::list(conn, &filter, page.limit, page.offset)?))
        .await?;
    Ok(Json(ListResponse::new(
        items.into_iter().map(Into::into).collect(),
        total,
        page,
    )))
}

async fn create_company_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserResponse>)> {
    let company_id = own_company(&actor)?;
    if body.company_id.is_some() {
        return Err(ApiError::invalid(
            "company_id",
            "users are created in your own company",
        ));
    }
    if body.role == "super_admin" {
        return Err(ApiError::invalid(
            "role",
            "must be one of admin, analyst, viewer",
        ));
    }
    let user = users::create_user(&app, &actor, body, Some(company_id)).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

async fn update_company_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserResponse>> {
    let company_id = own_company(&actor)?;
    let target = company_user(&app, company_id, id).await?;
    if target.id == actor.user_id && (body.role.is_some() || body.is_active == Some(false)) {
        return Err(ApiError::Conflict(
            "you cannot change your own role or deactivate yourself".into(),
        ));
    }
    Ok(Json(
        users::update_user(&app, &actor, target, body, false)
            .await?
            .into(),
    ))
}

async fn delete_company_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let company_id = own_company(&actor)?;
    let target = company_user(&app, company_id, id).await?;
    if target.id == actor.user_id {
        return Err(ApiError::Conflict("you cannot delete yourself".into()));
    }
    users::delete_user(&app, &actor, target).await?;
    Ok(StatusCode::NO_CONTENT)
}
