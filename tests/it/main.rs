//! Integration tests: the real router over real SQLite files in temporary data directories.

mod bodies;
mod common;
mod core;
mod extract;
mod identity;
mod integrity;
mod layering;
mod ops;
mod search_index;
mod shutdown;
mod storage;
mod worker;
mod workspace;
