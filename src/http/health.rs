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

/// The server is not shutting down, the primary database answers, the data directory is
/// writable and its file system has at least `--min-free-disk-mb` free.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness),
              (status = 503, description = "not ready: shutting down, the primary database unreachable, the data directory not writable, or free disk space below the threshold; the message says which", body = ErrorBody)))]
async fn readyz(State(app): State<AppState>) -> ApiResult<Json<Value>> {
    if app.draining.load(std::sync::atomic::Ordering::Acquire) {
        return Err(ApiError::Unavailable("not ready: shutting down".into()));
    }
    let app2 = app.clone();
    let checked = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let free = free_bytes(&app2.data_dir)
            .map_err(|e| format!("cannot read the data directory's free space: {e}"))?;
        if free < app2.min_free_bytes {
            return Err(format!(
                "free disk space is {} MiB, below the {} MiB threshold",
                free >> 20,
                app2.min_free_bytes >> 20
            ));
        }
        let conn = app2
            .primary
            .get()
            .map_err(|_| "the primary database is unreachable".to_string())?;
        conn.query_row("SELECT 1", [], |_| Ok(()))
            .map_err(|_| "the primary database is unreachable".to_string())?;
        let probe = app2.data_dir.join(".readyz");
        std::fs::write(&probe, b"ok")
            .and_then(|_| std::fs::remove_file(&probe))
            .map_err(|e| format!("the data directory is not writable: {e}"))?;
        Ok(())
    })
    .await?;
    if let Err(reason) = checked {
        tracing::warn!(%reason, "not ready");
        return Err(ApiError::Unavailable(format!("not ready: {reason}")));
    }
    Ok(Json(
        json!({"status": "ready", "open_companies": app.registry.open_count()}),
    ))
}

/// Bytes available to this process on the file system holding `dir`.
pub fn free_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Prometheus text exposition of the registry's counters.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
               body = String, content_type = "text/plain; version=0.0.4")))]
async fn metrics(State(app): State<AppState>) -> impl axum::response::IntoResponse {
    use std::sync::atomic::Ordering::Relaxed;
    let damaged = app
        .read_primary(|conn| Ok(crate::primary::companies::count_damaged(conn)?))
        .await
        .unwrap_or(0);
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
    ) + &format!(
        "# HELP silo_scrub_checks_total Company databases integrity-checked by the scrub since start.\n\
         # TYPE silo_scrub_checks_total counter\n\
         silo_scrub_checks_total{{result=\"ok\"}} {}\n\
         silo_scrub_checks_total{{result=\"damaged\"}} {}\n\
         # HELP silo_companies_damaged Companies marked damaged (writes refused until restored).\n\
         # TYPE silo_companies_damaged gauge\n\
         silo_companies_damaged {}\n",
        app.scrub.ok.load(Relaxed),
        app.scrub.damaged.load(Relaxed),
        damaged
    ) + &format!(
        "# HELP silo_log_writes_dropped_total Log lines that could not be written (a full disk) and were dropped.\n\
         # TYPE silo_log_writes_dropped_total counter\n\
         silo_log_writes_dropped_total {}\n",
        crate::logging::dropped()
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
