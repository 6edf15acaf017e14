//! `silo migrate-all-companies --rollback BACKUP_DIR`: every company the run that made
//! BACKUP_DIR migrated (or only `--company`) is put back to the copy taken before its
//! migration, on the same worker pool as the forward run, with the same kind of report
//! (table or `--json`) and exit status (non-zero unless every company was rolled back).
//! See `ops::rollback` for the checks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde::Serialize;

use super::migrate_all::{MigrateAllArgs, Progress, versions};
use crate::config::DataOpts;
use crate::ops::rollback::{
    self, MigrationRecord, RollbackOptions, RollbackReport, RollbackStatus,
};
use crate::ops::{self, backup, workers};
use crate::store::primary::companies::Company;

/// The whole run, as printed with `--json`.
#[derive(Serialize)]
struct RunReport<'a> {
    rollback_of: &'a Path,
    dry_run: bool,
    force: bool,
    /// Where the replaced databases were saved.
    saved_to: Option<&'a Path>,
    companies: &'a [RollbackReport],
    summary: Summary,
}

#[derive(Serialize, Default)]
struct Summary {
    total: usize,
    rolled_back: usize,
    would_roll_back: usize,
    refused: usize,
    failed: usize,
    duration_ms: u64,
}

pub fn run(data: &DataOpts, args: &MigrateAllArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let Some(snapshot) = &args.rollback else {
        bail!("--rollback needs a backup directory");
    };
    let busy_timeout = Duration::from_millis(args.busy_timeout_ms);
    let data_dir = super::operator_data_dir(data)?;
    let snapshot = snapshot.canonicalize().unwrap_or_else(|_| snapshot.clone());
    let mut records = rollback::records_in(&snapshot)?;
    let companies = super::operator_companies(&data_dir, args.company.as_deref(), busy_timeout)?;
    if let Some(key) = &args.company {
        // operator_companies found it, or failed: it is the only one.
        records.retain(|r| companies.iter().any(|c| c.uuid == r.company_id));
        if records.is_empty() {
            bail!(
                "{} holds no migration record of company {key:?}: the run that made it did \
                 not migrate that company",
                snapshot.display()
            );
        }
    }
    if records.is_empty() {
        bail!(
            "{} holds no migration records: it is not the backup directory of a \
             migrate-all-companies run that migrated something",
            snapshot.display()
        );
    }
    let opts = RollbackOptions {
        force: args.force,
        dry_run: args.dry_run,
        save_dir: (!args.dry_run)
            .then(|| backup::new_snapshot(&data_dir.join(backup::BACKUPS_DIR))),
        busy_timeout,
    };
    let find = |r: &MigrationRecord| -> Option<Company> {
        companies.iter().find(|c| c.uuid == r.company_id).cloned()
    };
    let concurrency = args
        .concurrency
        .map_or_else(ops::default_concurrency, |n| n as usize);
    let progress = Progress::new(records.len());
    let reports = workers::run_pool(
        &records,
        concurrency,
        |record| {
            rollback::rollback_company(&data_dir, &snapshot, record, find(record).as_ref(), &opts)
        },
        |record, error| RollbackReport::failed(record, Some(error)),
        |_, r| {
            let bad = matches!(r.status, RollbackStatus::Failed | RollbackStatus::Refused);
            let versions = versions(r.from_version, r.to_version);
            progress.line(
                &r.slug,
                r.status.as_str(),
                &versions,
                r.duration_ms,
                r.error.as_deref(),
                bad,
            );
        },
    );
    progress.finish();
    let summary = print_report(args, &snapshot, &opts, &reports, started)?;
    let bad = summary.failed + summary.refused;
    if bad > 0 {
        bail!("{bad} of {} companies were not rolled back", summary.total);
    }
    Ok(())
}

fn print_report(
    args: &MigrateAllArgs,
    snapshot: &Path,
    opts: &RollbackOptions,
    reports: &[RollbackReport],
    started: Instant,
) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        total: reports.len(),
        duration_ms: started.elapsed().as_millis() as u64,
        ..Summary::default()
    };
    for r in reports {
        *match r.status {
            RollbackStatus::RolledBack => &mut summary.rolled_back,
            RollbackStatus::WouldRollBack => &mut summary.would_roll_back,
            RollbackStatus::Refused => &mut summary.refused,
            RollbackStatus::Failed => &mut summary.failed,
        } += 1;
    }
    let saved_to: Option<PathBuf> = opts.save_dir.clone().filter(|d| d.is_dir());
    if args.json {
        let run = RunReport {
            rollback_of: snapshot,
            dry_run: args.dry_run,
            force: args.force,
            saved_to: saved_to.as_deref(),
            companies: reports,
            summary,
        };
        println!("{}", serde_json::to_string_pretty(&run)?);
        return Ok(run.summary);
    }
    println!(
        "{:<28} {:<16} {:<9} {:>9}  DETAILS",
        "COMPANY", "STATUS", "VERSION", "MS"
    );
    for r in reports {
        println!(
            "{:<28} {:<16} {:<9} {:>9}  {}",
            r.slug,
            r.status.as_str(),
            versions(r.from_version, r.to_version),
            r.duration_ms,
            r.error.as_deref().unwrap_or("")
        );
    }
    println!(
        "\n{} companies: {} rolled back, {} refused, {} failed{} in {:.1} s",
        summary.total,
        summary.rolled_back,
        summary.refused,
        summary.failed,
        if args.dry_run {
            format!(", {} would roll back", summary.would_roll_back)
        } else {
            String::new()
        },
        summary.duration_ms as f64 / 1000.0
    );
    if let Some(dir) = &saved_to {
        println!("replaced databases saved to: {}", dir.display());
    }
    Ok(summary)
}
