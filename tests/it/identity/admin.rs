//! RBAC and the admin APIs: the permission table per role, role changes applied at once,
//! company admins confined to their company, the super-admin APIs and the migrate route.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp};

/// Status of one request per route group for each role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_is_allowed_or_forbidden_as_the_permission_table_says() {
    let test = TestApp::spawn().await;
    let cid = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tokens = vec![("super_admin", test.root_token.clone())];
    for role in ["admin", "analyst", "viewer"] {
        tokens.push((role, test.create_user(&cid, role).await.1));
    }
    // (route, [super_admin, admin, analyst, viewer])
    let table = [
        ("/api/me", [200, 200, 200, 200]),
        ("/api/admin/companies", [200, 403, 403, 403]),
        ("/api/admin/users", [200, 403, 403, 403]),
        ("/api/admin/roles", [200, 403, 403, 403]),
        ("/api/admin/migrations", [200, 403, 403, 403]),
        ("/api/company/users", [403, 200, 403, 403]),
        ("/api/company", [403, 200, 200, 200]),
    ];
    for (route, expected) in table {
        for ((role, token), want) in tokens.iter().zip(expected) {
            let reply = test.get(route, token).await;
            assert_eq!(
                reply.status.as_u16(),
                want,
                "{role} GET {route}: {}",
                reply.body
            );
            if want == 403 {
                assert_eq!(reply.code(), "forbidden");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_permission_change_applies_on_the_next_request() {
    let test = TestApp::spawn().await;
    let cid = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, admin) = test.create_user(&cid, "admin").await;
    assert_eq!(
        test.get("/api/company/users", &admin).await.status,
        StatusCode::OK
    );
    let roles = test.get("/api/admin/roles", &test.root_token).await;
    let admin_role = roles
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "admin")
        .unwrap()
        .clone();
    let without: Vec<Value> = admin_role["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| *p != "users:manage")
        .cloned()
        .collect();
    let put = test
        .put(
            "/api/admin/roles/admin/permissions",
            &test.root_token,
            json!({"permissions": without}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let audited = |test: &TestApp| -> i64 {
        test.app
            .primary
            .get()
            .unwrap()
            .query_row(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'role.permissions'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(audited(&test), 1);
    let reply = test.get("/api/company/users", &admin).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.message().contains("users:manage"));
    let unknown = test
        .put(
            "/api/admin/roles/admin/permissions",
            &test.root_token,
            json!({"permissions": ["x:y"]}),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("permissions"))
    );
    let reserved = test
        .put(
            "/api/admin/roles/viewer/permissions",
            &test.root_token,
            json!({"permissions": ["admin:full"]}),
        )
        .await;
    assert_eq!(reserved.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fixed = test
        .put(
            "/api/admin/roles/super_admin/permissions",
            &test.root_token,
            json!({"permissions": []}),
        )
        .await;
    assert_eq!(fixed.status, StatusCode::CONFLICT);
    let missing = test
        .put(
            "/api/admin/roles/ghost/permissions",
            &test.root_token,
            json!({"permissions": []}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // Refused changes leave no audit row.
    assert_eq!(audited(&test), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_admins_manage_their_own_company_only() {
    let test = TestApp::spawn().await;
    let a = test.create_company("Alpha").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = test.create_company("Beta").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, admin_a) = test.create_user(&a, "admin").await;
    let (user_b, _) = test.create_user(&b, "analyst").await;
    let created = test
        .post(
            "/api/company/users",
            &admin_a,
            json!({"email": "new@alpha.test", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["company_id"], a);
    let list = test.get("/api/company/users", &admin_a).await;
    assert_eq!(list.body["total"], 2);
    assert!(
        list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["company_id"] == a)
    );
    let b_id = user_b["id"].as_str().unwrap();
    for reply in [
        test.patch(
            &format!("/api/company/users/{b_id}"),
            &admin_a,
            json!({"full_name": "Hijacked"}),
        )
        .await,
        test.delete(&format!("/api/company/users/{b_id}"), &admin_a)
            .await,
    ] {
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{}",
            reply.body
        );
    }
    let check = test
        .get(&format!("/api/admin/users/{b_id}"), &test.root_token)
        .await;
    assert!(check.body["full_name"].is_null(), "B's user was changed");
    let su = test
        .post(
            "/api/company/users",
            &admin_a,
            json!({"email": "su@alpha.test", "password": PASSWORD, "role": "super_admin"}),
        )
        .await;
    assert_eq!(
        (su.status, su.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("role"))
    );
    let other = test.post("/api/company/users", &admin_a, json!({"email": "x@alpha.test", "password": PASSWORD, "role": "viewer", "company_id": b})).await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    let dup = test
        .post(
            "/api/company/users",
            &admin_a,
            json!({"email": "NEW@alpha.test", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let bad_email = test
        .post(
            "/api/company/users",
            &admin_a,
            json!({"email": "no-at-sign", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_eq!(bad_email.body["error"]["field"], "email");
    let new_id = created.body["id"].as_str().unwrap();
    let promote = test
        .patch(
            &format!("/api/company/users/{new_id}"),
            &admin_a,
            json!({"role": "super_admin"}),
        )
        .await;
    assert_eq!(promote.status, StatusCode::UNPROCESSABLE_ENTITY);
    let demote = test
        .patch(
            &format!("/api/company/users/{new_id}"),
            &admin_a,
            json!({"role": "analyst", "full_name": "New Person"}),
        )
        .await;
    assert_eq!(
        (demote.status, demote.body["role"].as_str()),
        (StatusCode::OK, Some("analyst"))
    );
    let gone = test
        .delete(&format!("/api/company/users/{new_id}"), &admin_a)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        test.get("/api/company/users", &admin_a).await.body["total"],
        1
    );
    let conn = test.app.primary.get().unwrap();
    let mut stmt = conn
        .prepare("SELECT action FROM audit_log ORDER BY id")
        .unwrap();
    let actions: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for expected in [
        "company.create",
        "user.create",
        "user.update",
        "user.delete",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} not audited: {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn super_admin_apis_validate_and_report() {
    let test = TestApp::spawn().await;
    let cid = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let stats = test
        .get(&format!("/api/admin/companies/{cid}"), &test.root_token)
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    let s = &stats.body["stats"];
    assert_eq!(
        (s["documents"].as_u64(), s["users"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(s["db_bytes"].as_u64().unwrap() > 0);
    assert_eq!(s["pending_migrations"], json!([]));
    assert_eq!(
        s["schema_version"],
        silo::store::db::migrations::MigrationSet::Company.latest()
    );
    let bad = [
        (
            json!({"email": "x@y.z", "password": PASSWORD, "role": "admin"}),
            "company_id",
        ),
        (
            json!({"email": "x@y.z", "password": PASSWORD, "role": "super_admin", "company_id": cid}),
            "role",
        ),
        (
            json!({"email": "x@y.z", "password": PASSWORD, "role": "wizard", "company_id": cid}),
            "role",
        ),
        (
            json!({"email": "x@y.z", "password": "short", "role": "viewer", "company_id": cid}),
            "password",
        ),
        (
            json!({"email": "x@y.z", "password": PASSWORD, "role": "viewer", "extra": 1}),
            "extra",
        ),
    ];
    for (body, field) in bad {
        let reply = test
            .post("/api/admin/users", &test.root_token, body.clone())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.body
        );
        assert_eq!(reply.body["error"]["field"], field, "{body}");
    }
    let unknown = test
        .post(
            "/api/admin/users",
            &test.root_token,
            json!({"email": "x@y.z", "password": PASSWORD, "role": "viewer", "company_id": "nope"}),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.message()),
        (StatusCode::NOT_FOUND, "company not found")
    );
    let filtered = test
        .get(
            &format!("/api/admin/users?company_id={cid}"),
            &test.root_token,
        )
        .await;
    assert_eq!(filtered.body["total"], 0);
    let all = test
        .get(
            "/api/admin/users?role=super_admin&limit=1",
            &test.root_token,
        )
        .await;
    assert_eq!(
        (all.body["total"].as_u64(), all.body["limit"].as_u64()),
        (Some(1), Some(1))
    );
    let too_many = test
        .get("/api/admin/users?limit=500", &test.root_token)
        .await;
    assert_eq!(
        (too_many.status, too_many.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("limit"))
    );
    let not_number = test
        .get("/api/admin/users?limit=abc", &test.root_token)
        .await;
    assert_eq!(not_number.status, StatusCode::UNPROCESSABLE_ENTITY);
    let me = test.get("/api/me", &test.root_token).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let last = test
        .patch(
            &format!("/api/admin/users/{me}"),
            &test.root_token,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(last.status, StatusCode::CONFLICT);
    let migrations = test.get("/api/admin/migrations", &test.root_token).await;
    assert_eq!(migrations.body["items"][0]["pending_migrations"], json!([]));
    let rename = test
        .patch(
            &format!("/api/admin/companies/{cid}"),
            &test.root_token,
            json!({"name": "a/b"}),
        )
        .await;
    assert_eq!(rename.status, StatusCode::UNPROCESSABLE_ENTITY);
    let long = test
        .patch(
            &format!("/api/admin/companies/{cid}"),
            &test.root_token,
            json!({"industry": "x".repeat(101)}),
        )
        .await;
    assert_eq!(
        (long.status, long.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("industry"))
    );
    let industry = test
        .patch(
            &format!("/api/admin/companies/{cid}"),
            &test.root_token,
            json!({"industry": "  Solar  "}),
        )
        .await;
    assert_eq!(industry.status, StatusCode::OK, "{}", industry.body);
    assert_eq!(industry.body["industry"], "Solar");
    // Only the accepted change was audited, with what it set.
    let audited: Vec<String> = test
        .app
        .primary
        .get()
        .unwrap()
        .prepare("SELECT detail FROM audit_log WHERE action = 'company.update'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert!(audited[0].contains("Solar"), "{audited:?}");
    let unknown = test
        .get(
            "/api/admin/companies/00000000-0000-0000-0000-000000000000",
            &test.root_token,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
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

/// A company admin cannot use the super-admin write routes to raise itself or touch its
/// company: each answers 403 and nothing changes. Unknown ids answer 404 to the super admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_admins_cannot_write_through_the_super_admin_api() {
    let test = TestApp::spawn().await;
    let cid = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (me, token) = test.create_user(&cid, "admin").await;
    let me = me["id"].as_str().unwrap().to_string();
    let email = format!("x-{}@silo.test", uuid::Uuid::new_v4().simple());
    let attempts = [
        (
            Method::POST,
            "/api/admin/users".to_string(),
            json!({"email": email, "password": PASSWORD, "role": "super_admin"}),
        ),
        (
            Method::PATCH,
            format!("/api/admin/users/{me}"),
            json!({"role": "super_admin"}),
        ),
        (
            Method::PATCH,
            format!("/api/admin/companies/{cid}"),
            json!({"is_active": false}),
        ),
        (
            Method::PUT,
            "/api/admin/roles/admin/permissions".to_string(),
            json!({"permissions": []}),
        ),
        (
            Method::POST,
            "/api/admin/companies".to_string(),
            json!({"name": "Mine"}),
        ),
    ];
    for (method, path, body) in attempts {
        let r = test
            .call(method.clone(), &path, Some(&token), Some(body))
            .await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            r.body
        );
        assert_eq!(r.code(), "forbidden", "{}", r.body);
    }
    let r = test
        .call(
            Method::DELETE,
            &format!("/api/admin/companies/{cid}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Nothing changed: still an admin of an active company, with its permissions.
    let who = test.get("/api/me", &token).await;
    assert_eq!(who.status, StatusCode::OK, "{}", who.body);
    assert_eq!(who.body["role"], "admin", "{}", who.body);
    assert_eq!(
        test.get("/api/company/users", &token).await.status,
        StatusCode::OK
    );
    let companies = test.get("/api/admin/companies", &test.root_token).await;
    assert_eq!(companies.body["total"], 1, "{}", companies.body);
    // Unknown ids are 404 for the super admin too.
    let missing = "00000000-0000-4000-8000-000000000000";
    for (method, path) in [
        (Method::PATCH, format!("/api/admin/users/{missing}")),
        (Method::DELETE, format!("/api/admin/users/{missing}")),
        (Method::PATCH, format!("/api/admin/companies/{missing}")),
        (Method::DELETE, format!("/api/admin/companies/{missing}")),
    ] {
        let body = (method == Method::PATCH).then(|| json!({"full_name": "x"}));
        let body = if path.contains("companies") {
            body.map(|_| json!({"industry": "x"}))
        } else {
            body
        };
        let r = test
            .call(method.clone(), &path, Some(&test.root_token), body)
            .await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.body
        );
        assert_eq!(r.code(), "not_found", "{}", r.body);
    }
}
