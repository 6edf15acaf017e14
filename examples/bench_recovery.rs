//! Benchmark of the start-up job recovery over many companies: how long the background
//! sweep takes and what it holds open, with some companies carrying interrupted jobs.
//!
//! cargo run --release --example bench_recovery -- [--companies 10000] [--cap 1000] [--interrupted 100]
//!
//! Setup provisions one company for real and copies its database for the rest (like
//! bench_registry); `--interrupted` of them get a document whose job was left `processing`.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use silo::app::{App, AppOptions};
use silo::tenant::provision::{self, NewCompany};

fn main() -> anyhow::Result<()> {
    silo::cli::serve::raise_fd_limit();
    let n: usize = common::arg("--companies", "10000").parse()?;
    let cap: usize = common::arg("--cap", "1000").parse()?;
    let interrupted: usize = common::arg("--interrupted", "100").parse()?;
    let tmp = tempfile::tempdir()?;
    let mut options = AppOptions::default();
    options.registry.max_open = cap;
    let app = Arc::new(App::open(&tmp.path().join("data"), options)?);
    let started = Instant::now();
    let template = provision::create_company(
        &app.primary,
        &app.data_dir,
        &NewCompany {
            name: "Template".into(),
            ..Default::default()
        },
    )?;
    let template_db = app.data_dir.join(template.dir()).join("company.db");
    let with_job = template_db.with_file_name("with-job.db");
    std::fs::copy(&template_db, &with_job)?;
    {
        let c = rusqlite::Connection::open(&with_job)?;
        c.execute_batch(
            "INSERT INTO documents (uuid, filename, file_path, file_type, scope, uploaded_by, status)
             VALUES ('d', 'a.txt', 'uploads/a.txt', 'txt', 'user', 'u', 'processing');
             INSERT INTO processing_jobs (uuid, job_type, document_id, status, attempts, started_at)
             VALUES ('j', 'document_processing', 1, 'processing', 1, '2000-01-01T00:00:00.000Z');",
        )?;
    }
    let mut conn = app.primary.get()?;
    let tx = conn.transaction()?;
    for i in 1..n {
        let source = if i <= interrupted {
            &with_job
        } else {
            &template_db
        };
        common::add_copied_company(&tx, &app.data_dir, i, source)?;
    }
    tx.commit()?;
    drop(conn);
    println!(
        "setup: {n} companies in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let t = Instant::now();
        let report = app.ingest.start_recovery(app.primary.clone()).await?;
        let swept = t.elapsed();
        while !app.ingest.is_idle() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        println!(
            "recovery: {} companies swept in {:.2} s ({:.0} companies/s), {} jobs requeued, {} failed, {} errors; \
             requeued jobs finished after {:.2} s; open companies now {} (cap {cap})",
            report.companies,
            swept.as_secs_f64(),
            report.companies as f64 / swept.as_secs_f64(),
            report.requeued,
            report.failed,
            report.errors,
            t.elapsed().as_secs_f64(),
            app.registry.open_count(),
        );
        let stats = app.ingest.stats();
        use std::sync::atomic::Ordering::Relaxed;
        println!(
            "jobs after recovery: {} completed, {} failed (their files are absent in this setup)",
            stats.completed.load(Relaxed),
            stats.failed.load(Relaxed)
        );
        anyhow::Ok(())
    })
}
