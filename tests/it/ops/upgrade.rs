//! Upgrading a V1 company to V2 through the library entry points the server uses: rows
//! survive, the registry opens the result, the live path closes the company meanwhile.

use std::time::Duration;

use rusqlite::Connection;
use silo::ops::migrate::{self, MigrateOptions, Status};
use silo::tenant::{OnSchemaBehind, RegistryOptions, TenantRegistry};

use super::support::*;

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
