//! /api/company/users: a company admin manages the users of its own company only, and a
//! taken email address tells it nothing more.

use axum::http::{StatusCode, header};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp};

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

/// A company admin creating a user with a taken email gets the same answer whether the
/// address is in its company or another; nothing is created; and such answers are bounded,
/// so the check cannot be used to list an installation's addresses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_email_tells_a_company_admin_nothing_more() {
    let test = TestApp::spawn().await;
    let acme = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let globex = test.create_company("Globex").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, admin) = test.create_user(&acme, "admin").await;
    let (own, _) = test.create_user(&acme, "viewer").await;
    let (foreign, _) = test.create_user(&globex, "viewer").await;
    let create = |email: String| {
        test.post(
            "/api/company/users",
            &admin,
            json!({"email": email, "password": PASSWORD, "role": "viewer"}),
        )
    };
    let a = create(own["email"].as_str().unwrap().to_string()).await;
    let b = create(foreign["email"].as_str().unwrap().to_string()).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert_eq!((a.status, &a.body), (b.status, &b.body));
    assert_eq!(
        b.message(),
        "this email address cannot be used for a new account"
    );
    let conn = test.app.primary.get().unwrap();
    let users: i64 = conn
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 4, "root, the admin and two viewers");
    for _ in 2..20 {
        let again = create(foreign["email"].as_str().unwrap().to_string()).await;
        assert_eq!(again.status, StatusCode::CONFLICT);
    }
    let limited = create(foreign["email"].as_str().unwrap().to_string()).await;
    assert_eq!(
        (limited.status, limited.code()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(limited.headers.get(header::RETRY_AFTER).is_some());
    // A fresh address is refused too while the bound lasts: the answer says nothing.
    let fresh = create("fresh@silo.test".into()).await;
    assert_eq!(fresh.status, StatusCode::TOO_MANY_REQUESTS);
    // The super admin is not bounded (it sees every account anyway).
    let root = test
        .post(
            "/api/admin/users",
            &test.root_token,
            json!({"email": foreign["email"], "password": PASSWORD, "role": "viewer",
                   "company_id": acme}),
        )
        .await;
    assert_eq!(root.status, StatusCode::CONFLICT);
}
