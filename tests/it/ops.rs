//! Operator commands on real SQLite files in temporary data directories: the real `silo`
//! binary for the CLI, the library for what the admin route and the registry call.

mod support;

mod apply;
mod backup;
mod migrate;
mod upgrade;
