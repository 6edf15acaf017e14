//! /api/admin/users, /api/admin/roles and /api/admin/migrations: the super admin manages
//! every account, what each role may do, and sees each company's schema version.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::users::{CreateUser, UpdateUser, UserResponse};
use super::validate::{self, PageQuery};
use crate::app::AppState;
use crate::identity::Actor;
use crate::service::accounts::{self, Scope};
use crate::store::company::Listing;
use crate::store::db::migrations::{self, MigrationSet};
use crate::store::db::write_tx;
use crate::store::primary::roles::{self, RoleWithPermissions};
use crate::store::primary::{audit, companies};
use crate::tenant::names::resolve_inside;

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
    actor.require("roles:manage")?;
    Ok(Json(app.read_primary(|conn| Ok(roles::list(conn)?)).await?))
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
    actor.require("roles:manage")?;
    if name == "super_admin" {
        return Err(Error::Conflict(
            "the super_admin role's permissions are fixed".into(),
        ));
    }
    let (role_name, actor_id) = (name.clone(), actor.user_id);
    let roles = app
        .with_primary(move |conn| {
            let known = roles::all_permissions(conn)?;
            if let Some(unknown) = body.permissions.iter().find(|p| !known.contains(*p)) {
                return Err(Error::invalid(
                    "permissions",
                    format!("unknown permission {unknown:?}"),
                ));
            }
            let reserved = [
                "admin:full",
                "companies:manage",
                "roles:manage",
                "system:config",
            ];
            if let Some(p) = body
                .permissions
                .iter()
                .find(|p| reserved.contains(&p.as_str()))
            {
                return Err(Error::invalid(
                    "permissions",
                    format!("{p} belongs to super admins only"),
                ));
            }
            // The change and its audit row commit together.
            let tx = write_tx(conn)?;
            if !roles::set_permissions(&tx, &name, &body.permissions)? {
                return Err(Error::not_found("role"));
            }
            let detail = serde_json::json!({"permissions": body.permissions});
            audit::record(&tx, actor_id, "role.permissions", &name, &detail)?;
            tx.commit()?;
            Ok(roles::list(conn)?)
        })
        .await?;
    app.principals.invalidate();
    tracing::info!(by = %actor.email, role = %role_name, "role permissions changed");
    Ok(Json(roles))
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
    actor.require("system:config")?;
    let page = page.page()?;
    let data_dir = app.data_dir.clone();
    let (items, total) = app
        .with_primary(move |conn| {
            let (list, total) = companies::list(conn, page.limit, page.offset)?;
            let latest = MigrationSet::Company.latest();
            let items = list
                .into_iter()
                .map(|c| {
                    let version = resolve_inside(&data_dir, &c.db_path)
                        .map_err(|e| e.to_string())
                        .and_then(|p| {
                            migrations::file_version(&p, MigrationSet::Company)
                                .map_err(|e| e.to_string())
                        });
                    MigrationStatus {
                        company_id: c.uuid,
                        name: c.name,
                        slug: c.slug,
                        current_version: version.as_ref().ok().copied(),
                        latest_version: latest,
                        pending_migrations: version
                            .as_ref()
                            .map(|v| MigrationSet::Company.pending_after(*v))
                            .unwrap_or_default(),
                        error: version.err(),
                    }
                })
                .collect();
            Ok((items, total))
        })
        .await?;
    Ok(Json(Listing::new(items, total, page)))
}
