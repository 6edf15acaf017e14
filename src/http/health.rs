//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiResult;
use super::openapi::ErrorBody;
use crate::app::AppState;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(super::metrics::metrics))
}

/// The answer of GET /healthz.
#[derive(Serialize, ToSchema)]
struct Health {
    /// Always "ok".
    #[schema(example = "ok")]
    status: &'static str,
}

/// The answer of GET /readyz.
#[derive(Serialize, ToSchema)]
struct Readiness {
    /// Always "ready".
    #[schema(example = "ready")]
    status: &'static str,
    /// Company databases open now.
    open_companies: u64,
}

/// The process is up and answering.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// The server is not shutting down, the primary database answers, the data directory is
/// writable and its file system has at least `--min-free-disk-mb` free.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness),
              (status = 503, description = "not ready: shutting down, the primary database unreachable, the data directory not writable, or free disk space below the threshold; the message says which", body = ErrorBody)))]
async fn readyz(State(app): State<AppState>) -> ApiResult<Json<Readiness>> {
    crate::service::health::check_ready(&app).await?;
    Ok(Json(Readiness {
        status: "ready",
        open_companies: app.registry.open_count() as u64,
    }))
}
