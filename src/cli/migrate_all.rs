//! `silo migrate-all-companies`: primary.db first (its failure aborts the run), then every
//! company on a bounded worker pool, each backed up and migrated in one transaction. Prints
//! a table (or a JSON report) and exits non-zero unless every database succeeded.
//!
//! Works on the files directly, without the tenant registry: a server running beside it is
//! serialised by SQLite's write lock (see `ops::migrate`). primary.db is opened without the
//! automatic migration `App::open` would do, so a dry run changes nothing.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;

use crate::config::DataOpts;
use crate::ops::migrate::{self, CompanyReport, MigrateOptions, Status};
use crate::ops::{self, backup, workers};

#[derive(clap::Args, Debug)]
pub struct MigrateAllArgs {
    /// List pending migrations and prove they apply on temporary copies; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this company (UUID or slug).
    #[arg(long)]
    pub company: Option<String>,
    /// Companies migrated at once (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub concurrency: Option<u32>,
    /// Print a JSON report on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Do not back databases up before changing them.
    #[arg(long)]
    pub no_backup: bool,
    /// Milliseconds to wait for another connection's write lock before failing a database.
    #[arg(long, default_value_t = 5000)]
    pub busy_timeout_ms: u64,
    /// Undo an earlier run: put back, per company, the pre-migration copy this snapshot
    /// directory holds (the run's `backup_dir`). Refuses a company written after its
    /// migration; run it with the server stopped, then start the previous binary.
    #[arg(long, value_name = "BACKUP_DIR", conflicts_with = "no_backup")]
    pub rollback: Option<PathBuf>,
    /// With --rollback: also roll back companies written after their migration, discarding
    /// those writes (the current database is saved into a new snapshot first).
    #[arg(long, requires = "rollback")]
    pub force: bool,
}

/// The whole run, as printed with `--json`.
#[derive(Serialize)]
struct RunReport<'a> {
    dry_run: bool,
    backup_dir: Option<&'a Path>,
    primary: &'a CompanyReport,
    companies: &'a [CompanyReport],
    summary: Summary,
}

#[derive(Serialize, Default)]
struct Summary {
    total: usize,
    migrated: usize,
    current: usize,
    failed: usize,
    skipped: usize,
    would_migrate: usize,
    damaged: usize,
    duration_ms: u64,
}

pub fn run(data: &DataOpts, args: MigrateAllArgs) -> anyhow::Result<()> {
    if args.rollback.is_some() {
        return super::migrate_rollback::run(data, &args);
    }
    let started = Instant::now();
    let busy_timeout = Duration::from_millis(args.busy_timeout_ms);
    let data_dir = super::operator_data_dir(data)?;
    let backup_dir = (!args.no_backup && !args.dry_run)
        .then(|| backup::new_snapshot(&data_dir.join(backup::BACKUPS_DIR)));
    let opts = MigrateOptions {
        backup_dir: backup_dir.clone(),
        dry_run: args.dry_run,
        busy_timeout,
    };

    let primary = migrate::migrate_primary(&data_dir, &opts);
    if !primary.status.is_success() {
        print_report(&args, &opts, &primary, &[], started)?;
        bail!(
            "primary.db: {}; no company was touched",
            primary.error.as_deref().unwrap_or("failed")
        );
    }
    // Read after primary.db is migrated: its schema may have been behind.
    let targets = super::operator_companies(&data_dir, args.company.as_deref(), busy_timeout)?;
    let concurrency = args
        .concurrency
        .map_or_else(ops::default_concurrency, |n| n as usize);
    let progress = Progress::new(targets.len());
    let reports = workers::run_pool(
        &targets,
        concurrency,
        |company| migrate::migrate_company(&data_dir, company, &opts),
        CompanyReport::failed,
        |_, report| progress.done(report),
    );
    progress.finish();
    let summary = print_report(&args, &opts, &primary, &reports, started)?;
    let bad = summary.failed + summary.skipped + summary.damaged;
    if bad > 0 {
        bail!("{bad} of {} companies did not migrate", summary.total);
    }
    Ok(())
}

/// A progress bar on a terminal; one plain line per company otherwise (logs, CI).
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    count: std::cell::Cell<usize>,
}

impl Progress {
    pub(super) fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            let style = indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} companies  {elapsed}  eta {eta}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Progress {
            bar,
            total,
            count: 0.into(),
        }
    }

    fn done(&self, r: &CompanyReport) {
        let bad = matches!(r.status, Status::Failed | Status::Damaged);
        let versions = versions(r.from_version, r.to_version);
        self.line(
            &r.slug,
            r.status.as_str(),
            &versions,
            r.duration_ms,
            r.error.as_deref(),
            bad,
        );
    }

    /// One company done: a plain line, or the bar moved on (and a line if it went `bad`).
    pub(super) fn line(
        &self,
        slug: &str,
        status: &str,
        versions: &str,
        ms: u64,
        error: Option<&str>,
        bad: bool,
    ) {
        self.count.set(self.count.get() + 1);
        match &self.bar {
            Some(bar) => {
                if bad {
                    bar.println(format!("{status}: {slug}: {}", error.unwrap_or("")));
                }
                bar.inc(1);
            }
            None => eprintln!(
                "[{}/{}] {slug}: {status} {versions} ({ms} ms){}",
                self.count.get(),
                self.total,
                error.map(|e| format!(": {e}")).unwrap_or_default()
            ),
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// "1 → 4", with "?" for a version that could not be read.
pub(super) fn versions(from: Option<i64>, to: Option<i64>) -> String {
    let v = |v: Option<i64>| v.map_or("?".to_string(), |v| v.to_string());
    format!("{} → {}", v(from), v(to))
}

fn print_report(
    args: &MigrateAllArgs,
    opts: &MigrateOptions,
    primary: &CompanyReport,
    reports: &[CompanyReport],
    started: Instant,
) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        total: reports.len(),
        duration_ms: started.elapsed().as_millis() as u64,
        ..Summary::default()
    };
    for r in reports {
        *match r.status {
            Status::Migrated => &mut summary.migrated,
            Status::Current => &mut summary.current,
            Status::Failed => &mut summary.failed,
            Status::Skipped => &mut summary.skipped,
            Status::WouldMigrate => &mut summary.would_migrate,
            Status::Damaged => &mut summary.damaged,
        } += 1;
    }
    // Only name the backup directory when something was actually written into it.
    let backup_dir: Option<PathBuf> = opts.backup_dir.clone().filter(|d| d.is_dir());
    if args.json {
        let run = RunReport {
            dry_run: args.dry_run,
            backup_dir: backup_dir.as_deref(),
            primary,
            companies: reports,
            summary,
        };
        println!("{}", serde_json::to_string_pretty(&run)?);
        return Ok(run.summary);
    }
    println!(
        "{:<28} {:<13} {:<9} {:>9}  DETAILS",
        "COMPANY", "STATUS", "VERSION", "MS"
    );
    for r in std::iter::once(primary).chain(reports) {
        let details = match (&r.error, r.pending.is_empty()) {
            (Some(e), _) => e.clone(),
            (None, false) => r.pending.join(", "),
            (None, true) => String::new(),
        };
        println!(
            "{:<28} {:<13} {:<9} {:>9}  {}",
            r.slug,
            r.status.as_str(),
            versions(r.from_version, r.to_version),
            r.duration_ms,
            details
        );
    }
    println!(
        "\n{} companies: {} migrated, {} current, {} failed, {} damaged, {} skipped{} in {:.1} s",
        summary.total,
        summary.migrated,
        summary.current,
        summary.failed,
        summary.damaged,
        summary.skipped,
        if args.dry_run {
            format!(", {} would migrate", summary.would_migrate)
        } else {
            String::new()
        },
        summary.duration_ms as f64 / 1000.0
    );
    if let Some(dir) = &backup_dir {
        println!("backups: {}", dir.display());
    }
    Ok(summary)
}
