//! /api/auth (login, refresh, logout) and /api/me: sessions on the primary database.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::ApiJson;
use super::openapi::ErrorBody;
use super::users::UserResponse;
use crate::app::AppState;
use crate::identity::Actor;
use crate::identity::password;
use crate::store::primary::refresh_tokens::{self, Rotation};
use crate::store::primary::users::{self, User, UserChanges};

/// Routes that need no token.
pub fn public_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
}

/// Routes for any authenticated user.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(logout))
        .routes(routes!(get_me))
        .routes(routes!(change_password))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(pattern = "text:line!", max_length = 254)]
    pub email: String,
    #[schema(max_length = 256)]
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always "Bearer".
    #[schema(value_type = String, example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    pub user: UserResponse,
}

/// The client address for rate limiting ("local" when not served over TCP, as in tests).
fn client_address(connect: Option<&ConnectInfo<SocketAddr>>) -> String {
    connect.map_or_else(|| "local".to_string(), |c| c.0.ip().to_string())
}

/// Logs in with email and password: an access token and a refresh token. Failed attempts
/// are rate limited per email and client address (429 with Retry-After).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse),
              (status = 400, body = ErrorBody),
              (status = 401, description = "wrong email or password, or the account is deactivated", body = ErrorBody),
              (status = 403, description = "`company_inactive`: the company is deactivated", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody),
              (status = 429, description = "too many failed attempts", body = ErrorBody,
               headers(("Retry-After" = u64, description = "seconds to wait")))))]
async fn login(
    State(app): State<AppState>,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let email = body.email.trim().to_lowercase();
    if email.is_empty() || email.chars().count() > 254 {
        return Err(Error::invalid("email", "must be an email address"));
    }
    if body.password.chars().count() > password::MAX_PASSWORD_CHARS {
        return Err(Error::invalid("password", "is too long"));
    }
    let address = client_address(connect.as_ref().map(|c| &c.0));
    let attempt = app
        .login_limiter
        .reserve(&email, &address)
        .map_err(|retry_after_secs| Error::RateLimited { retry_after_secs })?;
    let lookup = email.clone();
    let user = app
        .read_primary(move |conn| Ok(users::get_by_email(conn, &lookup)?))
        .await?;
    let candidate = body.password;
    // Unknown emails are verified against a dummy hash: the same cost, no timing oracle.
    let verified = match user.clone() {
        Some(user) => {
            app.hash_work(move || password::verify(&user.hashed_password, &candidate))
                .await?
        }
        None => {
            // The same cost as a real check; the result does not matter.
            app.hash_work(move || password::verify_dummy(&candidate))
                .await?;
            false
        }
    };
    let user = match user {
        Some(user) if verified => user,
        _ => {
            app.login_limiter.settle(attempt, false);
            return Err(Error::Unauthorized("wrong email or password".into()));
        }
    };
    if !user.is_active {
        return Err(Error::Unauthorized("this account is deactivated".into()));
    }
    if user.company_active == Some(false) {
        return Err(Error::company_inactive());
    }
    app.login_limiter.settle(attempt, true);
    let family = uuid::Uuid::new_v4().to_string();
    let (user_id, fam) = (user.id, family.clone());
    let refresh_token = app
        .with_primary(move |conn| {
            users::touch_last_login(conn, user_id)?;
            Ok(refresh_tokens::issue(conn, user_id, &fam)?)
        })
        .await?;
    issue_tokens(&app, user, &family, refresh_token)
}

fn issue_tokens(
    app: &AppState,
    user: User,
    family: &str,
    refresh_token: String,
) -> ApiResult<Json<TokenResponse>> {
    let (access_token, expires_in) = app
        .keys
        .issue(&user.uuid, user.company_uuid.as_deref(), &user.role, family)
        .map_err(Error::internal)?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token,
        user: UserResponse::from(user),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(min_length = 1, max_length = 256)]
    pub refresh_token: String,
}

/// A refresh token is 1 to 256 characters (the schema's limits).
fn check_refresh_token(token: &str) -> ApiResult<()> {
    if token.is_empty() || token.chars().count() > 256 {
        return Err(Error::invalid("refresh_token", "is not a refresh token"));
    }
    Ok(())
}

/// Trades a refresh token for a new pair (the old one is spent; reusing it revokes the
/// session).
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse),
              (status = 400, body = ErrorBody),
              (status = 401, description = "invalid, expired or reused refresh token, or the account or company is deactivated", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn refresh(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<Json<TokenResponse>> {
    check_refresh_token(&body.refresh_token)?;
    let token = body.refresh_token;
    let rotation = app
        .with_primary(move |conn| Ok(refresh_tokens::rotate(conn, &token)?))
        .await?;
    let (user_id, family, new_token) = match rotation {
        Rotation::Rotated {
            user_id,
            family,
            token,
        } => (user_id, family, token),
        Rotation::Invalid => {
            return Err(Error::Unauthorized(
                "invalid or expired refresh token".into(),
            ));
        }
        Rotation::Reused => {
            app.principals.invalidate();
            tracing::warn!("refresh token reused; its session family was revoked");
            return Err(Error::Unauthorized(
                "refresh token already used; the session has been revoked, log in again".into(),
            ));
        }
    };
    let user = app
        .with_primary(move |conn| Ok(users::get_by_id(conn, user_id)?))
        .await?
        .ok_or_else(|| Error::Unauthorized("invalid or expired refresh token".into()))?;
    if !user.is_active || user.company_active == Some(false) {
        let fam = family.clone();
        app.with_primary(move |conn| Ok(refresh_tokens::revoke_family(conn, &fam)?))
            .await?;
        app.principals.invalidate();
        return Err(Error::Unauthorized(
            "this account or its company is deactivated".into(),
        ));
    }
    issue_tokens(&app, user, &family, new_token)
}

/// Ends the session of a refresh token (unknown tokens are ignored): its refresh token and
/// every access token issued for it stop working at once.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "logged out"), (status = 400, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn logout(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<StatusCode> {
    check_refresh_token(&body.refresh_token)?;
    let token = body.refresh_token;
    app.with_primary(move |conn| {
        Ok(refresh_tokens::revoke_by_token(
            conn,
            actor.user_id,
            &token,
        )?)
    })
    .await?;
    app.principals.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct MeResponse {
    pub id: String,
    pub email: String,
    pub full_name: Option<String>,
    pub role: String,
    pub company_id: Option<String>,
    pub company_name: Option<String>,
    pub permissions: Vec<String>,
}

/// The caller's account and permissions.
#[utoipa::path(get, path = "/api/me", tag = "auth",
    responses((status = 200, body = MeResponse)),
    security(("bearer" = [])))]
async fn get_me(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<MeResponse>> {
    let user_id = actor.user_id;
    let user = app
        .read_primary(move |conn| Ok(users::get_by_id(conn, user_id)?))
        .await?
        .ok_or_else(|| Error::Unauthorized("invalid or expired token".into()))?;
    let mut permissions: Vec<String> = actor.permissions.iter().cloned().collect();
    permissions.sort();
    Ok(Json(MeResponse {
        id: user.uuid,
        email: user.email,
        full_name: user.full_name,
        role: user.role,
        company_id: user.company_uuid,
        company_name: user.company_name,
        permissions,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(max_length = 256)]
    pub current_password: String,
    #[schema(min_length = 8, max_length = 256)]
    pub new_password: String,
}

/// Changes the caller's password; the caller's other sessions end.
#[utoipa::path(post, path = "/api/me/password", tag = "auth", request_body = ChangePassword,
    responses((status = 204, description = "changed"), (status = 400, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, description = "weak new password or wrong current password", body = ErrorBody)),
    security(("bearer" = [])))]
async fn change_password(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<ChangePassword>,
) -> ApiResult<StatusCode> {
    password::check_strength(&body.new_password).map_err(|m| Error::invalid("new_password", m))?;
    if body.current_password.chars().count() > password::MAX_PASSWORD_CHARS {
        return Err(Error::invalid("current_password", "is too long"));
    }
    let user_id = actor.user_id;
    let user = app
        .with_primary(move |conn| Ok(users::get_by_id(conn, user_id)?))
        .await?
        .ok_or_else(|| Error::Unauthorized("invalid or expired token".into()))?;
    let (current, new) = (body.current_password, body.new_password);
    let hashed = app
        .hash_work(move || {
            if !password::verify(&user.hashed_password, &current) {
                return Ok(None);
            }
            password::hash(&new).map(Some)
        })
        .await?
        .map_err(|e| Error::internal(anyhow::anyhow!("hashing: {e}")))?
        .ok_or_else(|| Error::Forbidden("current_password is wrong".into()))?;
    let session = actor.session.clone();
    app.with_primary(move |conn| {
        let tx = crate::store::db::write_tx(conn)?;
        users::update(
            &tx,
            user_id,
            &UserChanges {
                hashed_password: Some(&hashed),
                ..Default::default()
            },
        )?;
        // Other sessions end; this one keeps its refresh token.
        refresh_tokens::revoke_all_for_user(&tx, user_id, Some(&session))?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    app.principals.invalidate();
    Ok(StatusCode::NO_CONTENT)
}
