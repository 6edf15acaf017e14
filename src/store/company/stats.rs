//! Counts and sizes of one company's data, for the super-admin API (numbers only,
//! never content).

use std::path::Path;

use rusqlite::Connection;

use crate::store::db::DbError;

/// The company's row counts and metered totals.
#[derive(Debug, Default)]
pub struct DataStats {
    pub documents: u64,
    pub chunks: u64,
    pub conversations: u64,
    pub messages: u64,
    pub tokens: u64,
    pub estimated_cost: f64,
}

pub fn data_stats(conn: &Connection) -> Result<DataStats, DbError> {
    Ok(conn.query_row(
        "SELECT (SELECT COUNT(*) FROM documents), (SELECT COUNT(*) FROM document_chunks),
                (SELECT COUNT(*) FROM conversations), (SELECT COUNT(*) FROM messages),
                (SELECT COALESCE(SUM(total_tokens + embedding_tokens), 0) FROM token_usage),
                (SELECT COALESCE(SUM(estimated_cost), 0.0) FROM token_usage)",
        [],
        |r| {
            Ok(DataStats {
                documents: r.get::<_, i64>(0)? as u64,
                chunks: r.get::<_, i64>(1)? as u64,
                conversations: r.get::<_, i64>(2)? as u64,
                messages: r.get::<_, i64>(3)? as u64,
                tokens: r.get::<_, i64>(4)? as u64,
                estimated_cost: r.get(5)?,
            })
        },
    )?)
}

/// Total size of the files under `dir` (recursively); 0 when it does not exist.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}
