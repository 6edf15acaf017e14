//! The OpenAPI document at GET /api/openapi.json.
//!
//! Routes are registered through `utoipa_axum::routes!`, which adds a handler to the router
//! and its `#[utoipa::path]` description to the document in one step, so the two cannot
//! drift apart; a test also sends a request to every documented operation and checks the
//! router answers it (not the 404/405 fallbacks).

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;

/// The error envelope every 4xx/5xx answer carries.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case code (bad_request, not_found, invalid_field, ...).
    pub code: String,
    /// A human sentence.
    pub message: String,
    /// For invalid_field: the offending field.
    pub field: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Silo", description = "A database-per-tenant SaaS engine on SQLite. Errors use \
        the envelope {\"error\": {\"code\", \"message\"}}; lists answer {items, total, limit, offset} \
        with ?limit= (default 50, at most 200) and ?offset=."),
    modifiers(&BearerAuth),
    components(schemas(ErrorBody, ErrorDetail))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every documented route group (the company workspace API).
pub fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(super::documents::api())
        .merge(super::conversations::api())
        .merge(super::agent_logs::api())
        .merge(super::usage::api())
        .merge(super::profile::api())
        .merge(super::reports::api())
        .merge(super::search::api())
}

/// The OpenAPI document (built once).
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = documented().into_openapi();
        doc.info.version = env!("CARGO_PKG_VERSION").to_string();
        doc
    })
}

/// GET /api/openapi.json: public, like the health checks.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

async fn openapi_json() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| {
        document()
            .to_json()
            .expect("the OpenAPI document serialises")
    });
    ([(header::CONTENT_TYPE, "application/json")], body.as_str())
}
