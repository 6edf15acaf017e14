//! SQLite's own integrity checks, and recognising a damaged database by its errors.
//!
//! `PRAGMA quick_check` verifies every b-tree page's structure (O(size), no index
//! cross-check); `PRAGMA integrity_check` also checks that every index matches its table.
//! A database damaged badly enough makes the pragma itself fail with SQLITE_CORRUPT or
//! SQLITE_NOTADB: that counts as damage too.

use rusqlite::Connection;

/// How thorough a check is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Depth {
    /// `quick_check`: page structure.
    Quick,
    /// `integrity_check`: page structure and every index against its table.
    Full,
}

/// Most problems reported in one finding.
const MAX_PROBLEMS: usize = 5;

/// Checks the database open on `conn`: Ok, or a description of what is wrong.
pub fn check(conn: &Connection, depth: Depth) -> Result<(), String> {
    let pragma = match depth {
        Depth::Quick => "quick_check",
        Depth::Full => "integrity_check",
    };
    let sql = format!("PRAGMA {pragma}({MAX_PROBLEMS})");
    let rows: rusqlite::Result<Vec<String>> = conn
        .prepare(&sql)
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect());
    match rows {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => Ok(()),
        Ok(rows) => Err(format!("{pragma}: {}", rows.join("; "))),
        Err(e) => Err(format!("{pragma} failed: {e}")),
    }
}

/// Whether `err`, or an error it wraps, says the database file is damaged.
pub fn is_corrupt(err: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(err), |e| e.source()).any(|e| {
        matches!(
            e.downcast_ref::<rusqlite::Error>()
                .and_then(rusqlite::Error::sqlite_error_code),
            Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
        )
    })
}
