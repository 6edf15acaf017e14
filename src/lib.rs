//! Silo: a database-per-tenant SaaS engine on SQLite.
//!
//! See ARCHITECTURE.md for the bird's-eye view, the module map and the invariants.

pub mod app;
pub mod auth;
pub mod cli;
pub mod company;
pub mod config;
pub mod db;
pub mod embed;
pub mod error;
pub mod http;
pub mod ingest;
pub mod logging;
pub mod machine;
pub mod ops;
pub mod pricing;
pub mod primary;
pub mod search;
pub mod tenant;
pub mod text;
pub mod vectors;
