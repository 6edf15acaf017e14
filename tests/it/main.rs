//! Integration tests: the real router over real SQLite files in temporary data directories.
//! One file per route group, CLI command or cross-cutting concern; their shared helpers are
//! in `helpers`.

mod admin_archive;
mod admin_companies;
mod admin_users;
mod agent_logs;
mod auth;
mod auth_limits;
mod bodies;
mod cli_backup_restore;
mod cli_company;
mod cli_company_archive;
mod cli_demo;
mod cli_migrate_all;
mod cli_migrate_all_apply;
mod cli_migrate_rollback;
mod company_users;
mod console;
mod conversations;
mod documents;
mod exact_terms;
mod extract;
mod health;
mod helpers;
mod index;
mod ingest;
mod integrity;
mod layering;
mod library;
mod openapi;
mod permissions;
mod profile;
mod reindex;
mod reports;
mod search;
mod search_rank;
mod shutdown;
mod storage;
mod tenancy;
mod text_input;
mod trash;
mod usage;
