//! /api/admin/users, /api/admin/roles and /api/admin/migrations (super admin only):
//! validation and filters, role permission changes applied on the next request, and company
//! admins refused on every super-admin write.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};

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
