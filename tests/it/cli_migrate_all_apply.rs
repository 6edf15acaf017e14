//! What `silo migrate-all-companies` runs for each company, through the library: the
//! transactional apply (foreign keys off during the run and checked before COMMIT, a history
//! refinery itself accepts), and the V1 → V2 upgrade through the entry points the server
//! uses (rows survive, the registry opens the result, the live path closes the company
//! meanwhile).

use std::time::Duration;

use refinery::Migration;
use rusqlite::Connection;
use silo::ops::migrate::{self, MigrateOptions, Status};
use silo::store::db::apply::{self, ApplyError};
use silo::store::db::migrations::{self, MigrationSet};
use silo::tenant::{OnSchemaBehind, RegistryOptions, TenantRegistry};

use crate::helpers::data_dir::*;

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

#[test]
fn a_v1_company_upgrades_keeps_its_rows_and_opens() {
    let data = TestData::new();
    let company = data.v1_company("Old Timer");
    let app = data.app();
    let opts = MigrateOptions::with_backups(&app.data_dir);
    let report = migrate::migrate_company(&app.data_dir, &company, &opts);
    assert_eq!(report.status, Status::Migrated, "{report:?}");
    assert_eq!(
        (report.from_version, report.to_version),
        (Some(1), Some(latest()))
    );
    assert!(report.backup.as_ref().unwrap().is_file());

    let conn = Connection::open(data.db_path(&company)).unwrap();
    assert_eq!(fixture_counts(&conn), vec![1, 2, 1, 1, 1]);
    let (content, model): (String, Option<String>) = conn
        .query_row(
            "SELECT content, embedding_model FROM document_chunks WHERE uuid = 'chunk-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (content.as_str(), model),
        ("first chunk about solar panels", None)
    );
    conn.execute(
        "UPDATE document_chunks SET embedding_model = 'builtin-384' WHERE uuid = 'chunk-1'",
        [],
    )
    .unwrap();
    // A model name without a vector is refused by V2's CHECK.
    assert!(
        conn.execute(
            "UPDATE document_chunks SET embedding_model = 'x' WHERE uuid = 'chunk-2'",
            []
        )
        .is_err()
    );
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM document_chunks WHERE embedding IS NULL ORDER BY document_id, chunk_index",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(
        plan.contains("idx_document_chunks_embedding_pending"),
        "{plan}"
    );
    // FTS over the old rows still works.
    let hits: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM document_chunks_fts WHERE document_chunks_fts MATCH 'solar'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hits, 1);
    drop(conn);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(app.registry.get(company.id)).unwrap();
    assert_eq!(db.schema_version(), latest());
}

/// A registry that refuses behind companies answers "run migrate-all"; the live migration
/// then closes the company, migrates it and lets the registry open it. A company already
/// closed for maintenance is skipped, not migrated twice.
#[test]
fn the_live_migration_works_with_the_registry() {
    let data = TestData::new();
    let company = data.v1_company("Live One");
    let app = data.app();
    let registry = std::sync::Arc::new(TenantRegistry::new(
        app.data_dir.clone(),
        app.primary.clone(),
        silo::store::db::pool::maintenance_pool(),
        RegistryOptions {
            on_schema_behind: OnSchemaBehind::Refuse,
            ..RegistryOptions::default()
        },
    ));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let refused = registry.get(company.id).await.unwrap_err().to_string();
        assert!(refused.contains("migrate-all-companies"), "{refused}");

        let guard = registry
            .close(company.id, "restoring", Duration::from_secs(1))
            .await
            .unwrap();
        let opts = MigrateOptions::with_backups(&app.data_dir);
        let skipped =
            migrate::migrate_company_live(&registry, &app.data_dir, &company, opts.clone()).await;
        assert_eq!(skipped.status, Status::Skipped, "{skipped:?}");
        assert!(skipped.error.as_deref().unwrap().contains("restoring"));
        drop(guard);

        let done =
            migrate::migrate_company_live(&registry, &app.data_dir, &company, opts.clone()).await;
        assert_eq!(done.status, Status::Migrated, "{done:?}");
        let db = registry.get(company.id).await.unwrap();
        assert_eq!(db.schema_version(), latest());
        drop(db);

        let again = migrate::migrate_company_live(&registry, &app.data_dir, &company, opts).await;
        assert_eq!(again.status, Status::Current);
        assert!(
            registry.is_open(company.id),
            "a current company is not closed"
        );
    });
}

/// The registry's migrate-on-open path goes through the same transactional apply.
#[test]
fn the_registry_migrates_on_open() {
    let data = TestData::new();
    let company = data.v1_company("Opened Late");
    let app = data.app();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(app.registry.get(company.id)).unwrap();
    assert_eq!(db.schema_version(), latest());
    drop(db);
    let conn = Connection::open(data.db_path(&company)).unwrap();
    assert_eq!(fixture_counts(&conn), vec![1, 2, 1, 1, 1]);
}

/// While the live migration works (here: waiting for another connection's write lock), the
/// registry answers "being migrated" for the company — the 503 the server gives — and the
/// company opens again, migrated, once it is done.
#[test]
fn requests_get_unavailable_during_a_live_migration() {
    let data = TestData::new();
    let company = data.v1_company("Under Work");
    let app = data.app();
    // Refusing behind companies, so a request before the close does not itself try to
    // migrate on open (and wait on the same lock).
    let registry = std::sync::Arc::new(TenantRegistry::new(
        app.data_dir.clone(),
        app.primary.clone(),
        silo::store::db::pool::maintenance_pool(),
        RegistryOptions {
            on_schema_behind: OnSchemaBehind::Refuse,
            ..RegistryOptions::default()
        },
    ));
    let locker = Connection::open(data.db_path(&company)).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE;").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut opts = MigrateOptions::with_backups(&app.data_dir);
        opts.busy_timeout = Duration::from_secs(20);
        let task = {
            let (registry, dir, company) =
                (registry.clone(), app.data_dir.clone(), company.clone());
            tokio::spawn(async move {
                migrate::migrate_company_live(&registry, &dir, &company, opts).await
            })
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let message = loop {
            match registry.get(company.id).await {
                Err(silo::tenant::TenantError::Unavailable(m)) if m.contains("being migrated") => {
                    break m;
                }
                _ if std::time::Instant::now() > deadline => panic!("never saw the company closed"),
                Ok(db) => drop(db),
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        assert!(message.contains("retry"), "{message}");
        locker.execute_batch("ROLLBACK;").unwrap();
        let report = task.await.unwrap();
        assert_eq!(report.status, Status::Migrated, "{report:?}");
        let db = registry.get(company.id).await.unwrap();
        assert_eq!(db.schema_version(), latest());
    });
}
