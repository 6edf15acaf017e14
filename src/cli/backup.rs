//! `silo backup`: consistent online copies of primary.db and every company (or one), into a
//! new timestamped snapshot directory, then rotation keeping the newest N. Safe while a
//! server is writing: each copy is one read transaction of SQLite's backup API.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;

use crate::config::DataOpts;
use crate::ops::{self, backup, workers};
use crate::store::primary::companies::Company;
use crate::tenant::library;
use crate::tenant::names::resolve_inside;

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// Only this company (UUID or slug); primary.db and the library are then not included.
    #[arg(long)]
    pub company: Option<String>,
    /// Directory holding the snapshots (default: DATA_DIR/backups).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep only the newest N snapshots (of this company, with --company); older ones are
    /// removed after a successful backup.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: Option<u32>,
    /// Databases copied at once (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: Option<u32>,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Entry {
    id: String,
    slug: String,
    file: Option<PathBuf>,
    bytes: u64,
    duration_ms: u64,
    error: Option<String>,
}

pub fn run(data: &DataOpts, args: BackupArgs) -> anyhow::Result<()> {
    let busy = ops::DEFAULT_BUSY_TIMEOUT;
    let data_dir = super::operator_data_dir(data)?;
    let targets = super::operator_companies(&data_dir, args.company.as_deref(), busy)?;
    let primary_path = data_dir.join("primary.db");
    let root = args
        .out
        .clone()
        .unwrap_or_else(|| data_dir.join(backup::BACKUPS_DIR));
    let snapshot = backup::new_snapshot(&root);
    let mut entries = Vec::new();
    if args.company.is_none() {
        let started = Instant::now();
        let dst = backup::primary_file(&snapshot);
        let outcome = backup::backup_file(&primary_path, &dst, busy);
        entries.push(entry("primary", "primary", dst, outcome, started));
        // The global library, beside primary.db, while there is one.
        if library::exists(&data_dir) {
            let started = Instant::now();
            let dst = snapshot.join(library::LIBRARY_DB);
            let src = library::dir(&data_dir).join(library::LIBRARY_DB);
            let outcome = backup::backup_file(&src, &dst, busy);
            entries.push(entry("library", "library", dst, outcome, started));
        }
    }
    let concurrency = args
        .concurrency
        .map_or_else(ops::default_concurrency, |n| n as usize);
    let copy = |c: &Company| {
        let started = Instant::now();
        let dst = backup::company_file(&snapshot, &c.slug);
        let outcome = resolve_inside(&data_dir, &c.db_path)
            .map_err(|e| anyhow::anyhow!(e))
            .and_then(|src| match backup::backup_file(&src, &dst, busy) {
                Err(backup::BackupError::Damaged(what)) => {
                    if let Err(e) = ops::record_damage(&data_dir, c, &what, "silo backup") {
                        tracing::error!(company = %c.slug, error = %e, "could not record the damage");
                    }
                    Err(backup::BackupError::Damaged(what).into())
                }
                other => Ok(other?),
            });
        entry(&c.uuid, &c.slug, dst, outcome, started)
    };
    let failed_entry = |c: &Company, e: String| Entry {
        id: c.uuid.clone(),
        slug: c.slug.clone(),
        file: None,
        bytes: 0,
        duration_ms: 0,
        error: Some(e),
    };
    entries.extend(workers::run_pool(
        &targets,
        concurrency,
        copy,
        failed_entry,
        |_, _| {},
    ));
    let failed = entries.iter().filter(|e| e.error.is_some()).count();
    // Rotate only after a complete backup: a failing run must not eat the good old ones.
    let removed = match (args.keep, failed) {
        (Some(keep), 0) => backup::rotate(
            &root,
            keep as usize,
            args.company.as_deref().map(|_| targets[0].slug.as_str()),
        )?,
        _ => Vec::new(),
    };
    if args.json {
        let report = serde_json::json!({
            "snapshot": snapshot,
            "entries": entries,
            "removed": removed,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for e in &entries {
            match &e.error {
                None => println!(
                    "{:<28} {:>12} bytes {:>7} ms",
                    e.slug, e.bytes, e.duration_ms
                ),
                Some(err) => println!("{:<28} FAILED: {err}", e.slug),
            }
        }
        println!("snapshot: {}", snapshot.display());
        for r in &removed {
            println!("removed old backup: {}", r.display());
        }
    }
    if failed > 0 {
        bail!("{failed} of {} backups failed", entries.len());
    }
    Ok(())
}

fn entry(
    id: &str,
    slug: &str,
    dst: PathBuf,
    outcome: Result<u64, impl Into<anyhow::Error>>,
    started: Instant,
) -> Entry {
    let duration_ms = Duration::as_millis(&started.elapsed()) as u64;
    let (file, bytes, error) = match outcome {
        Ok(bytes) => (Some(dst), bytes, None),
        Err(e) => (None, 0, Some(format!("{:#}", e.into()))),
    };
    Entry {
        id: id.to_string(),
        slug: slug.to_string(),
        file,
        bytes,
        duration_ms,
        error,
    }
}
