//! /api/admin/companies: names and slugs are validated, duplicates and stray directories
//! conflict, a failed provisioning leaves nothing, deleting a company closes it and removes
//! its files, and the migrate route upgrades a company that is behind.

use axum::http::{Method, StatusCode};
use serde_json::json;
use silo::tenant::TenantError;
use silo::tenant::provision::{self, NewCompany, ProvisionError};

use crate::helpers::TestApp;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_migrate_route_upgrades_a_company_behind_and_reports_it() {
    use silo::store::db::migrations::MigrationSet;
    // Refuse, so that nothing but the route migrates it (reading stats opens the company).
    let test =
        TestApp::spawn_with(|o| o.registry.on_schema_behind = silo::tenant::OnSchemaBehind::Refuse)
            .await;
    let cid = test.create_company("Old Timer").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, analyst) = test.create_user(&cid, "analyst").await;
    // Replace its database with one at schema version 1.
    let path = test.data_dir().join("companies/old-timer/company.db");
    std::fs::remove_file(&path).unwrap();
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    MigrationSet::Company
        .runner()
        .set_target(refinery::Target::Version(1))
        .run(&mut conn)
        .unwrap();
    drop(conn);
    let latest = MigrationSet::Company.latest();
    let before = test
        .get(&format!("/api/admin/companies/{cid}"), &test.root_token)
        .await;
    assert_eq!(
        before.body["stats"]["pending_migrations"]
            .as_array()
            .unwrap()
            .len() as i64,
        latest - 1
    );
    assert!(
        before.body["stats"]["unavailable"]
            .as_str()
            .unwrap()
            .contains("migrate-all-companies")
    );
    assert_eq!(
        test.get("/api/company", &analyst).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let forbidden = test
        .post(
            &format!("/api/admin/companies/{cid}/migrate"),
            &analyst,
            json!({}),
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let url = format!("/api/admin/companies/{cid}/migrate");
    let reply = test
        .call(Method::POST, &url, Some(&test.root_token), None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "migrated");
    assert_eq!(
        (
            reply.body["from_version"].as_i64(),
            reply.body["to_version"].as_i64()
        ),
        (Some(1), Some(latest))
    );
    assert!(
        reply.body["backup"].is_string(),
        "no backup path: {}",
        reply.body
    );
    let again = test
        .call(Method::POST, &url, Some(&test.root_token), None)
        .await;
    assert_eq!(
        (again.status, again.body["status"].as_str()),
        (StatusCode::OK, Some("current"))
    );
    assert_eq!(
        test.get("/api/company", &analyst).await.body["schema_version"],
        latest
    );
    let unknown = test
        .call(
            Method::POST,
            "/api/admin/companies/nope/migrate",
            Some(&test.root_token),
            None,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}
