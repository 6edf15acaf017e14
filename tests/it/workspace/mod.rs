//! The company workspace API: documents and their processing, jobs, conversations and
//! messages, agent logs, usage metering, the profile and saved reports, the OpenAPI
//! document. Every endpoint's happy and unhappy paths (status and body), tenant isolation,
//! restart recovery and concurrent writers.

mod chat;
mod documents;
pub mod helpers;
mod ingest;
mod metering;
mod openapi;
mod profile_reports;
mod reindex;
mod search;
mod search_ops;
