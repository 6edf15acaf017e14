//! A database's logical content as hashes: one sha256 and a row count per table, plus one
//! for the schema. Two databases with equal fingerprints hold the same rows (rowids
//! included) under the same schema, whatever their page layout, so it is how a rollback
//! tells "nobody wrote since the migration" and how a restored or imported copy is proved
//! equal to its source.
//!
//! Every ordinary and shadow table is read (FTS5's index is data too); virtual tables are
//! read through their shadow tables, and `sqlite_stat*` is left out (ANALYZE and
//! `PRAGMA optimize` write it without changing any row).

use std::collections::BTreeMap;

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The name the schema's own entry has in [`Fingerprint::tables`].
pub const SCHEMA: &str = "sqlite_schema";

/// One table's rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSum {
    pub rows: u64,
    pub sha256: String,
}

/// Every table's [`TableSum`], by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub tables: BTreeMap<String, TableSum>,
}

/// A table whose rows differ between two fingerprints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TableChange {
    pub table: String,
    /// Rows in the earlier state (`None`: the table did not exist).
    pub rows_then: Option<u64>,
    /// Rows now (`None`: the table is gone).
    pub rows_now: Option<u64>,
}

impl std::fmt::Display for TableChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |v: Option<u64>| v.map_or("none".to_string(), |v| v.to_string());
        match (self.rows_then, self.rows_now) {
            (Some(a), Some(b)) if a == b => write!(f, "{} ({a} rows, changed)", self.table),
            (then, now) => write!(f, "{} ({} → {} rows)", self.table, n(then), n(now)),
        }
    }
}

impl Fingerprint {
    /// One sha256 over every table's: equal iff the fingerprints are.
    pub fn sha256(&self) -> String {
        let mut h = Sha256::new();
        for (name, sum) in &self.tables {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update(sum.rows.to_le_bytes());
            h.update(sum.sha256.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// The tables that differ from `earlier`, by name.
    pub fn changes_since(&self, earlier: &Fingerprint) -> Vec<TableChange> {
        let mut names: Vec<&String> = self.tables.keys().chain(earlier.tables.keys()).collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter(|name| self.tables.get(*name) != earlier.tables.get(*name))
            .map(|name| TableChange {
                table: name.clone(),
                rows_then: earlier.tables.get(name).map(|s| s.rows),
                rows_now: self.tables.get(name).map(|s| s.rows),
            })
            .collect()
    }

    /// Rows added or removed across `changes`' tables (a table changed in place counts 0
    /// here: the number is a lower bound of what differs; the schema's entries are not rows).
    pub fn row_delta(changes: &[TableChange]) -> u64 {
        changes
            .iter()
            .filter(|c| c.table != SCHEMA)
            .map(|c| c.rows_then.unwrap_or(0).abs_diff(c.rows_now.unwrap_or(0)))
            .sum()
    }
}

/// Reads every table of the database open on `conn` (inside the caller's transaction, if
/// any: the fingerprint is then of exactly that state).
pub fn fingerprint(conn: &Connection) -> rusqlite::Result<Fingerprint> {
    let mut fp = Fingerprint::default();
    fp.tables.insert(
        SCHEMA.to_string(),
        sum_rows(
            conn,
            "SELECT type, name, tbl_name, sql FROM sqlite_schema \
             WHERE name NOT LIKE 'sqlite_stat%' ORDER BY type, name",
        )?,
    );
    let tables: Vec<(String, bool)> = conn
        .prepare(
            "SELECT name, wr FROM pragma_table_list WHERE schema = 'main' \
             AND type IN ('table', 'shadow') AND name NOT LIKE 'sqlite_stat%' \
             AND name != 'sqlite_schema' ORDER BY name",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, bool>(1)?)))?
        .collect::<Result<_, _>>()?;
    for (name, without_rowid) in tables {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let sql = if without_rowid {
            let keys: Vec<String> = conn
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info({}) WHERE pk > 0 ORDER BY pk",
                    sql_literal(&name)
                ))?
                .query_map([], |r| r.get::<_, String>(0))?
                .map(|n| n.map(|n| format!("\"{}\"", n.replace('"', "\"\""))))
                .collect::<Result<_, _>>()?;
            format!("SELECT * FROM {quoted} ORDER BY {}", keys.join(", "))
        } else {
            format!("SELECT rowid, * FROM {quoted} ORDER BY rowid")
        };
        fp.tables.insert(name, sum_rows(conn, &sql)?);
    }
    Ok(fp)
}

fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Hashes every value of every row `sql` returns, each tagged with its type and length so
/// that no two different row sequences hash alike.
fn sum_rows(conn: &Connection, sql: &str) -> rusqlite::Result<TableSum> {
    let mut stmt = conn.prepare(sql)?;
    let columns = stmt.column_count();
    let mut rows = stmt.query([])?;
    let mut h = Sha256::new();
    let mut count = 0u64;
    while let Some(row) = rows.next()? {
        count += 1;
        h.update(b"R");
        for i in 0..columns {
            match row.get_ref(i)? {
                ValueRef::Null => h.update(b"n"),
                ValueRef::Integer(v) => {
                    h.update(b"i");
                    h.update(v.to_le_bytes());
                }
                ValueRef::Real(v) => {
                    h.update(b"r");
                    h.update(v.to_bits().to_le_bytes());
                }
                ValueRef::Text(v) => {
                    h.update(b"t");
                    h.update((v.len() as u64).to_le_bytes());
                    h.update(v);
                }
                ValueRef::Blob(v) => {
                    h.update(b"b");
                    h.update((v.len() as u64).to_le_bytes());
                    h.update(v);
                }
            }
        }
    }
    Ok(TableSum {
        rows: count,
        sha256: hex::encode(h.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);
             CREATE TABLE k (x TEXT PRIMARY KEY, y BLOB) WITHOUT ROWID;
             CREATE VIRTUAL TABLE f USING fts5 (v, content = 'a', content_rowid = 'id');
             INSERT INTO a (v) VALUES ('one'), ('two');
             INSERT INTO f (rowid, v) SELECT id, v FROM a;
             INSERT INTO k VALUES ('b', x'00'), ('a', NULL);",
        )
        .unwrap();
        conn
    }

    #[test]
    fn equal_content_is_an_equal_fingerprint_and_any_change_shows() {
        let conn = db();
        let first = fingerprint(&conn).unwrap();
        assert_eq!(first, fingerprint(&db()).unwrap());
        assert_eq!(first.tables["a"].rows, 2);
        assert_eq!(first.tables["k"].rows, 2);
        assert!(
            first.tables.contains_key("f_data"),
            "{:?}",
            first.tables.keys()
        );
        assert!(
            !first.tables.contains_key("f"),
            "virtual tables are read through shadows"
        );

        // ANALYZE writes sqlite_stat1 and changes no row.
        conn.execute_batch("ANALYZE;").unwrap();
        assert_eq!(fingerprint(&conn).unwrap(), first);

        // An update in place: same row count, different hash.
        conn.execute("UPDATE k SET y = x'01' WHERE x = 'a'", [])
            .unwrap();
        let now = fingerprint(&conn).unwrap();
        assert_ne!(now.sha256(), first.sha256());
        let changes = now.changes_since(&first);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].to_string(), "k (2 rows, changed)");

        // A new row and a new table.
        conn.execute_batch("INSERT INTO a (v) VALUES ('three'); CREATE TABLE z (q);")
            .unwrap();
        let changes = fingerprint(&conn).unwrap().changes_since(&first);
        let names: Vec<&str> = changes.iter().map(|c| c.table.as_str()).collect();
        assert_eq!(names, ["a", "k", SCHEMA, "z"]);
        assert_eq!(changes[0].to_string(), "a (2 → 3 rows)");
        assert_eq!(changes[3].to_string(), "z (none → 0 rows)");
        assert_eq!(Fingerprint::row_delta(&changes), 1);
    }

    #[test]
    fn a_value_moved_between_columns_or_rows_changes_the_hash() {
        let a = Connection::open_in_memory().unwrap();
        a.execute_batch("CREATE TABLE t (x, y); INSERT INTO t VALUES ('ab', ''), ('', 'c');")
            .unwrap();
        let b = Connection::open_in_memory().unwrap();
        b.execute_batch("CREATE TABLE t (x, y); INSERT INTO t VALUES ('a', 'b'), ('', 'c');")
            .unwrap();
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (x, y); INSERT INTO t VALUES (1, ''), ('', 'c');")
            .unwrap();
        let d = Connection::open_in_memory().unwrap();
        d.execute_batch("CREATE TABLE t (x, y); INSERT INTO t VALUES ('1', ''), ('', 'c');")
            .unwrap();
        let sums: Vec<String> = [a, b, c, d]
            .iter()
            .map(|conn| fingerprint(conn).unwrap().tables["t"].sha256.clone())
            .collect();
        for i in 0..sums.len() {
            for j in i + 1..sums.len() {
                assert_ne!(sums[i], sums[j], "{i} vs {j}");
            }
        }
    }
}
