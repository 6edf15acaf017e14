//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::ErrorBody;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The answer of GET /healthz (documentation only: the handler builds it as JSON).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct Health {
    /// Always "ok".
    #[schema(example = "ok")]
    status: String,
}

/// The answer of GET /readyz (documentation only).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
struct Readiness {
    /// Always "ready".
    #[schema(example = "ready")]
    status: String,
    /// Company databases open now.
    open_companies: u64,
}

/// The process is up and answering.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Health)))]
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The primary database answers and the data directory is writable.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness),
              (status = 503, description = "not ready", body = ErrorBody)))]
async fn readyz(State(app): State<AppState>) -> ApiResult<Json<Value>> {
    let app2 = app.clone();
    let checked = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let conn = app2.primary.get()?;
        conn.query_row("SELECT 1", [], |_| Ok(()))?;
        let probe = app2.data_dir.join(".readyz");
        std::fs::write(&probe, b"ok")?;
        std::fs::remove_file(&probe)?;
        Ok(())
    })
    .await?;
    if let Err(err) = checked {
        tracing::warn!(error = %err, "not ready");
        return Err(ApiError::Unavailable(
            "not ready: the primary database is unreachable".into(),
        ));
    }
    Ok(Json(
        json!({"status": "ready", "open_companies": app.registry.open_count()}),
    ))
}

/// Prometheus text exposition of the registry's counters.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
               body = String, content_type = "text/plain; version=0.0.4")))]
async fn metrics(State(app): State<AppState>) -> impl axum::response::IntoResponse {
    use std::sync::atomic::Ordering::Relaxed;
    let stats = &app.registry.stats;
    let body = format!(
        "# HELP silo_open_companies Company databases open now.\n\
         # TYPE silo_open_companies gauge\n\
         silo_open_companies {}\n\
         # HELP silo_company_opens_total Company databases opened since start.\n\
         # TYPE silo_company_opens_total counter\n\
         silo_company_opens_total {}\n\
         # HELP silo_company_evictions_total Idle company databases closed to respect the cap.\n\
         # TYPE silo_company_evictions_total counter\n\
         silo_company_evictions_total {}\n\
         # HELP silo_company_index_evictions_total Of those, closed to keep vector indexes in their memory budget.\n\
         # TYPE silo_company_index_evictions_total counter\n\
         silo_company_index_evictions_total {}\n\
         # HELP silo_vector_index_bytes Approximate memory of the loaded vector indexes.\n\
         # TYPE silo_vector_index_bytes gauge\n\
         silo_vector_index_bytes {}\n",
        app.registry.open_count(),
        stats.opens.load(Relaxed),
        stats.evictions.load(Relaxed),
        stats.index_evictions.load(Relaxed),
        app.registry.index_bytes(),
    ) + &app.ingest.render_metrics()
        + &app.usage_writer.render_metrics();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}
