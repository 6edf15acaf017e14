//! Whether this process can serve: what /readyz and /metrics report.

use crate::app::AppState;
use crate::error::Error;

/// Ok when the server is not shutting down, its file system has at least
/// `App::min_free_bytes` free, the primary database answers and the data directory is
/// writable; else "unavailable" with the first reason.
pub async fn check_ready(app: &AppState) -> Result<(), Error> {
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
        crate::store::db::ping(&conn)
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
    Ok(())
}

/// Companies marked damaged (0 when primary.db cannot say).
pub async fn damaged_companies(app: &AppState) -> u64 {
    app.read_primary(|conn| Ok(crate::store::primary::companies::count_damaged(conn)?))
        .await
        .unwrap_or(0)
}

/// Bytes available to this process on the file system holding `dir`.
pub fn free_bytes(dir: &std::path::Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(dir)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}
