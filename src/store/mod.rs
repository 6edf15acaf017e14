//! Storage: every SQL statement of Silo lives here.
//!
//! - [`db`]: connection pools, pragmas, migrations, transactions and integrity checks.
//! - [`primary`]: the repositories of primary.db (users, companies, roles, sessions, audit).
//! - [`company`]: the repositories of a company's own database, one module per table.
//!
//! Repositories are free functions over a `&Connection`; they never choose a database
//! themselves (invariant 1): callers reach a company's connection through `tenant::context`.

pub mod company;
pub mod db;
pub mod primary;
