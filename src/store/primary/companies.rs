//! The `companies` table of primary.db. Rows whose files are still being made
//! (`provisioned_at IS NULL`) are invisible to every function but the provisioning ones.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::store::db::{DbError, now};

/// A row of `companies`.
#[derive(Clone, Debug)]
pub struct Company {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub slug: String,
    pub industry: Option<String>,
    /// Relative to the data directory.
    pub db_path: String,
    pub is_active: bool,
    pub created_at: String,
    pub updated_at: String,
    /// When an integrity check last ran on the company's database.
    pub integrity_checked_at: Option<String>,
    /// When the database was found damaged (writes are refused until it is restored).
    pub damaged_at: Option<String>,
    /// What the check found.
    pub damage: Option<String>,
}

const COLUMNS: &str = "id, uuid, name, slug, industry, db_path, is_active, created_at, updated_at, \
    integrity_checked_at, damaged_at, damage";

impl Company {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Company {
            id: row.get(0)?,
            uuid: row.get(1)?,
            name: row.get(2)?,
            slug: row.get(3)?,
            industry: row.get(4)?,
            db_path: row.get(5)?,
            is_active: row.get(6)?,
            created_at: row.get(7)?,
            updated_at: row.get(8)?,
            integrity_checked_at: row.get(9)?,
            damaged_at: row.get(10)?,
            damage: row.get(11)?,
        })
    }

    /// The company's directory, relative to the data directory.
    pub fn dir(&self) -> &str {
        self.db_path.rsplit_once('/').map_or("", |(dir, _)| dir)
    }
}

/// Reserves name and slug with an unprovisioned row; returns its internal id.
pub fn insert_unprovisioned(
    conn: &Connection,
    uuid: &str,
    name: &str,
    slug: &str,
    industry: Option<&str>,
    db_path: &str,
) -> Result<i64, DbError> {
    conn.execute(
        "INSERT INTO companies (uuid, name, slug, industry, db_path) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![uuid, name, slug, industry, db_path],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn mark_provisioned(conn: &Connection, id: i64) -> Result<(), DbError> {
    conn.execute(
        "UPDATE companies SET provisioned_at = ?2 WHERE id = ?1",
        params![id, now()],
    )?;
    Ok(())
}

/// Records an integrity check of company `id`: `damage` is None when it passed. A pass does
/// not clear an earlier finding (only a restore does: [`clear_damage`]). Returns true when
/// this check is the one that found the company damaged.
pub fn record_check(conn: &Connection, id: i64, damage: Option<&str>) -> Result<bool, DbError> {
    let ts = now();
    conn.execute(
        "UPDATE companies SET integrity_checked_at = ?2 WHERE id = ?1",
        params![id, ts],
    )?;
    match damage {
        Some(what) => mark_damaged(conn, id, what),
        None => Ok(false),
    }
}

/// Marks company `id` damaged with `what` unless it is already; true if it was not.
pub fn mark_damaged(conn: &Connection, id: i64, what: &str) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE companies SET damaged_at = ?2, damage = ?3 WHERE id = ?1 AND damaged_at IS NULL",
        params![id, now(), what],
    )? > 0)
}

/// Marks company `id` (public id `uuid`) damaged and writes the `company.damaged` audit row,
/// in one transaction, unless it is marked already. True if this call marked it.
pub fn report_damage(
    conn: &mut Connection,
    id: i64,
    uuid: &str,
    what: &str,
    found_by: &str,
) -> Result<bool, DbError> {
    let tx = crate::store::db::write_tx(conn)?;
    let newly = record_check(&tx, id, Some(what))?;
    if newly {
        let detail = serde_json::json!({"damage": what, "found_by": found_by});
        super::audit::record_system(&tx, "company.damaged", uuid, &detail)?;
    }
    tx.commit()?;
    Ok(newly)
}

/// Clears a damage finding (a good copy was restored).
pub fn clear_damage(conn: &Connection, id: i64) -> Result<(), DbError> {
    conn.execute(
        "UPDATE companies SET damaged_at = NULL, damage = NULL WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// How many companies are marked damaged.
pub fn count_damaged(conn: &Connection) -> Result<u64, DbError> {
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM companies WHERE damaged_at IS NOT NULL AND provisioned_at IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

/// Removes a company row (its users and their tokens go with it by cascade).
pub fn delete(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM companies WHERE id = ?1", [id])? > 0)
}

/// Rows left by a provisioning that never finished (a crash), older than `before`.
pub fn delete_stale_unprovisioned(conn: &Connection, before: &str) -> Result<usize, DbError> {
    Ok(conn.execute(
        "DELETE FROM companies WHERE provisioned_at IS NULL AND created_at < ?1",
        [before],
    )?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Company>, DbError> {
    let sql =
        format!("SELECT {COLUMNS} FROM companies WHERE id = ?1 AND provisioned_at IS NOT NULL");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([id], Company::from_row)
        .optional()?)
}

/// Finds a company by its public UUID or its slug (what operators type).
pub fn find(conn: &Connection, key: &str) -> Result<Option<Company>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM companies WHERE (uuid = ?1 OR slug = ?1) AND provisioned_at IS NOT NULL"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([key], Company::from_row)
        .optional()?)
}

/// True when a provisioned or in-progress company already uses `name` or `slug`.
pub fn name_or_slug_taken(conn: &Connection, name: &str, slug: &str) -> Result<bool, DbError> {
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM companies WHERE name = ?1 OR slug = ?2)",
        params![name, slug],
        |r| r.get(0),
    )?)
}

/// A page of provisioned companies, oldest first, and the total count.
pub fn list(conn: &Connection, limit: u32, offset: u32) -> Result<(Vec<Company>, u64), DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM companies WHERE provisioned_at IS NOT NULL
         ORDER BY id LIMIT ?1 OFFSET ?2"
    );
    let items = conn
        .prepare_cached(&sql)?
        .query_map(params![limit, offset], Company::from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM companies WHERE provisioned_at IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    Ok((items, total as u64))
}

/// How [`browse`] orders companies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// By name, then id.
    #[default]
    Name,
    /// Newest first.
    Newest,
}

/// Where a page of [`browse`] starts: after this company (by the order's key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct After {
    pub name: String,
    pub id: i64,
}

/// A company with the number of its users.
#[derive(Clone, Debug)]
pub struct Browsed {
    pub company: Company,
    pub users: u64,
}

/// Up to `limit` provisioned companies in `order`, after `after` (keyset pagination: the
/// cost of a page does not grow with its depth), whose name or slug contains `q`
/// (case-insensitive); and how many match in all. One statement: the user counts are read
/// off `idx_users_company`.
pub fn browse(
    conn: &Connection,
    q: Option<&str>,
    order: Order,
    after: Option<&After>,
    limit: u32,
) -> Result<(Vec<Browsed>, u64), DbError> {
    let pattern = q.map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    let filter = "provisioned_at IS NOT NULL
        AND (?1 IS NULL OR name LIKE ?1 ESCAPE '\\' OR slug LIKE ?1 ESCAPE '\\')";
    let (keyset, order_by) = match order {
        Order::Name => (
            "(?2 IS NULL OR name > ?2 OR (name = ?2 AND id > ?3))",
            "name, id",
        ),
        Order::Newest => ("(?3 IS NULL OR id < ?3)", "id DESC"),
    };
    let sql = format!(
        "SELECT {COLUMNS}, (SELECT COUNT(*) FROM users u WHERE u.company_id = companies.id)
           FROM companies WHERE {filter} AND {keyset} ORDER BY {order_by} LIMIT ?4"
    );
    let (after_name, after_id) = (after.map(|a| a.name.as_str()), after.map(|a| a.id));
    let items = conn
        .prepare_cached(&sql)?
        .query_map(params![pattern, after_name, after_id, limit], |row| {
            Ok(Browsed {
                company: Company::from_row(row)?,
                users: row.get::<_, i64>(12)? as u64,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM companies WHERE {filter}"),
        params![pattern],
        |r| r.get(0),
    )?;
    Ok((items, total as u64))
}

/// How many provisioned companies are active and inactive.
pub fn count_by_state(conn: &Connection) -> Result<(u64, u64), DbError> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(is_active), 0), COALESCE(SUM(1 - is_active), 0)
           FROM companies WHERE provisioned_at IS NOT NULL",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )?)
}

/// Every provisioned company (for operator tools that walk them all).
pub fn all(conn: &Connection) -> Result<Vec<Company>, DbError> {
    let sql =
        format!("SELECT {COLUMNS} FROM companies WHERE provisioned_at IS NOT NULL ORDER BY id");
    let rows = conn
        .prepare(&sql)?
        .query_map([], Company::from_row)?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Applies the given changes; returns false when the company does not exist.
pub fn update(
    conn: &Connection,
    id: i64,
    name: Option<&str>,
    industry: Option<Option<&str>>,
    is_active: Option<bool>,
) -> Result<bool, DbError> {
    let changed = conn.execute(
        "UPDATE companies SET
             name = COALESCE(?2, name),
             industry = CASE WHEN ?3 THEN ?4 ELSE industry END,
             is_active = COALESCE(?5, is_active),
             updated_at = ?6
         WHERE id = ?1 AND provisioned_at IS NOT NULL",
        params![
            id,
            name,
            industry.is_some(),
            industry.flatten(),
            is_active,
            now()
        ],
    )?;
    Ok(changed > 0)
}
