//! Role-based access across the route groups: each role is allowed or forbidden as the
//! permission table says, and a role stripped of every permission is forbidden everywhere,
//! before any lookup.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, company};

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

/// A role stripped of every permission gets 403 naming the missing permission on each
/// company-data route, before any lookup (so not 404 for an unknown id either).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_without_permissions_is_forbidden_everywhere() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Stripped").await;
    let put = test
        .put(
            "/api/admin/roles/viewer/permissions",
            &test.root_token,
            json!({"permissions": []}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let m = crate::helpers::MISSING;
    let gets = [
        ("/api/documents".to_string(), "documents:read"),
        (format!("/api/documents/{m}"), "documents:read"),
        (format!("/api/documents/{m}/chunks"), "documents:read"),
        ("/api/jobs".to_string(), "documents:read"),
        (format!("/api/jobs/{m}"), "documents:read"),
        ("/api/reports".to_string(), "reports:read"),
        (format!("/api/reports/{m}"), "reports:read"),
        ("/api/profile".to_string(), "profile:read"),
        ("/api/agent-logs".to_string(), "agents:read"),
        ("/api/conversations".to_string(), "chat:use"),
        (format!("/api/conversations/{m}/messages"), "chat:use"),
    ];
    for (path, permission) in gets {
        let r = test.get(&path, &c.viewer).await;
        crate::helpers::assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
        assert!(r.message().contains(permission), "{path}: {}", r.body);
    }
    let r = test
        .post("/api/search", &c.viewer, json!({"query": "x"}))
        .await;
    crate::helpers::assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    assert!(r.message().contains("documents:read"), "{}", r.body);
    // Other roles keep theirs.
    assert_eq!(
        test.get("/api/documents", &c.analyst).await.status,
        StatusCode::OK
    );
}
