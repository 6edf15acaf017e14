//! Benchmark of the tenant registry: cold opens of company databases (p50/p99) and cycling
//! over many provisioned companies with a cap on open ones (fd count and peak RSS).
//!
//! cargo run --release --example bench_registry -- [--companies 10000] [--cap 1000] [--dir DIR]
//!
//! Setup provisions one company for real and copies its files for the rest (inserting their
//! rows in one transaction): the benchmark measures opening, not provisioning.

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use silo::app::{App, AppOptions};
use silo::tenant::provision::{self, NewCompany};
use silo::tenant::{self, TenantCtx};

fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{label:<44} n={:<6} p50={:>7.1} µs  p99={:>7.1} µs  max={:>8.1} µs",
        samples.len(),
        us(percentile(&samples, 0.5)),
        us(percentile(&samples, 0.99)),
        us(*samples.last().unwrap())
    );
}

fn provision_many(app: &App, n: usize) -> anyhow::Result<Vec<i64>> {
    let conn = app.primary.get()?;
    let existing: i64 = conn.query_row("SELECT COUNT(*) FROM companies", [], |r| r.get(0))?;
    if existing as usize >= n {
        let mut stmt = conn.prepare("SELECT id FROM companies ORDER BY id LIMIT ?1")?;
        return Ok(stmt
            .query_map([n as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?);
    }
    drop(conn);
    let template = provision::create_company(
        &app.primary,
        &app.data_dir,
        &NewCompany {
            name: "Template".into(),
            ..Default::default()
        },
    )?;
    let template_dir = app.data_dir.join(template.dir());
    let mut conn = app.primary.get()?;
    let tx = conn.transaction()?;
    for i in 1..n {
        common::add_copied_company(&tx, &app.data_dir, i, &template_dir.join("company.db"))?;
    }
    tx.commit()?;
    let mut stmt = conn.prepare("SELECT id FROM companies ORDER BY id")?;
    Ok(stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

fn main() -> anyhow::Result<()> {
    silo::cli::serve::raise_fd_limit();
    let n: usize = common::arg("--companies", "10000").parse()?;
    let cap: usize = common::arg("--cap", "1000").parse()?;
    let tmp = tempfile::tempdir()?;
    let dir = if std::env::args().any(|a| a == "--dir") {
        PathBuf::from(common::arg("--dir", ""))
    } else {
        tmp.path().join("data")
    };
    let mut options = AppOptions::default();
    options.registry.max_open = cap;
    let app = Arc::new(App::open(&dir, options)?);
    let started = Instant::now();
    let ids = provision_many(&app, n)?;
    println!(
        "setup: {} companies in {:.1} s (data dir {})",
        ids.len(),
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let registry = app.registry.clone();
        let mut open_only = Vec::with_capacity(ids.len());
        let mut open_and_query = Vec::with_capacity(ids.len());
        let mut peak_fds = 0;
        // Pass 1: every company opened for the first time (cold), a point query through its
        // pool included; pass 2: cycling again over all of them, all evicted in between.
        for pass in 0..2 {
            for &id in &ids {
                let t = Instant::now();
                let db = registry.get(id).await?;
                let opened = t.elapsed();
                let ctx = TenantCtx::new(db, None);
                tenant::context::scope(
                    ctx,
                    tenant::context::run(|conn| {
                        conn.query_row("SELECT COUNT(*) FROM documents", [], |r| r.get::<_, i64>(0))
                            .map_err(|e| anyhow::anyhow!(e))
                    }),
                )
                .await?;
                if pass == 0 {
                    open_only.push(opened);
                    open_and_query.push(t.elapsed());
                }
                peak_fds = peak_fds.max(open_fds());
                assert!(registry.open_count() <= cap, "cap exceeded");
            }
        }
        report("cold open (registry.get)", open_only);
        report("cold open + first query (new connection)", open_and_query);
        // Warm: the same company again and again.
        let id = ids[0];
        registry.get(id).await?;
        let warm: Vec<Duration> = {
            let mut v = Vec::new();
            for _ in 0..10_000 {
                let t = Instant::now();
                let _db = registry.get(id).await?;
                v.push(t.elapsed());
            }
            v
        };
        report("warm get (already open)", warm);
        println!(
            "companies {} cap {} open now {} opens {} evictions {} peak fds {} peak RSS {} MiB",
            ids.len(),
            cap,
            registry.open_count(),
            registry
                .stats
                .opens
                .load(std::sync::atomic::Ordering::Relaxed),
            registry
                .stats
                .evictions
                .load(std::sync::atomic::Ordering::Relaxed),
            peak_fds,
            proc_status("VmHWM:") / 1024
        );
        anyhow::Ok(())
    })?;
    Ok(())
}
