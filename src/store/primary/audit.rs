//! The audit log: who changed what in the control plane (companies, users, roles).

use rusqlite::{Connection, params};

use crate::store::db::DbError;

/// Records one administrative action; `detail` is JSON.
pub fn record(
    conn: &Connection,
    actor_id: i64,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO audit_log (actor_id, action, target, detail) VALUES (?1, ?2, ?3, ?4)",
        params![actor_id, action, target, detail.to_string()],
    )?;
    Ok(())
}

/// Records an action the system took by itself (no user: the background scrub, a check
/// that found damage at run time).
pub fn record_system(
    conn: &Connection,
    action: &str,
    target: &str,
    detail: &serde_json::Value,
) -> Result<(), DbError> {
    conn.execute(
        "INSERT INTO audit_log (actor_id, action, target, detail) VALUES (NULL, ?1, ?2, ?3)",
        params![action, target, detail.to_string()],
    )?;
    Ok(())
}
