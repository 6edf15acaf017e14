//! The `users` and `roles` tables of primary.db.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::DbError;

/// A new account; the password is already hashed.
pub struct NewUser<'a> {
    pub uuid: &'a str,
    pub email: &'a str,
    pub username: &'a str,
    pub hashed_password: &'a str,
    pub full_name: Option<&'a str>,
    pub company_id: Option<i64>,
    pub role: &'a str,
}

/// A user row joined with its role and company (the shape most callers need).
#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub uuid: String,
    pub email: String,
    pub username: String,
    pub hashed_password: String,
    pub full_name: Option<String>,
    pub company_id: Option<i64>,
    pub company_uuid: Option<String>,
    pub company_name: Option<String>,
    pub company_active: Option<bool>,
    pub role: String,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
    pub last_login: Option<String>,
}

pub(crate) const USER_SELECT: &str = "SELECT u.id, u.uuid, u.email, u.username, u.hashed_password,
        u.full_name, u.company_id, c.uuid, c.name, c.is_active, r.name, u.is_active,
        u.created_at, u.updated_at, u.last_login
    FROM users u JOIN roles r ON r.id = u.role_id LEFT JOIN companies c ON c.id = u.company_id";

impl User {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(User {
            id: row.get(0)?,
            uuid: row.get(1)?,
            email: row.get(2)?,
            username: row.get(3)?,
            hashed_password: row.get(4)?,
            full_name: row.get(5)?,
            company_id: row.get(6)?,
            company_uuid: row.get(7)?,
            company_name: row.get(8)?,
            company_active: row.get(9)?,
            role: row.get(10)?,
            is_active: row.get(11)?,
            created_at: row.get(12)?,
            updated_at: row.get(13)?,
            last_login: row.get(14)?,
        })
    }
}

/// Inserts a user; the role is given by name. Returns the internal id.
pub fn insert(conn: &Connection, user: &NewUser<'_>) -> Result<i64, DbError> {
    conn.execute(
        "INSERT INTO users (uuid, email, username, hashed_password, full_name, company_id, role_id)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, id FROM roles WHERE name = ?7",
        params![
            user.uuid,
            user.email,
            user.username,
            user.hashed_password,
            user.full_name,
            user.company_id,
            user.role
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn get_by_email(conn: &Connection, email: &str) -> Result<Option<User>, DbError> {
    let sql = format!("{USER_SELECT} WHERE u.email = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([email], User::from_row)
        .optional()?)
}

pub fn get_by_uuid(conn: &Connection, uuid: &str) -> Result<Option<User>, DbError> {
    let sql = format!("{USER_SELECT} WHERE u.uuid = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([uuid], User::from_row)
        .optional()?)
}

pub fn count_with_role(conn: &Connection, role: &str) -> Result<u64, DbError> {
    let count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM users u JOIN roles r ON r.id = u.role_id WHERE r.name = ?1",
        [role],
        |r| r.get(0),
    )?;
    Ok(count as u64)
}
