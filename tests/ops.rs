//! Operator commands on real SQLite files in temporary data directories: the real `silo`
//! binary for the CLI, the library for what the admin route and the registry call.

#[path = "ops/support.rs"]
mod support;

#[path = "ops/apply.rs"]
mod apply;
#[path = "ops/backup.rs"]
mod backup;
#[path = "ops/migrate.rs"]
mod migrate;
#[path = "ops/upgrade.rs"]
mod upgrade;

#[test]
fn cli_definition_is_consistent() {
    use clap::CommandFactory;
    silo::cli::Cli::command().debug_assert();
}
