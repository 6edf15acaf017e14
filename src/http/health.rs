//! Liveness and readiness probes.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// The process is up and answering.
async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// The primary database answers and the data directory is writable.
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
         silo_company_evictions_total {}\n",
        app.registry.open_count(),
        stats.opens.load(Relaxed),
        stats.evictions.load(Relaxed),
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
