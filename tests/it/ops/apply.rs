//! The transactional apply: foreign keys off during the run and checked before COMMIT,
//! and a history refinery itself accepts.

use refinery::Migration;
use rusqlite::Connection;
use silo::store::db::apply::{self, ApplyError};
use silo::store::db::migrations::{self, MigrationSet};

const TABLE: &str = "test_migrations";

fn set(extra: &[(&str, &str)]) -> Vec<Migration> {
    let mut all = vec![
        Migration::unapplied(
            "V1__parents_and_children",
            "CREATE TABLE parent (id INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT;
             CREATE TABLE child (id INTEGER PRIMARY KEY,
                 parent_id INTEGER NOT NULL REFERENCES parent (id) ON DELETE CASCADE) STRICT;",
        )
        .unwrap(),
    ];
    for (name, sql) in extra {
        all.push(Migration::unapplied(name, sql).unwrap());
    }
    all
}

fn db_with_rows(dir: &tempfile::TempDir) -> Connection {
    let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    apply::apply_pending(&mut conn, &set(&[]), TABLE).unwrap();
    conn.execute_batch(
        "INSERT INTO parent VALUES (1, 'a'), (2, 'b');
         INSERT INTO child VALUES (10, 1), (11, 1), (12, 2);",
    )
    .unwrap();
    conn
}

fn count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn version(conn: &Connection) -> i64 {
    conn.query_row(&format!("SELECT MAX(version) FROM {TABLE}"), [], |r| {
        r.get(0)
    })
    .unwrap()
}

/// The classic table rebuild (create new, copy, drop old, rename) would cascade-delete the
/// children with foreign keys on; run with them off, every child survives and the check
/// passes. The connection gets its foreign_keys setting back afterwards.
#[test]
fn a_table_rebuild_keeps_child_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = db_with_rows(&dir);
    let rebuild = "CREATE TABLE parent_new (id INTEGER PRIMARY KEY,
                       name TEXT NOT NULL CHECK (name <> '')) STRICT;
                   INSERT INTO parent_new SELECT id, name FROM parent;
                   DROP TABLE parent;
                   ALTER TABLE parent_new RENAME TO parent;";
    let applied =
        apply::apply_pending(&mut conn, &set(&[("V2__rebuild_parent", rebuild)]), TABLE).unwrap();
    assert_eq!((applied.from, applied.to), (1, 2));
    assert_eq!(applied.applied, vec!["V2__rebuild_parent".to_string()]);
    assert!(applied.warnings.is_empty());
    assert_eq!(count(&conn, "child"), 3);
    let fk: i64 = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
}

/// A migration that orphans rows fails the foreign key check and is rolled back whole.
#[test]
fn a_foreign_key_violation_rolls_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = db_with_rows(&dir);
    let migrations = set(&[
        (
            "V2__add_flag",
            "ALTER TABLE parent ADD COLUMN flag INTEGER;",
        ),
        ("V3__drop_parent_1", "DELETE FROM parent WHERE id = 1;"),
    ]);
    let err = apply::apply_pending(&mut conn, &migrations, TABLE).unwrap_err();
    match &err {
        ApplyError::ForeignKeys { count, sample } => {
            assert_eq!(*count, 2);
            assert!(sample.contains("child row 10"), "{sample}");
        }
        other => panic!("expected a foreign key failure, got {other}"),
    }
    assert_eq!(version(&conn), 1);
    assert_eq!(count(&conn, "parent"), 2);
    let has_flag: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM pragma_table_info('parent') WHERE name = 'flag'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(has_flag, 0);
}

/// Violations the data already had do not block an upgrade forever: they are reported.
#[test]
fn pre_existing_violations_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = db_with_rows(&dir);
    conn.execute_batch(
        "PRAGMA foreign_keys = OFF; INSERT INTO child VALUES (99, 42); PRAGMA foreign_keys = ON;",
    )
    .unwrap();
    let migrations = set(&[(
        "V2__add_flag",
        "ALTER TABLE parent ADD COLUMN flag INTEGER;",
    )]);
    let applied = apply::apply_pending(&mut conn, &migrations, TABLE).unwrap();
    assert_eq!(applied.to, 2);
    assert_eq!(applied.warnings.len(), 1);
    assert!(
        applied.warnings[0].contains("child row 99"),
        "{:?}",
        applied.warnings
    );
}

/// A history changed under our feet is refused, like refinery's abort_divergent.
#[test]
fn a_divergent_history_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = db_with_rows(&dir);
    conn.execute(&format!("UPDATE {TABLE} SET checksum = '1'"), [])
        .unwrap();
    let err = apply::apply_pending(&mut conn, &set(&[]), TABLE).unwrap_err();
    assert!(matches!(err, ApplyError::Divergent(_)), "{err}");
}

/// Our history rows are refinery's own: after our run, refinery's runner finds nothing to
/// apply and no divergence — from scratch and on top of a history refinery wrote.
#[test]
fn refinery_accepts_the_history_we_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = Connection::open(dir.path().join("fresh.db")).unwrap();
    let reached = migrations::migrate(&mut fresh, MigrationSet::Company).unwrap();
    assert_eq!(reached, MigrationSet::Company.latest());
    let report = MigrationSet::Company.runner().run(&mut fresh).unwrap();
    assert!(report.applied_migrations().is_empty());

    let mut old = Connection::open(dir.path().join("old.db")).unwrap();
    MigrationSet::Company
        .runner()
        .set_target(refinery::Target::Version(1))
        .run(&mut old)
        .unwrap();
    let applied = migrations::migrate_reporting(&mut old, MigrationSet::Company).unwrap();
    assert_eq!(
        (applied.from, applied.to),
        (1, MigrationSet::Company.latest())
    );
    let report = MigrationSet::Company.runner().run(&mut old).unwrap();
    assert!(report.applied_migrations().is_empty());
    let applied = MigrationSet::Company
        .runner()
        .get_applied_migrations(&mut old)
        .unwrap();
    assert_eq!(applied.len() as i64, MigrationSet::Company.latest());
}
