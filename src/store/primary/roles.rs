//! Roles, permissions and which role holds which permission.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::db::DbError;

/// A role and the names of its permissions (sorted).
#[derive(Debug)]
pub struct Role {
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
}

pub fn list(conn: &Connection) -> Result<Vec<Role>, DbError> {
    let mut stmt = conn.prepare(
        "SELECT r.name, r.description,
                (SELECT json_group_array(p.name) FROM
                    (SELECT p.name FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id
                     WHERE rp.role_id = r.id ORDER BY p.name) p)
         FROM roles r ORDER BY r.id",
    )?;
    let rows = stmt.query_map([], |r| {
        let perms: String = r.get(2)?;
        Ok(Role {
            name: r.get(0)?,
            description: r.get(1)?,
            permissions: serde_json::from_str(&perms).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn exists(conn: &Connection, role: &str) -> Result<bool, DbError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM roles WHERE name = ?1)",
        [role],
        |r| r.get(0),
    )?)
}

/// Every permission name known to the installation.
pub fn all_permissions(conn: &Connection) -> Result<HashSet<String>, DbError> {
    let mut stmt = conn.prepare("SELECT name FROM permissions")?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

/// Replaces a role's permissions. Returns false when the role does not exist.
pub fn set_permissions(
    tx: &Connection,
    role: &str,
    permissions: &[String],
) -> Result<bool, DbError> {
    let role_id: Option<i64> = tx
        .query_row("SELECT id FROM roles WHERE name = ?1", [role], |r| r.get(0))
        .optional()?;
    let Some(role_id) = role_id else {
        return Ok(false);
    };
    tx.execute("DELETE FROM role_permissions WHERE role_id = ?1", [role_id])?;
    for name in permissions {
        tx.execute(
            "INSERT OR IGNORE INTO role_permissions (role_id, permission_id)
             SELECT ?1, id FROM permissions WHERE name = ?2",
            params![role_id, name],
        )?;
    }
    Ok(true)
}
