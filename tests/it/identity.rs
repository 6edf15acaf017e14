//! Identity and access: logins, tokens, refresh rotation, the request pipeline, RBAC, the
//! super-admin and company-admin APIs, rate limits and the signing secret.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use crate::common::{JWT_SECRET, PASSWORD, ROOT_EMAIL, ROOT_PASSWORD, TestApp};

fn token_of(v: &Value) -> String {
    v["access_token"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_returns_tokens_and_me_describes_the_caller() {
    let test = TestApp::spawn().await;
    let company = test.create_company("Acme").await;
    let cid = company["id"].as_str().unwrap();
    let (user, _) = test.create_user(cid, "analyst").await;
    let email = user["email"].as_str().unwrap();
    let login = test.login_ok(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 900);
    assert_eq!(login["refresh_token"].as_str().unwrap().len(), 64);
    assert_eq!(login["user"]["email"], email);
    assert!(login["user"].get("hashed_password").is_none());
    let me = test.get("/api/me", &token_of(&login)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["role"], "analyst");
    assert_eq!(me.body["company_id"], cid);
    assert_eq!(me.body["company_name"], "Acme");
    let perms: Vec<&str> = me.body["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        perms.contains(&"documents:create") && !perms.contains(&"users:manage"),
        "{perms:?}"
    );
    let after = test
        .get(
            &format!("/api/admin/users/{}", user["id"].as_str().unwrap()),
            &test.root_token,
        )
        .await;
    assert!(
        after.body["last_login"].is_string(),
        "last_login not recorded: {}",
        after.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_logins_are_refused_with_clear_errors() {
    let test = TestApp::spawn().await;
    let wrong = test.login(ROOT_EMAIL, "wrong-password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.message(), "wrong email or password");
    assert_eq!(wrong.headers[header::WWW_AUTHENTICATE], "Bearer");
    let unknown = test.login("nobody@silo.test", "wrong-password").await;
    assert_eq!(
        (unknown.status, unknown.message()),
        (StatusCode::UNAUTHORIZED, "wrong email or password")
    );
    let missing = test
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": ROOT_EMAIL})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.body["error"]["field"], "password");
    let typed = test
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": 5, "password": "x"})),
        )
        .await;
    assert_eq!(typed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(typed.body["error"]["field"], "email");
    let raw = |content_type: &str, body: String| {
        Request::post("/api/auth/login")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let malformed = test
        .send(raw("application/json", "{\"email\": ".into()))
        .await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    let form = test.send(raw("text/plain", "email=x".into())).await;
    assert_eq!(
        (form.status, form.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let huge = format!(
        "{{\"email\": \"a@b\", \"password\": \"{}\"}}",
        "x".repeat(2 << 20)
    );
    let big = test.send(raw("application/json", huge)).await;
    assert_eq!(
        (big.status, big.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

/// Signs arbitrary claims with the test secret (HS256) or another key and algorithm.
fn forge(claims: Value, secret: &str, alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_malformed_tokens_are_401_with_www_authenticate() {
    let test = TestApp::spawn().await;
    let me = test.get("/api/me", &test.root_token).await;
    let sub = me.body["id"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| json!({"sub": sub, "role": "super_admin", "sid": "s", "iat": now - 10, "exp": exp});
    // The same claims, correctly signed, are accepted: the rejections below are meaningful.
    let good = forge(claims(now + 60), JWT_SECRET, jsonwebtoken::Algorithm::HS256);
    assert_eq!(test.get("/api/me", &good).await.status, StatusCode::OK);
    let header_b64 = |alg: &str| B64.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
    let payload_b64 = B64.encode(claims(now + 60).to_string());
    let (head, _, sig) = {
        let mut parts = good.split('.');
        (
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
            parts.next().unwrap().to_string(),
        )
    };
    let mut tampered_claims = claims(now + 60);
    tampered_claims["role"] = json!("admin");
    let cases = [
        (
            "expired",
            forge(claims(now - 30), JWT_SECRET, jsonwebtoken::Algorithm::HS256),
        ),
        (
            "other secret",
            forge(
                claims(now + 60),
                "another-secret-0123456789abcdef01234567",
                jsonwebtoken::Algorithm::HS256,
            ),
        ),
        ("alg none", format!("{}.{payload_b64}.", header_b64("none"))),
        (
            "HS512",
            forge(claims(now + 60), JWT_SECRET, jsonwebtoken::Algorithm::HS512),
        ),
        (
            "RS256 header",
            format!("{}.{payload_b64}.{sig}", header_b64("RS256")),
        ),
        (
            "tampered payload",
            format!("{head}.{}.{sig}", B64.encode(tampered_claims.to_string())),
        ),
        (
            "missing exp",
            forge(
                json!({"sub": sub, "role": "super_admin", "iat": now}),
                JWT_SECRET,
                jsonwebtoken::Algorithm::HS256,
            ),
        ),
        (
            "unknown user",
            forge(
                json!({"sub": "nobody", "role": "super_admin", "iat": now, "exp": now + 60}),
                JWT_SECRET,
                jsonwebtoken::Algorithm::HS256,
            ),
        ),
        ("garbage", "not.a.token".to_string()),
    ];
    for (what, token) in cases {
        let reply = test.get("/api/me", &token).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {}",
            reply.body
        );
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer", "{what}");
        assert_eq!(reply.code(), "unauthorized", "{what}");
    }
    let none = test.call(Method::GET, "/api/me", None, None).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(none.message().contains("missing"));
    let basic = test
        .send(
            Request::get("/api/me")
                .header(header::AUTHORIZATION, "Basic abc")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_reusing_a_rotated_token_kills_the_family() {
    let test = TestApp::spawn().await;
    let login = test.login_ok(ROOT_EMAIL, ROOT_PASSWORD).await;
    let first = login["refresh_token"].as_str().unwrap();
    let refresh = |t: &str| {
        test.call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": t})),
        )
    };
    let second = refresh(first).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let second_token = second.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second_token, first);
    assert_eq!(
        test.get("/api/me", &token_of(&second.body)).await.status,
        StatusCode::OK
    );
    // Replaying the first token: refused, and the whole family dies with it.
    let replay = refresh(first).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert!(replay.message().contains("already used"), "{}", replay.body);
    let after = refresh(&second_token).await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "family survived the replay"
    );
    // Another login's family is untouched.
    let other = test.login_ok(ROOT_EMAIL, ROOT_PASSWORD).await;
    assert_eq!(
        refresh(other["refresh_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::OK
    );
    let bogus = refresh("deadbeef").await;
    assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
    let empty = refresh("").await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_and_password_change_revoke_sessions() {
    let test = TestApp::spawn().await;
    let cid = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (user, _) = test.create_user(&cid, "viewer").await;
    let email = user["email"].as_str().unwrap();
    let refresh = |t: String| {
        test.call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": t})),
        )
    };
    let session_a = test.login_ok(email, PASSWORD).await;
    let session_b = test.login_ok(email, PASSWORD).await;
    let logout = test
        .post(
            "/api/auth/logout",
            &token_of(&session_b),
            json!({"refresh_token": session_b["refresh_token"]}),
        )
        .await;
    assert_eq!(logout.status, StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(session_b["refresh_token"].as_str().unwrap().into())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let session_c = test.login_ok(email, PASSWORD).await;
    let token_a = token_of(&session_a);
    let wrong = test
        .post(
            "/api/me/password",
            &token_a,
            json!({"current_password": "nope-nope", "new_password": "brand-new-pass"}),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("current_password"))
    );
    let weak = test
        .post(
            "/api/me/password",
            &token_a,
            json!({"current_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(
        (weak.status, weak.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("new_password"))
    );
    let changed = test
        .post(
            "/api/me/password",
            &token_a,
            json!({"current_password": PASSWORD, "new_password": "brand-new-pass"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    // Other sessions are revoked; the one that changed the password keeps going.
    assert_eq!(
        refresh(session_c["refresh_token"].as_str().unwrap().into())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(session_a["refresh_token"].as_str().unwrap().into())
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        test.login(email, PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    test.login_ok(email, "brand-new-pass").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_takes_effect_on_the_very_next_request() {
    let test = TestApp::spawn().await;
    let cid = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (user, token) = test.create_user(&cid, "analyst").await;
    let (_, colleague) = test.create_user(&cid, "viewer").await;
    assert_eq!(
        test.get("/api/company", &token).await.status,
        StatusCode::OK
    );
    let uid = user["id"].as_str().unwrap();
    let off = test
        .patch(
            &format!("/api/admin/users/{uid}"),
            &test.root_token,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(
        (off.status, &off.body["is_active"]),
        (StatusCode::OK, &json!(false))
    );
    let reply = test.get("/api/company", &token).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.message().contains("deactivated"));
    assert_eq!(
        test.login(user["email"].as_str().unwrap(), PASSWORD)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // The company: every user of it is refused on the next request, and at login.
    assert_eq!(
        test.get("/api/company", &colleague).await.status,
        StatusCode::OK
    );
    let company_off = test
        .patch(
            &format!("/api/admin/companies/{cid}"),
            &test.root_token,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(company_off.status, StatusCode::OK, "{}", company_off.body);
    let reply = test.get("/api/company", &colleague).await;
    // API.md: 503 for a deactivated store.
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.message(), "the company is deactivated");
    assert_eq!(
        test.get("/api/me", &colleague).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

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
        silo::db::migrations::MigrationSet::Company.latest()
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
            json!({"email": "x@y.z", "password": PASSWORD, "role": "viewer", "company_id": "nope"}),
            "company_id",
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
    let unknown = test
        .get(
            "/api/admin/companies/00000000-0000-0000-0000-000000000000",
            &test.root_token,
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_rate_limited_with_retry_after() {
    let test = TestApp::spawn_with(|o| {
        o.rate_limit.per_account = 3;
        o.rate_limit.window = Duration::from_secs(120);
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            test.login(ROOT_EMAIL, "wrong-password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = test.login(ROOT_EMAIL, ROOT_PASSWORD).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.code(), "rate_limited");
    let retry: u64 = limited.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&retry), "{retry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_secret_file_is_private_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let secret = silo::auth::secret::load_or_create(&path, None).unwrap();
    assert_eq!(secret.len(), 32);
    let mode = std::fs::metadata(path.join("jwt_secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        silo::auth::secret::load_or_create(&path, None).unwrap(),
        secret
    );
    assert!(silo::auth::secret::load_or_create(&path, Some("short")).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_migrate_route_upgrades_a_company_behind_and_reports_it() {
    use silo::db::migrations::MigrationSet;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_concurrent_guesses_cannot_pass_the_limit() {
    let test = TestApp::spawn_with(|o| {
        o.rate_limit.per_account = 3;
        o.rate_limit.per_address = 1000;
    })
    .await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..30 {
        let router = test.router.clone();
        set.spawn(async move {
            let body = json!({"email": ROOT_EMAIL, "password": format!("guess-{i}")}).to_string();
            let req = Request::post("/api/auth/login")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap();
            tower::ServiceExt::oneshot(router, req)
                .await
                .unwrap()
                .status()
        });
    }
    let (mut checked, mut limited) = (0, 0);
    while let Some(status) = set.join_next().await {
        match status.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => limited += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        (checked, limited),
        (3, 27),
        "guesses verified past the limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_with_someone_elses_refresh_token_changes_nothing() {
    let test = TestApp::spawn().await;
    let cid = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (victim, _) = test.create_user(&cid, "viewer").await;
    let (_, attacker) = test.create_user(&cid, "viewer").await;
    let session = test
        .login_ok(victim["email"].as_str().unwrap(), PASSWORD)
        .await;
    let stolen = session["refresh_token"].clone();
    let reply = test
        .post(
            "/api/auth/logout",
            &attacker,
            json!({"refresh_token": stolen}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let refresh = test
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": stolen})),
        )
        .await;
    assert_eq!(
        refresh.status,
        StatusCode::OK,
        "another user's logout revoked the session: {}",
        refresh.body
    );
    let missing = test.post("/api/auth/logout", &attacker, json!({})).await;
    assert_eq!(
        (missing.status, missing.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("refresh_token"))
    );
}
