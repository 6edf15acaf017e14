//! GET /metrics: the counters and gauges of every component, in the Prometheus text format.
//!
//! The components count with their own atomics (cheap, and each `App` keeps its own, so
//! tests in one process never share counts). A scrape copies them into the app's one
//! Prometheus registry (`metrics-exporter-prometheus`, installed as a local recorder for
//! the copy only, never globally) and renders it.

use std::sync::atomic::Ordering::Relaxed;

use axum::extract::State;
use metrics::{counter, describe_counter, describe_gauge, gauge};

use crate::app::{App, AppState};

/// Prometheus text exposition of the registry's counters.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
               body = String, content_type = "text/plain; version=0.0.4")))]
pub(super) async fn metrics(State(app): State<AppState>) -> impl axum::response::IntoResponse {
    let damaged = crate::service::health::damaged_companies(&app).await;
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        render(&app, damaged),
    )
}

/// The exposition text, with `damaged` companies read from primary.db.
pub fn render(app: &App, damaged: u64) -> String {
    metrics::with_local_recorder(&app.metrics, || record(app, damaged));
    app.metrics.handle().render()
}

fn record(app: &App, damaged: u64) {
    let registry = &app.registry.stats;
    describe_gauge!("silo_open_companies", "Company databases open now.");
    gauge!("silo_open_companies").set(app.registry.open_count() as f64);
    describe_counter!(
        "silo_company_opens_total",
        "Company databases opened since start."
    );
    counter!("silo_company_opens_total").absolute(registry.opens.load(Relaxed));
    describe_counter!(
        "silo_company_evictions_total",
        "Idle company databases closed to respect the cap."
    );
    counter!("silo_company_evictions_total").absolute(registry.evictions.load(Relaxed));
    describe_counter!(
        "silo_company_index_evictions_total",
        "Of those, closed to keep vector indexes in their memory budget."
    );
    counter!("silo_company_index_evictions_total").absolute(registry.index_evictions.load(Relaxed));
    describe_gauge!(
        "silo_vector_index_bytes",
        "Approximate memory of the loaded vector indexes."
    );
    gauge!("silo_vector_index_bytes").set(app.registry.index_bytes() as f64);

    describe_counter!(
        "silo_scrub_checks_total",
        "Company databases integrity-checked by the scrub since start."
    );
    counter!("silo_scrub_checks_total", "result" => "ok").absolute(app.scrub.ok.load(Relaxed));
    counter!("silo_scrub_checks_total", "result" => "damaged")
        .absolute(app.scrub.damaged.load(Relaxed));
    describe_gauge!(
        "silo_companies_damaged",
        "Companies marked damaged (writes refused until restored)."
    );
    gauge!("silo_companies_damaged").set(damaged as f64);
    describe_counter!(
        "silo_log_writes_dropped_total",
        "Log lines that could not be written (a full disk) and were dropped."
    );
    counter!("silo_log_writes_dropped_total").absolute(crate::logging::dropped());

    let ingest = app.ingest.stats();
    describe_counter!(
        "silo_ingest_jobs_total",
        "Document processing jobs finished since start."
    );
    for (status, n) in [
        ("completed", &ingest.completed),
        ("failed", &ingest.failed),
        ("retried", &ingest.retried),
    ] {
        counter!("silo_ingest_jobs_total", "status" => status).absolute(n.load(Relaxed));
    }
    describe_counter!(
        "silo_ingest_chunks_total",
        "Chunks stored (or embedded again by reindex jobs) since start."
    );
    counter!("silo_ingest_chunks_total").absolute(ingest.chunks.load(Relaxed));
    describe_gauge!(
        "silo_ingest_companies_draining",
        "Companies whose jobs are being processed now."
    );
    gauge!("silo_ingest_companies_draining").set(app.ingest.draining_count() as f64);

    let usage = app.usage_writer.stats();
    describe_counter!(
        "silo_usage_batches_total",
        "Usage transactions committed by the group writer."
    );
    counter!("silo_usage_batches_total").absolute(usage.batches.load(Relaxed));
    describe_counter!(
        "silo_usage_rows_total",
        "Usage rows written by the group writer."
    );
    counter!("silo_usage_rows_total").absolute(usage.rows.load(Relaxed));
}
