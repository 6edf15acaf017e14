//! `silo restore --company ID --from PATH`: replace a company's database with a backup
//! (a backup file, or a snapshot directory holding one). The backup is checked before
//! anything is touched, the current database is saved first (unless `--no-backup`), the
//! swap is one atomic rename, and the vector index is emptied to be rebuilt from SQLite.
//!
//! Run it with the server stopped (or through the server): a separate server process
//! holding the company open would keep writing to the replaced file.

use std::path::PathBuf;

use crate::app::App;
use crate::app::AppOptions;
use crate::config::DataOpts;
use crate::ops::{self, backup, restore};

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// The company (UUID or slug).
    #[arg(long)]
    pub company: String,
    /// A backup file, or a snapshot directory made by `silo backup`.
    #[arg(long)]
    pub from: PathBuf,
    /// Do not save the current database before replacing it.
    #[arg(long)]
    pub no_backup: bool,
    /// Print a JSON report on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(data: &DataOpts, args: RestoreArgs) -> anyhow::Result<()> {
    let app = App::open(&data.data_dir, AppOptions::default())?;
    let company = super::find_company(&*app.primary.get()?, &args.company)?;
    let opts = restore::RestoreOptions {
        backup_dir: (!args.no_backup)
            .then(|| backup::new_snapshot(&app.data_dir.join(backup::BACKUPS_DIR))),
        busy_timeout: ops::DEFAULT_BUSY_TIMEOUT,
    };
    let report = super::runtime()?.block_on(restore::restore_company_live(
        &app.registry,
        &app.data_dir,
        &company,
        &args.from,
        opts,
    ))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "restored company {} from {} (schema version {}{})",
            report.slug,
            report.from.display(),
            report.schema_version,
            if report.behind {
                ", behind: migrate it"
            } else {
                ""
            }
        );
        if let Some(prev) = &report.previous {
            println!("previous database saved to {}", prev.display());
        }
    }
    Ok(())
}
