//! The HTTP surface: the router, its layers (limits, tracing, panics) and the handlers,
//! one module per route group.

pub mod admin_archive;
pub mod admin_companies;
pub mod admin_users;
pub mod agent_logs;
pub mod auth;
pub mod body;
pub mod company;
pub mod company_users;
pub mod conversations;
pub mod documents;
pub mod error;
pub mod guard;
pub mod health;
pub mod jobs;
pub mod json;
pub mod library;
pub mod metrics;
pub mod multipart;
pub mod openapi;
pub mod profile;
pub mod reports;
pub mod search;
pub mod server;
pub mod trash;
pub mod upload;
pub mod usage;
pub mod users;
pub mod validate;
pub mod views;

use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use axum::{Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::error::Error;

/// Largest JSON body accepted anywhere (uploads have their own limit).
pub const MAX_JSON_BODY: usize = 1 << 20;

/// The gates in front of the route groups (see [`assemble`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// /api/admin: `guard::require_super_admin` (inside `Authenticated`).
    SuperAdmin,
    /// The primary-database routes: `guard::authenticate`.
    Authenticated,
    /// Company data: `guard::enter_company`.
    Company,
    /// The global library: `guard::enter_library` (inside `SuperAdmin` or `Company`).
    Library,
}

/// Every route, in its group, with its OpenAPI description: the one source of both the
/// router and the document.
///
/// Three groups: public (health, metrics, the document, login, refresh); authenticated on
/// the primary database (/api/me, /api/company/users, and /api/admin for super admins);
/// company data, whose handlers run inside the caller's `TenantCtx`. `gate` puts a group
/// behind its middleware (the router) or leaves it as it is (the document); each group's
/// router and description are then split and merged.
pub fn assemble(
    gate: impl Fn(Gate, OpenApiRouter<AppState>) -> OpenApiRouter<AppState>,
) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let public = OpenApiRouter::new()
        .merge(health::api())
        .merge(openapi::api())
        .merge(auth::public_api());
    let admin = gated(
        &gate,
        Gate::SuperAdmin,
        OpenApiRouter::new()
            .merge(admin_companies::api())
            .merge(admin_archive::api())
            .merge(admin_users::api())
            .merge(gated(&gate, Gate::Library, library::admin_api(), &[])),
        &[(403, "not a super admin, or lacks the permission")],
    );
    let authenticated = gated(
        &gate,
        Gate::Authenticated,
        OpenApiRouter::new()
            .merge(auth::api())
            .merge(company_users::api())
            .merge(admin),
        &[
            (
                401,
                "missing, invalid or expired token, or a deactivated account",
            ),
            (403, "`company_inactive`: the company is deactivated"),
        ],
    );
    let company = gated(
        &gate,
        Gate::Company,
        OpenApiRouter::new()
            .merge(company::api())
            .merge(openapi::workspace())
            .merge(gated(&gate, Gate::Library, library::reader_api(), &[])),
        &[
            (
                401,
                "missing, invalid or expired token, or a deactivated account",
            ),
            (
                403,
                "a super admin, or lacks the permission, or `company_inactive`: the company is deactivated",
            ),
            (
                503,
                "the company's database cannot serve now (`unavailable`: being migrated, restored or behind, with Retry-After; `company_damaged`: failed an integrity check, until restored)",
            ),
        ],
    );
    let mut router = Router::new();
    let mut doc = openapi::base();
    for group in [public, authenticated, company] {
        let (routes, part) = group.split_for_parts();
        router = router.merge(routes);
        doc.merge(part);
    }
    (router, doc)
}

/// A group behind its gate, with the gate's answers added to its operations.
fn gated(
    gate: &impl Fn(Gate, OpenApiRouter<AppState>) -> OpenApiRouter<AppState>,
    which: Gate,
    mut group: OpenApiRouter<AppState>,
    answers: &[(u16, &str)],
) -> OpenApiRouter<AppState> {
    openapi::gate_responses(group.get_openapi_mut(), answers);
    gate(which, group)
}

/// Builds the whole application router.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// [`router`] with `extra` routes (the web console's pages) behind the same layers: body
/// limits, tracing, request ids, panics caught.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let (routes, _) = assemble(|gate, group| match gate {
        Gate::SuperAdmin => group.route_layer(middleware::from_fn(guard::require_super_admin)),
        Gate::Authenticated => group.route_layer(middleware::from_fn_with_state(
            state.clone(),
            guard::authenticate,
        )),
        Gate::Company => group.route_layer(middleware::from_fn_with_state(
            state.clone(),
            guard::enter_company,
        )),
        Gate::Library => group.route_layer(middleware::from_fn_with_state(
            state.clone(),
            guard::enter_library,
        )),
    });
    Router::new()
        .merge(routes)
        .merge(extra)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(RequestBodyTimeoutLayer::new(state.body_read_timeout))
        .with_state(state)
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

async fn not_found() -> Error {
    Error::NotFound("no such route".into())
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    Error::Internal(anyhow::anyhow!("a handler panicked")).into_response()
}
