//! The Silo core: tenant isolation, the registry (lazy, single-flight, capped), the
//! task-local scope, atomic provisioning and deletion, schema version checks, the CLI.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use clap::CommandFactory;
use serde_json::json;
use silo::error::Error;
use silo::tenant::provision::{self, NewCompany, ProvisionError};
use silo::tenant::{self, OnSchemaBehind, TenantCtx, TenantError};

use crate::common::TestApp;

/// Runs `f` with a connection to company `id`, inside its tenant scope.
async fn in_company<T: Send + 'static>(
    test: &TestApp,
    id: i64,
    f: impl FnOnce(&mut silo::store::db::Conn) -> Result<T, Error> + Send + 'static,
) -> T {
    let db = test.app.registry.get(id).await.unwrap();
    tenant::context::scope(TenantCtx::new(db, None), tenant::context::run(f))
        .await
        .unwrap()
}

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
async fn hostile_company_names_answer_422_and_leave_nothing() {
    let test = TestApp::spawn().await;
    let names = [
        "..",
        ".x",
        "a/b",
        "%2e%2e",
        "what?",
        "a#b",
        "",
        "   ",
        &"n".repeat(101),
    ];
    for name in names {
        let reply = test
            .post(
                "/api/admin/companies",
                &test.root_token,
                json!({"name": name}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name:?}: {}",
            reply.body
        );
        assert_eq!(reply.code(), "invalid_field");
        assert_eq!(reply.body["error"]["field"], "name", "{name:?}");
    }
    for slug in ["..", ".x", "a/b", "%2e%2e", "A", "-x", &"s".repeat(64)] {
        let reply = test
            .post(
                "/api/admin/companies",
                &test.root_token,
                json!({"name": "Fine", "slug": slug}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{slug:?}");
        assert_eq!(reply.body["error"]["field"], "slug");
    }
    let entries: Vec<_> = std::fs::read_dir(test.data_dir().join("companies"))
        .unwrap()
        .collect();
    assert!(entries.is_empty(), "something was left on disk");
    let list = test.get("/api/admin/companies", &test.root_token).await;
    assert_eq!(list.body["total"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_names_and_stray_directories_conflict_and_leave_nothing() {
    let test = TestApp::spawn().await;
    test.create_company("Acme").await;
    let again = test
        .post(
            "/api/admin/companies",
            &test.root_token,
            json!({"name": "ACME"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    let stray = test.data_dir().join("companies/stray");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("keep.txt"), "operator file").unwrap();
    let reply = test
        .post(
            "/api/admin/companies",
            &test.root_token,
            json!({"name": "Stray"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.body);
    assert!(reply.message().contains("companies/stray"));
    assert_eq!(
        std::fs::read_to_string(stray.join("keep.txt")).unwrap(),
        "operator file"
    );
    assert_eq!(
        test.get("/api/admin/companies", &test.root_token)
            .await
            .body["total"],
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provisioning_failure_removes_everything_it_made() {
    let test = TestApp::spawn().await;
    let companies_dir = test.data_dir().join("companies");
    // Make the directory unusable: creating anything inside it fails.
    std::fs::remove_dir(&companies_dir).unwrap();
    std::fs::write(&companies_dir, "not a directory").unwrap();
    let app = test.app.clone();
    let result = tokio::task::spawn_blocking(move || {
        provision::create_company(
            &app.primary,
            &app.data_dir,
            &NewCompany {
                name: "Doomed".into(),
                ..Default::default()
            },
        )
    })
    .await
    .unwrap();
    assert!(
        matches!(result, Err(ProvisionError::Failed(_))),
        "{result:?}"
    );
    let conn = test.app.primary.get().unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM companies", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 0, "the reservation row was left behind");
    assert_eq!(
        std::fs::read_to_string(&companies_dir).unwrap(),
        "not a directory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_company_closes_it_and_removes_its_files() {
    let test = TestApp::spawn().await;
    let company = test.create_company("Doomed Inc").await;
    let uuid = company["id"].as_str().unwrap();
    let id = test.company_key(uuid);
    let dir = test.app.registry.get(id).await.unwrap().dir().to_path_buf();
    assert!(dir.join("company.db").is_file() && dir.join("vectors").is_dir());
    let reply = test
        .delete(&format!("/api/admin/companies/{uuid}"), &test.root_token)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert!(!dir.exists(), "company directory still there");
    assert!(!test.app.registry.is_open(id));
    assert!(matches!(
        test.app.registry.get(id).await,
        Err(TenantError::NotFound)
    ));
    let gone = test
        .get(&format!("/api/admin/companies/{uuid}"), &test.root_token)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.code(), "not_found");
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

#[test]
fn the_cli_definition_is_consistent() {
    silo::cli::Cli::command().debug_assert();
}

#[test]
fn the_cli_refuses_traversal_names_and_creates_lists_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let silo = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_silo"))
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    for name in ["..", "a/b", "%2e%2e", ".hidden"] {
        let out = silo(&["company", "create", "--name", name]);
        assert!(!out.status.success(), "{name:?} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("invalid name"), "{name:?}: {stderr}");
    }
    let out = silo(&["company", "create", "--name", "Acme, Inc.", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["slug"], "acme-inc");
    assert!(dir.path().join("companies/acme-inc/company.db").is_file());
    let user = [
        "user",
        "create",
        "--email",
        "Boss@Acme.test",
        "--password",
        "long-enough-1",
    ];
    let out = silo(&[&user[..], &["--role", "admin", "--company", "acme-inc"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin boss@acme.test"));
    let again = silo(&[&user[..], &["--role", "admin", "--company", "acme-inc"]].concat());
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    let orphan = silo(&[&user[..], &["--role", "viewer"]].concat());
    assert!(!orphan.status.success());
    assert!(String::from_utf8_lossy(&orphan.stderr).contains("company_id"));
    let su = silo(
        &[
            &user[..],
            &["--role", "super_admin", "--company", "acme-inc"],
        ]
        .concat(),
    );
    assert!(!su.status.success());
    let out = silo(&["company", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let out = silo(&["company", "delete", "acme-inc"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("companies/acme-inc").exists());
    let out = silo(&["company", "delete", "acme-inc"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no company"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_and_unknown_routes_are_json_404() {
    let test = TestApp::spawn().await;
    let health = test
        .call(axum::http::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let ready = test
        .call(axum::http::Method::GET, "/readyz", None, None)
        .await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["status"], "ready");
    let req = axum::http::Request::get("/metrics")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(test.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let text = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains("silo_open_companies 0\n"), "{text}");
    let missing = test
        .call(axum::http::Method::GET, "/nope", None, None)
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "not_found");
    let wrong = test
        .call(axum::http::Method::DELETE, "/healthz", None, None)
        .await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.code(), "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_with_its_reason_when_free_disk_space_runs_low() {
    let test = TestApp::spawn_with(|o| o.min_free_bytes = u64::MAX).await;
    let ready = test
        .call(axum::http::Method::GET, "/readyz", None, None)
        .await;
    assert_eq!(
        (ready.status, ready.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert!(
        ready
            .message()
            .starts_with("not ready: free disk space is ")
            && ready.message().ends_with("MiB threshold"),
        "{}",
        ready.message()
    );
    // Liveness is not readiness: the process still answers.
    let health = test
        .call(axum::http::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(health.status, StatusCode::OK);
}

/// Texts shown beside other tenants' and users' texts refuse invisible formatting
/// characters (bidi overrides, zero-width characters) and are stored in NFC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_titles_refuse_invisible_characters_and_are_stored_in_nfc() {
    let test = TestApp::spawn().await;
    for spoof in [
        "Acme\u{202E}gnp.exe",
        "Ac\u{200B}me",
        "\u{FEFF}Acme",
        "Ac\u{2066}me",
    ] {
        let reply = test
            .post(
                "/api/admin/companies",
                &test.root_token,
                json!({"name": spoof}),
            )
            .await;
        assert_eq!(
            (reply.status, reply.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("name")),
            "{spoof:?}: {}",
            reply.body
        );
        assert!(reply.message().contains("invisible formatting characters"));
    }
    let listed = test.get("/api/admin/companies", &test.root_token).await;
    assert_eq!(listed.body["total"], 0, "{}", listed.body);
    // "Café" typed with a combining accent is stored precomposed.
    let cafe = test.create_company("Cafe\u{301} Müller").await;
    assert_eq!(cafe["name"], "Café Müller");
    let cid = cafe["id"].as_str().unwrap();
    let (_, token) = test.create_user(cid, "analyst").await;
    let report = |title: &str, tags: serde_json::Value| {
        test.post(
            "/api/reports",
            &token,
            json!({"title": title, "report_type": "summary", "report_data": {}, "tags": tags}),
        )
    };
    let bad = report("Q3\u{200D}", json!([])).await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("title"))
    );
    let bad_tag = report("Q3", json!(["ok", "t\u{202D}ag"])).await;
    assert_eq!(
        (bad_tag.status, bad_tag.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("tags[1]"))
    );
    let user = test
        .post(
            "/api/admin/users",
            &test.root_token,
            json!({"email": "x@silo.test", "password": "long-enough-pw", "role": "viewer",
                   "company_id": cid, "full_name": "Eve\u{202E}"}),
        )
        .await;
    assert_eq!(
        (user.status, user.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("full_name"))
    );
    let good = report("Re\u{301}sume\u{301}", json!([])).await;
    assert_eq!(good.status, StatusCode::CREATED, "{}", good.body);
    assert_eq!(good.body["title"], "Résumé");
}
