//! The `silo` command line: one binary, one module per subcommand, each with its options
//! and a `run()`.

pub mod backup;
pub mod company;
pub mod demo;
pub mod library;
pub mod migrate_all;
pub mod migrate_rollback;
pub mod reindex;
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
    Serve(Box<serve::ServeArgs>),
    /// Create, list, delete, export and import companies (each has its own database).
    #[command(subcommand)]
    Company(company::CompanyCommand),
    /// Create a demo company with users, documents, a conversation, usage and a report.
    Demo(demo::DemoArgs),
    /// Add, list and delete documents of the global library, read and searched by every
    /// company.
    #[command(subcommand)]
    Library(library::LibraryCommand),
    /// Embed a company's chunks again with the configured embedder and rebuild its index.
    Reindex(reindex::ReindexArgs),
    /// Create user accounts.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Migrate primary.db, then every company database (backed up first), in parallel;
    /// or, with --rollback, put back the copies such a run took.
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
            Command::Serve(args) => serve::run(&self.data, *args),
            Command::Company(cmd) => company::run(&self.data, cmd),
            Command::User(cmd) => user::run(&self.data, cmd),
            Command::Reindex(args) => reindex::run(&self.data, args),
            Command::Demo(args) => demo::run(&self.data, args),
            Command::Library(cmd) => library::run(&self.data, cmd),
            Command::MigrateAllCompanies(args) => migrate_all::run(&self.data, args),
            Command::Backup(args) => backup::run(&self.data, args),
            Command::Restore(args) => restore::run(&self.data, args),
        }
    }
}

/// The company named by `key` (its UUID or slug), or an error saying there is none.
pub(crate) fn find_company(
    conn: &rusqlite::Connection,
    key: &str,
) -> anyhow::Result<crate::store::primary::companies::Company> {
    use anyhow::Context;
    crate::store::primary::companies::find(conn, key)?
        .with_context(|| format!("no company with id or slug {key:?}"))
}

/// For operator commands that work beside (or without) a running server: the canonical
/// data directory, after checking it holds a primary.db.
pub(crate) fn operator_data_dir(data: &DataOpts) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    let data_dir = data
        .data_dir
        .canonicalize()
        .with_context(|| format!("data directory {}", data.data_dir.display()))?;
    anyhow::ensure!(
        data_dir.join("primary.db").is_file(),
        "no primary.db in {}",
        data_dir.display()
    );
    Ok(data_dir)
}

/// The companies an operator command works on: the one named by `key` (an unknown key is
/// an error, not an empty run) or all of them, read from `data_dir`'s primary.db.
pub(crate) fn operator_companies(
    data_dir: &std::path::Path,
    key: Option<&str>,
    busy_timeout: std::time::Duration,
) -> anyhow::Result<Vec<crate::store::primary::companies::Company>> {
    use anyhow::Context;
    let conn = crate::ops::open_existing(&data_dir.join("primary.db"), busy_timeout)
        .context("opening primary.db")?;
    Ok(match key {
        Some(key) => vec![find_company(&conn, key)?],
        None => crate::store::primary::companies::all(&conn)?,
    })
}

/// A multi-threaded tokio runtime for subcommands that need one.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
