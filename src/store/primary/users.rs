//! The `users` table of primary.db (with the role and company each user has).

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::store::db::DbError;

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

/// Whether an account already uses this email or username (both compare without case).
pub fn email_or_username_taken(
    conn: &Connection,
    email: &str,
    username: &str,
) -> Result<bool, DbError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE email = ?1 OR username = ?2)",
        params![email, username],
        |r| r.get(0),
    )?)
}

/// How many users belong to the company.
pub fn count_in_company(conn: &Connection, company_id: i64) -> Result<u64, DbError> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM users WHERE company_id = ?1")?
        .query_row([company_id], |r| r.get(0))?;
    Ok(n as u64)
}

/// Every account of the installation.
pub fn count_all(conn: &Connection) -> Result<u64, DbError> {
    let count: i64 = conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?;
    Ok(count as u64)
}

pub fn count_with_role(conn: &Connection, role: &str) -> Result<u64, DbError> {
    let count: i64 = conn.query_row(
        "SELECT COUNT(*) FROM users u JOIN roles r ON r.id = u.role_id WHERE r.name = ?1",
        [role],
        |r| r.get(0),
    )?;
    Ok(count as u64)
}

pub fn get_by_id(conn: &Connection, id: i64) -> Result<Option<User>, DbError> {
    let sql = format!("{USER_SELECT} WHERE u.id = ?1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], User::from_row)
        .optional()?)
}

/// What the request pipeline needs about the caller, in one query: the user, its role and
/// permissions, and whether its company is active and provisioned.
#[derive(Debug, Clone)]
pub struct Principal {
    pub id: i64,
    pub uuid: String,
    pub email: String,
    pub is_active: bool,
    pub role: String,
    pub permissions: Vec<String>,
    pub company_id: Option<i64>,
    pub company_uuid: Option<String>,
    /// Active and provisioned (None when the user has no company).
    pub company_usable: Option<bool>,
    /// The token's session (refresh-token family) has not been ended (logout, password
    /// change, "end all sessions", a reused refresh token).
    pub session_live: bool,
}

pub fn principal(
    conn: &Connection,
    uuid: &str,
    session: &str,
) -> Result<Option<Principal>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT u.id, u.uuid, u.email, u.is_active, r.name, u.company_id, c.uuid,
                CASE WHEN c.id IS NULL THEN NULL ELSE c.is_active AND c.provisioned_at IS NOT NULL END,
                (SELECT group_concat(p.name, ' ') FROM role_permissions rp
                   JOIN permissions p ON p.id = rp.permission_id WHERE rp.role_id = u.role_id),
                EXISTS (SELECT 1 FROM refresh_tokens t
                        WHERE t.family_id = ?2 AND t.user_id = u.id AND t.revoked_at IS NULL)
         FROM users u JOIN roles r ON r.id = u.role_id LEFT JOIN companies c ON c.id = u.company_id
         WHERE u.uuid = ?1",
    )?;
    let row = stmt
        .query_row([uuid, session], |r| {
            let perms: Option<String> = r.get(8)?;
            Ok(Principal {
                id: r.get(0)?,
                uuid: r.get(1)?,
                email: r.get(2)?,
                is_active: r.get(3)?,
                role: r.get(4)?,
                company_id: r.get(5)?,
                company_uuid: r.get(6)?,
                company_usable: r.get(7)?,
                permissions: perms
                    .map(|p| p.split(' ').map(str::to_string).collect())
                    .unwrap_or_default(),
                session_live: r.get(9)?,
            })
        })
        .optional()?;
    Ok(row)
}

/// Filters of a user listing.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub company_id: Option<i64>,
    pub role: Option<String>,
}

pub fn list(
    conn: &Connection,
    filter: &UserFilter,
    limit: u32,
    offset: u32,
) -> Result<(Vec<User>, u64), DbError> {
    let cond = "(?1 IS NULL OR u.company_id = ?1) AND (?2 IS NULL OR r.name = ?2)";
    let sql = format!("{USER_SELECT} WHERE {cond} ORDER BY u.id LIMIT ?3 OFFSET ?4");
    let items = conn
        .prepare_cached(&sql)?
        .query_map(
            params![filter.company_id, filter.role, limit, offset],
            User::from_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM users u JOIN roles r ON r.id = u.role_id WHERE {cond}"),
        params![filter.company_id, filter.role],
        |r| r.get(0),
    )?;
    Ok((items, total as u64))
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct UserChanges<'a> {
    pub full_name: Option<Option<&'a str>>,
    pub role: Option<&'a str>,
    pub is_active: Option<bool>,
    pub hashed_password: Option<&'a str>,
}

pub fn update(conn: &Connection, id: i64, changes: &UserChanges<'_>) -> Result<bool, DbError> {
    let changed = conn.execute(
        "UPDATE users SET
             full_name = CASE WHEN ?2 THEN ?3 ELSE full_name END,
             role_id = COALESCE((SELECT id FROM roles WHERE name = ?4), role_id),
             is_active = COALESCE(?5, is_active),
             hashed_password = COALESCE(?6, hashed_password),
             updated_at = ?7
         WHERE id = ?1",
        params![
            id,
            changes.full_name.is_some(),
            changes.full_name.flatten(),
            changes.role,
            changes.is_active,
            changes.hashed_password,
            crate::store::db::now()
        ],
    )?;
    Ok(changed > 0)
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM users WHERE id = ?1", [id])? > 0)
}

pub fn touch_last_login(conn: &Connection, id: i64) -> Result<(), DbError> {
    conn.execute(
        "UPDATE users SET last_login = ?2 WHERE id = ?1",
        params![id, crate::store::db::now()],
    )?;
    Ok(())
}

/// Active super admins other than `except` (to refuse removing the last one).
/// The active super admin created first, if any.
pub fn first_active_super_admin(conn: &Connection) -> Result<Option<User>, DbError> {
    let sql = format!(
        "{USER_SELECT} WHERE r.name = 'super_admin' AND u.is_active = 1 ORDER BY u.id LIMIT 1"
    );
    Ok(conn.query_row(&sql, [], User::from_row).optional()?)
}

pub fn other_active_super_admins(conn: &Connection, except: i64) -> Result<u64, DbError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM users u JOIN roles r ON r.id = u.role_id
         WHERE r.name = 'super_admin' AND u.is_active = 1 AND u.id != ?1",
        [except],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}
