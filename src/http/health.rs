//! Liveness and readiness probes.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
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
    if app.draining.load(std::sync::atomic::Ordering::Acquire) {
        return Err(Error::Unavailable("not ready: shutting down".into()));
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
        return Err(Error::Unavailable(format!("not ready: {reason}")));
    }
    Ok(Json(Readiness {
        status: "ready",
        open_companies: app.registry.open_count() as u64,
    }))
}

/// Bytes available to this process on the file system holding `dir`.
pub fn free_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}
