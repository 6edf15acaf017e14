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
use crate::service::sessions::{self, Me, Session};

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

impl From<Session> for TokenResponse {
    fn from(s: Session) -> Self {
        TokenResponse {
            access_token: s.access_token,
            token_type: "Bearer",
            expires_in: s.expires_in,
            refresh_token: s.refresh_token,
            user: UserResponse::from(s.user),
        }
    }
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
    let address = client_address(connect.as_ref().map(|c| &c.0));
    let session = sessions::login(&app, &body.email, body.password, &address).await?;
    Ok(Json(session.into()))
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
    let session = sessions::refresh(&app, body.refresh_token).await?;
    Ok(Json(session.into()))
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
    sessions::logout(&app, &actor, body.refresh_token).await?;
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

impl From<Me> for MeResponse {
    fn from(me: Me) -> Self {
        let user = me.user;
        MeResponse {
            id: user.uuid,
            email: user.email,
            full_name: user.full_name,
            role: user.role,
            company_id: user.company_uuid,
            company_name: user.company_name,
            permissions: me.permissions,
        }
    }
}

/// The caller's account and permissions.
#[utoipa::path(get, path = "/api/me", tag = "auth",
    responses((status = 200, body = MeResponse)),
    security(("bearer" = [])))]
async fn get_me(State(app): State<AppState>, actor: Actor) -> ApiResult<Json<MeResponse>> {
    Ok(Json(sessions::me(&app, &actor).await?.into()))
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
    sessions::change_password(&app, &actor, body.current_password, body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}
