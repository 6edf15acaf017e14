//! /api/admin/users, /api/admin/roles and /api/admin/migrations: the super admin manages
//! every account, what each role may do, and sees each company's schema version.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::json::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::users::{CreateUser, UpdateUser, UserResponse};
use super::validate::{self, PageQuery};
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::accounts::{self, Scope};
use crate::service::migrations::{self, CompanySchema};
use crate::service::roles;
use crate::store::company::Listing;
use crate::store::primary::roles::Role;

/// Permissions: users:manage, roles:manage, system:config (super admins only).
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(end_user_sessions))
        .routes(routes!(list_roles))
        .routes(routes!(set_role_permissions))
        .routes(routes!(list_migrations))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// Only the users of this company (id or slug).
    pub company_id: Option<String>,
    /// Only the users with this role.
    pub role: Option<String>,
    // Not `#[serde(flatten)] Page`: flattening loses the number parsing of query strings.
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// Rows to skip (default 0).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub offset: Option<u32>,
}

/// Every account, optionally filtered by company and role.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", params(UserQuery),
    responses((status = 200, body = Listing<UserResponse>),
              (status = 404, description = "no such company", body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_users(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<UserQuery>,
) -> ApiResult<Json<Listing<UserResponse>>> {
    let scope = Scope::installation(&actor)?;
    let page = validate::page(query.limit, query.offset)?;
    let filter = accounts::Filter {
        company: query.company_id,
        role: query.role,
    };
    let (items, total) = accounts::list(&app, &scope, filter, page).await?;
    Ok(Json(Listing::new(
        items.into_iter().map(Into::into).collect(),
        total,
        page,
    )))
}

/// Creates an account: a company user (with `company_id`) or a super admin (without).
#[utoipa::path(post, path = "/api/admin/users", tag = "admin", request_body = CreateUser,
    responses((status = 201, body = UserResponse), (status = 400, body = ErrorBody),
              (status = 404, description = "no such company", body = ErrorBody),
              (status = 409, description = "the email is taken", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserResponse>)> {
    let scope = Scope::installation(&actor)?;
    let (account, company) = body.into_account();
    let user = accounts::create_user(&app, &scope, account, company).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

#[utoipa::path(get, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<UserResponse>> {
    let scope = Scope::installation(&actor)?;
    Ok(Json(accounts::get(&app, &scope, id).await?.into()))
}

/// Changes an account's name, role, password or active flag; deactivating it or setting a
/// password ends its sessions.
#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "user id")), request_body = UpdateUser,
    responses((status = 200, body = UserResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "would deactivate the last active super admin", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserResponse>> {
    let scope = Scope::installation(&actor)?;
    let user = accounts::update(&app, &scope, id, body.into()).await?;
    Ok(Json(user.into()))
}

#[utoipa::path(delete, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "user id")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
              (status = 409, description = "yourself, or the last active super admin", body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let scope = Scope::installation(&actor)?;
    accounts::delete(&app, &scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of an account (all its devices): its refresh tokens and access
/// tokens stop working on the next request. The account itself stays active.
#[utoipa::path(delete, path = "/api/admin/users/{id}/sessions", tag = "admin",
    params(("id" = String, Path, description = "user id")),
    responses((status = 204, description = "every session ended"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn end_user_sessions(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let scope = Scope::installation(&actor)?;
    accounts::end_sessions(&app, &scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every role and its permissions.
#[utoipa::path(get, path = "/api/admin/roles", tag = "admin",
    responses((status = 200, body = Vec<RoleWithPermissions>)),
    security(("bearer" = [])))]
async fn list_roles(
    State(app): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<RoleWithPermissions>>> {
    let roles = roles::list(&app, &actor).await?;
    Ok(Json(roles.into_iter().map(Into::into).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct RoleWithPermissions {
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
}

impl From<Role> for RoleWithPermissions {
    fn from(r: Role) -> Self {
        RoleWithPermissions {
            name: r.name,
            description: r.description,
            permissions: r.permissions,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPermissions {
    /// The role's whole new set of permissions.
    pub permissions: Vec<String>,
}

/// Replaces a role's permissions; answers every role with its permissions.
#[utoipa::path(put, path = "/api/admin/roles/{name}/permissions", tag = "admin",
    params(("name" = String, Path, description = "role name")), request_body = SetPermissions,
    responses((status = 200, body = Vec<RoleWithPermissions>), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "the super_admin role is fixed", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_role_permissions(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SetPermissions>,
) -> ApiResult<Json<Vec<RoleWithPermissions>>> {
    let roles = roles::set_permissions(&app, &actor, name, body.permissions).await?;
    Ok(Json(roles.into_iter().map(Into::into).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct MigrationStatus {
    pub company_id: String,
    pub name: String,
    pub slug: String,
    pub current_version: Option<i64>,
    pub latest_version: i64,
    pub pending_migrations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<CompanySchema> for MigrationStatus {
    fn from(s: CompanySchema) -> Self {
        MigrationStatus {
            company_id: s.company.uuid,
            name: s.company.name,
            slug: s.company.slug,
            current_version: s.version.as_ref().ok().copied(),
            latest_version: s.latest,
            pending_migrations: s.pending,
            error: s.version.err(),
        }
    }
}

/// Each company's schema version and pending migrations.
#[utoipa::path(get, path = "/api/admin/migrations", tag = "admin", params(PageQuery),
    responses((status = 200, body = Listing<MigrationStatus>),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_migrations(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<MigrationStatus>>> {
    let page = page.page()?;
    let (items, total) = migrations::company_versions(&app, &actor, page).await?;
    Ok(Json(Listing::new(
        items.into_iter().map(Into::into).collect(),
        total,
        page,
    )))
}
