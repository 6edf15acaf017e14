//! Setup shared by the benchmarks: many companies made fast by copying one real company
//! database, so a benchmark measures what it names, not provisioning.

#![allow(dead_code)]

use std::path::Path;

/// The value after `name` on the command line, else `default`.
pub fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.into())
}

/// Adds company number `i` (slug `bench-NNNNN`) to `data_dir`: its directory with `vectors/`
/// and `uploads/`, `source` copied as its database, and its provisioned row inserted
/// through `primary` (pass a transaction to add many at once).
pub fn add_copied_company(
    primary: &rusqlite::Connection,
    data_dir: &Path,
    i: usize,
    source: &Path,
) -> anyhow::Result<()> {
    let slug = format!("bench-{i:05}");
    let dir = data_dir.join("companies").join(&slug);
    std::fs::create_dir_all(dir.join("vectors"))?;
    std::fs::create_dir_all(dir.join("uploads"))?;
    std::fs::copy(source, dir.join("company.db"))?;
    primary.execute(
        "INSERT INTO companies (uuid, name, slug, db_path, provisioned_at)
         VALUES (?1, ?2, ?3, ?4, '2026-01-01T00:00:00.000Z')",
        rusqlite::params![
            uuid::Uuid::new_v4().to_string(),
            format!("Bench {i:05}"),
            slug,
            format!("companies/{slug}/company.db")
        ],
    )?;
    Ok(())
}
