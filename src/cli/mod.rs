//! The `silo` command line: one binary, one module per subcommand, each with its options
//! and a `run()`.

pub mod backup;
pub mod company;
pub mod migrate_all;
pub mod restore;
pub mod serve;
pub mod user;

use clap::{Parser, Subcommand};

use crate::config::DataOpts;

/// Silo: a database-per-tenant SaaS engine on SQLite.
///
/// One primary database holds users, companies, roles and permissions; every company has its
/// own SQLite file (and vector index) under DATA_DIR/companies/<slug>/.
#[derive(Parser, Debug)]
#[command(name = "silo", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub data: DataOpts,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the HTTP API. On an empty data directory this first creates the primary
    /// database, the default roles and permissions, and the first super admin.
    Serve(serve::ServeArgs),
    /// Create, list and delete companies (each gets its own database).
    #[command(subcommand)]
    Company(company::CompanyCommand),
    /// Create user accounts.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Migrate primary.db, then every company database (backed up first), in parallel.
    MigrateAllCompanies(migrate_all::MigrateAllArgs),
    /// Take consistent online backups of primary.db and the company databases.
    Backup(backup::BackupArgs),
    /// Replace a company's database with a checked backup.
    Restore(restore::RestoreArgs),
}

impl Cli {
    /// Runs the chosen subcommand to completion.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve::run(&self.data, args),
            Command::Company(cmd) => company::run(&self.data, cmd),
            Command::User(cmd) => user::run(&self.data, cmd),
            Command::MigrateAllCompanies(args) => migrate_all::run(&self.data, args),
            Command::Backup(args) => backup::run(&self.data, args),
            Command::Restore(args) => restore::run(&self.data, args),
        }
    }
}

/// A multi-threaded tokio runtime for subcommands that need one.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
