//! /api/admin/users, /api/admin/roles and /api/admin/migrations: the super admin manages
//! every account, what each role may do, and sees each company's schema version.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::json::{ApiJson, ApiPath, ApiQuery, ListResponse, Page};
use super::users::{self, CreateUser, UpdateUser, UserResponse};
use crate::app::AppState;
use crate::db::migrations::{self, MigrationSet};
use crate::error::{ApiError, ApiResult};
use crate::primary::companies;
use crate::primary::roles::{self, RoleWithPermissions};
use crate::primary::users::{self as repo, UserFilter};
use crate::tenant::Actor;
use crate::tenant::names::resolve_inside;

/// Permissions: users:manage, roles:manage, system:config (super admins only).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users).post(create_user))
        .route(
            "/api/admin/users/{id}",
            get(get_user).patch(update_user).delete(delete_user),
        )
        .route("/api/admin/roles", get(list_roles))
        .route(
            "/api/admin/roles/{name}/permissions",
            put(set_role_permissions),
        )
        .route("/api/admin/migrations", get(list_migrations))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    pub company_id: Option<String>,
    pub role: Option<String>,
    // Not `#[serde(flatten)] Page`: flattening loses the number parsing of query strings.
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// Resolves a company's public id (or slug) to its internal id; unknown → 404.
async fn company_id_of(app: &AppState, key: String) -> ApiResult<i64> {
    app.read_primary(move |conn| Ok(companies::find(conn, &key)?))
        .await?
        .map(|c| c.id)
        .ok_or_else(|| ApiError::not_found("company"))
}

async fn list_users(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(query): ApiQuery<UserQuery>,
) -> ApiResult<Json<ListResponse<UserResponse>>> {
    actor.require("users:manage")?;
    let page = Page::new(query.limit, query.offset)?;
    let company_id = match query.company_id {
        Some(key) => Some(company_id_of(&app, key).await?),
        None => None,
    };
    let filter = UserFilter {
        company_id,
        role: query.role,
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

async fn create_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(mut body): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserResponse>)> {
    actor.require("users:manage")?;
    let company_id = match body.company_id.take() {
        Some(key) => Some(
            company_id_of(&app, key)
                .await
                .map_err(|_| ApiError::invalid("company_id", "no such company"))?,
        ),
        None => None,
    };
    let user = users::create_user(&app, &actor, body, company_id).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

async fn get_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<UserResponse>> {
    actor.require("users:manage")?;
    Ok(Json(users::find_user(&app, id).await?.into()))
}

async fn update_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Json<UserResponse>> {
    actor.require("users:manage")?;
    let target = users::find_user(&app, id).await?;
    Ok(Json(
        users::update_user(&app, &actor, target, body, true)
            .await?
            .into(),
    ))
}

async fn delete_user(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    actor.require("users:manage")?;
    let target = users::find_user(&app, id).await?;
    if target.id == actor.user_id {
        return Err(ApiError::Conflict("you cannot delete yourself".into()));
    }
    users::delete_user(&app, &actor, target).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_roles(
    State(app): State<AppState>,
    actor: Actor,
) -> ApiResult<Json<Vec<RoleWithPermissions>>> {
    actor.require("roles:manage")?;
    Ok(Json(app.read_primary(|conn| Ok(roles::list(conn)?)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPermissions {
    pub permissions: Vec<String>,
}

async fn set_role_permissions(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<SetPermissions>,
) -> ApiResult<Json<Vec<RoleWithPermissions>>> {
    actor.require("roles:manage")?;
    if name == "super_admin" {
        return Err(ApiError::Conflict(
            "the super_admin role's permissions are fixed".into(),
        ));
    }
    let (role_name, requested) = (name.clone(), body.permissions.clone());
    let roles = app
        .with_primary(move |conn| {
            let known = roles::all_permissions(conn)?;
            if let Some(unknown) = body.permissions.iter().find(|p| !known.contains(*p)) {
                return Err(ApiError::invalid(
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
                return Err(ApiError::invalid(
                    "permissions",
                    format!("{p} belongs to super admins only"),
                ));
            }
            if !roles::set_permissions(conn, &name, &body.permissions)? {
                return Err(ApiError::not_found("role"));
            }
            Ok(roles::list(conn)?)
        })
        .await?;
    tracing::info!(by = %actor.email, role = %role_name, "role permissions changed");
    app.audit(
        &actor,
        "role.permissions",
        role_name,
        serde_json::json!({"permissions": requested}),
    )
    .await;
    Ok(Json(roles))
}

#[derive(Serialize)]
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

async fn list_migrations(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<Page>,
) -> ApiResult<Json<ListResponse<MigrationStatus>>> {
    actor.require("system:config")?;
    let page = page.checked()?;
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
    Ok(Json(ListResponse::new(items, total, page)))
}
