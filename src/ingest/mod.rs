//! Document ingestion: uploaded files become searchable chunks in the background.
//!
//! - [`extract`]: file bytes → text sections (txt, md, html, csv, json, pdf, docx).
//! - [`chunk`]: text → overlapping chunks on paragraph/sentence boundaries.
//! - [`pipeline`]: one job end to end, in one final transaction.
//! - [`reindex_job`]: the background job moving a company's chunks to a new embedder.
//! - [`worker`]: the bounded background runner and the start-up recovery.
//! - [`uploads`]: the layout of `uploads/`, a received file ([`uploads::StagedFile`]) and
//!   the housekeeping.

pub mod chunk;
pub mod extract;
pub mod pipeline;
pub mod reindex_job;
pub mod uploads;
pub mod worker;

pub use worker::{IngestWorker, WorkerOptions};
