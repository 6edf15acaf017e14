//! Tenancy: each company's rows live in its own database, out of other companies' reach; the
//! registry (lazy, single-flight, capped); the task-local scope; schema version checks when a
//! company is opened.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use serde_json::json;
use silo::error::Error;
use silo::tenant::{self, OnSchemaBehind, TenantError};

use crate::helpers::{TestApp, assert_error, assert_names_nothing, company, in_company};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_written_in_one_company_is_invisible_from_another() {
    let test = TestApp::spawn().await;
    let a = test.company_key(test.create_company("Alpha").await["id"].as_str().unwrap());
    let b = test.company_key(test.create_company("Beta").await["id"].as_str().unwrap());
    in_company(&test, a, |conn| {
        conn.execute(
            "INSERT INTO saved_reports (uuid, title, report_type, report_data, created_by)
             VALUES ('r-1', 'Alpha only', 'summary', '{}', 'u')",
            [],
        )?;
        Ok(())
    })
    .await;
    let count = |id| {
        in_company(&test, id, |conn| {
            Ok(
                conn.query_row("SELECT COUNT(*) FROM saved_reports", [], |r| {
                    r.get::<_, i64>(0)
                })?,
            )
        })
    };
    assert_eq!(count(a).await, 1);
    assert_eq!(count(b).await, 0);
    // Different files on disk, each inside its own directory.
    let dir_a = test.app.registry.get(a).await.unwrap().dir().to_path_buf();
    let dir_b = test.app.registry.get(b).await.unwrap().dir().to_path_buf();
    assert_ne!(dir_a, dir_b);
    assert!(dir_a.starts_with(test.data_dir().join("companies")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_companys_conversation_and_usage_are_out_of_reach() {
    let test = TestApp::spawn().await;
    let a = company(&test, "Iso A").await;
    let b = company(&test, "Iso B").await;
    let conv = test
        .post("/api/conversations", &a.admin, json!({}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let used = test.post("/api/usage", &a.admin, json!({"provider": "custom", "model": "m", "operation_type": "chat", "prompt_tokens": 5, "completion_tokens": 5})).await;
    assert_eq!(used.status, StatusCode::CREATED, "{}", used.body);
    let logged = test
        .post(
            "/api/agent-logs",
            &a.admin,
            json!({"agent_name": "A", "agent_type": "grounding", "status": "success"}),
        )
        .await;
    assert_eq!(logged.status, StatusCode::CREATED, "{}", logged.body);
    // A sees its own rows, so B seeing none below means something.
    assert_eq!(
        test.get("/api/usage/summary", &a.admin).await.body["totals"]["requests"],
        1
    );
    assert_eq!(test.get("/api/agent-logs", &a.admin).await.body["total"], 1);
    assert_error(
        &test
            .get(&format!("/api/conversations/{conv}"), &b.admin)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test
            .get(&format!("/api/conversations/{conv}/messages"), &b.admin)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        test.get("/api/conversations", &b.admin).await.body["total"],
        0
    );
    assert_eq!(
        test.get("/api/usage/summary", &b.admin).await.body["totals"]["requests"],
        0
    );
    assert_eq!(test.get("/api/agent-logs", &b.admin).await.body["total"], 0);
    let mut usage = json!({"provider": "custom", "model": "m", "operation_type": "chat", "prompt_tokens": 1, "completion_tokens": 1});
    usage["conversation_id"] = json!(conv);
    assert_names_nothing(
        &test.post("/api/usage", &b.admin, usage).await,
        "conversation_id",
    );
}

#[tokio::test]
async fn company_data_outside_a_tenant_scope_fails_loudly() {
    let err = tenant::context::run(|_conn| Ok::<_, Error>(()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Internal(e) if e.to_string().contains("no tenant scope")),
        "{err:?}"
    );
    assert!(matches!(
        tenant::context::current(),
        Err(TenantError::NoScope)
    ));
    assert!(matches!(
        tenant::context::with_conn(|_c| Ok::<_, TenantError>(())),
        Err(TenantError::NoScope)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_open_the_company_once() {
    let test = TestApp::spawn().await;
    let id = test.company_key(test.create_company("Gamma").await["id"].as_str().unwrap());
    let registry = test.app.registry.clone();
    assert!(!registry.is_open(id));
    let handles: Vec<_> = (0..64)
        .map(|_| {
            let registry = registry.clone();
            tokio::spawn(async move { registry.get(id).await.unwrap() })
        })
        .collect();
    let mut dbs = Vec::new();
    for h in handles {
        dbs.push(h.await.unwrap());
    }
    assert_eq!(registry.stats.opens.load(Ordering::Relaxed), 1);
    assert!(dbs.iter().all(|db| Arc::ptr_eq(db, &dbs[0])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_holds_while_cycling_and_in_use_companies_are_never_evicted() {
    const CAP: usize = 4;
    let test = TestApp::spawn_with(|o| o.registry.max_open = CAP).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(
            test.company_key(
                test.create_company(&format!("Cycle {i}")).await["id"]
                    .as_str()
                    .unwrap(),
            ),
        );
    }
    let registry = &test.app.registry;
    let pinned = registry.get(ids[0]).await.unwrap(); // in use for the whole test
    for round in 0..3 {
        for &id in &ids[1..] {
            let db = registry.get(id).await.unwrap();
            assert!(
                registry.open_count() <= CAP,
                "round {round}: {} open",
                registry.open_count()
            );
            assert!(registry.is_open(ids[0]), "the in-use company was evicted");
            drop(db);
        }
    }
    assert!(registry.stats.evictions.load(Ordering::Relaxed) >= 20);
    // Holding more than the cap: none of them is evicted, the cap is exceeded instead.
    let held: Vec<_> = hold_each(registry, &ids[..CAP + 2]).await;
    assert_eq!(held.len(), CAP + 2);
    assert!(ids[..CAP + 2].iter().all(|&id| registry.is_open(id)));
    drop(pinned);
}

async fn hold_each(
    registry: &Arc<silo::tenant::TenantRegistry>,
    ids: &[i64],
) -> Vec<Arc<silo::tenant::TenantDb>> {
    let mut held = Vec::new();
    for &id in ids {
        held.push(registry.get(id).await.unwrap());
    }
    held
}

/// Rewrites company `id`'s recorded schema version (the registry has not opened it).
fn set_recorded_version(test: &TestApp, uuid: &str, version: i64) {
    let path = test.data_dir().join(format!(
        "companies/{}/company.db",
        silo::store::primary::companies::find(&test.app.primary.get().unwrap(), uuid)
            .unwrap()
            .unwrap()
            .slug
    ));
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(
        "INSERT INTO silo_company_migrations (version, name, applied_on, checksum) VALUES (?1, 'future', '', '0')",
        [version],
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_newer_than_the_binary_is_refused() {
    let test = TestApp::spawn().await;
    let company = test.create_company("Future").await;
    let uuid = company["id"].as_str().unwrap().to_string();
    let (_, token) = test.create_user(&uuid, "analyst").await;
    set_recorded_version(&test, &uuid, 999);
    let err = test
        .app
        .registry
        .get(test.company_key(&uuid))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TenantError::SchemaNewer { found: 999, .. }),
        "{err:?}"
    );
    let reply = test.get("/api/company", &token).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        reply.message().contains("newer than this binary"),
        "{}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_behind_the_binary_is_refused_or_migrated_as_configured() {
    for policy in [OnSchemaBehind::Refuse, OnSchemaBehind::Migrate] {
        let test = TestApp::spawn_with(|o| o.registry.on_schema_behind = policy).await;
        let uuid = test.create_company("Behind").await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (_, token) = test.create_user(&uuid, "viewer").await;
        // A database that was never migrated: version 0, no tables.
        let path = test.data_dir().join("companies/behind/company.db");
        std::fs::remove_file(&path).unwrap();
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 0;")
            .unwrap();
        let reply = test.get("/api/company", &token).await;
        match policy {
            OnSchemaBehind::Refuse => {
                assert_eq!(
                    reply.status,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{}",
                    reply.body
                );
                assert!(
                    reply.message().contains("migrate-all-companies"),
                    "{}",
                    reply.body
                );
            }
            OnSchemaBehind::Migrate => {
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                let latest = silo::store::db::migrations::MigrationSet::Company.latest();
                assert_eq!(reply.body["schema_version"], latest);
                let conn = rusqlite::Connection::open(&path).unwrap();
                let tables: i64 = conn
                    .query_row(
                        "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'documents'",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert_eq!(tables, 1);
            }
        }
    }
}
