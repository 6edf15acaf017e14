//! The HTTP surface: the router, its layers (limits, tracing, panics) and the handlers,
//! one module per route group.

pub mod admin_companies;
pub mod admin_users;
pub mod agent_logs;
pub mod auth;
pub mod company;
pub mod company_users;
pub mod conversations;
pub mod documents;
pub mod guard;
pub mod health;
pub mod json;
pub mod multipart;
pub mod openapi;
pub mod profile;
pub mod reports;
pub mod search;
pub mod upload;
pub mod usage;
pub mod users;
pub mod validate;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::error::ApiError;

/// Largest JSON body accepted anywhere (uploads have their own limit).
pub const MAX_JSON_BODY: usize = 1 << 20;

/// Builds the whole application router.
///
/// Three groups, each behind its own gate: public (health, login, refresh); authenticated
/// on the primary database (/api/me, /api/company/users, and /api/admin for super admins);
/// company data, whose handlers run inside the caller's `TenantCtx`.
pub fn router(state: AppState) -> Router {
    let admin = Router::new()
        .merge(admin_companies::routes())
        .merge(admin_users::routes())
        .route_layer(middleware::from_fn(guard::require_super_admin));
    let authenticated = Router::new()
        .merge(auth::routes())
        .merge(company_users::routes())
        .merge(admin)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            guard::authenticate,
        ));
    let company = company_data_routes().route_layer(middleware::from_fn_with_state(
        state.clone(),
        guard::enter_company,
    ));
    Router::new()
        .merge(health::routes())
        .merge(openapi::routes())
        .merge(auth::public_routes())
        .merge(authenticated)
        .merge(company)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(),
                                        request_id = %id, company = tracing::field::Empty)
                })
                .on_response(|res: &Response, latency: Duration, _span: &tracing::Span| {
                    tracing::debug!(status = res.status().as_u16(), ?latency, "response");
                }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Routes over the caller's company database. Each handler starts with
/// `actor.require("<resource>:<action>")?`.
fn company_data_routes() -> Router<AppState> {
    // The workspace routes (documents, jobs, conversations, agent logs, usage, profile,
    // reports) come with their OpenAPI descriptions; see `openapi`.
    let (workspace, _) = openapi::documented().split_for_parts();
    Router::new().merge(company::routes()).merge(workspace)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

async fn method_not_allowed() -> Response {
    let body = axum::Json(serde_json::json!({"error": {
        "code": "method_not_allowed", "message": "this method is not allowed on this route"}}));
    (StatusCode::METHOD_NOT_ALLOWED, body).into_response()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response()
}
