//! The use cases: what a request, a command or the bootstrap asks Silo to do, written once
//! and shared by `http`, `cli` and the bootstrap.
//!
//! A service function takes the `App` (when it needs primary.db or shared state), the
//! acting [`crate::identity::Actor`] and input already parsed into the repositories' own
//! types; it checks permissions, runs its transactions through the repositories of
//! `store` (company data through `tenant::context`, primary.db through
//! `App::with_primary`), writes the audit log, and returns rows or a
//! [`crate::error::Error`]. It never chooses an HTTP status and never sees a request.

pub mod accounts;
pub mod agent_logs;
pub mod archive;
pub mod companies;
pub mod conversations;
pub mod demo;
pub mod documents;
pub mod health;
pub mod installation;
pub mod jobs;
pub mod library;
pub mod migrations;
pub mod profile;
pub mod reports;
pub mod roles;
pub mod search;
pub mod sessions;
pub mod trash;
pub mod usage;
