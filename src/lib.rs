//! Silo: a database-per-tenant SaaS engine on SQLite.
//!
//! See ARCHITECTURE.md for the bird's-eye view, the module map and the invariants.

pub mod app;
pub mod cli;
pub mod config;
pub mod embed;
pub mod error;
pub mod http;
pub mod identity;
pub mod index;
pub mod ingest;
pub mod logging;
pub mod machine;
pub mod ops;
pub mod pricing;
pub mod search;
pub mod service;
pub mod store;
pub mod tenant;
pub mod text;
pub mod web;
