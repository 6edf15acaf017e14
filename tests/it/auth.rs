//! Sessions: POST /api/auth/login, /refresh and /logout, GET /api/me and POST
//! /api/me/password. Tokens (forged, expired, malformed), refresh rotation, sessions ended at
//! once, deactivation. Rate limits and the signing secret are in `auth_limits`.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, PASSWORD, ROOT_EMAIL, ROOT_PASSWORD, TestApp};

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
    // The root's live session: forged tokens below fail for their forgery, not their session.
    let root_claims: Value = serde_json::from_slice(
        &B64.decode(test.root_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let sid = root_claims["sid"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64| json!({"sub": sub, "role": "super_admin", "sid": sid, "iat": now - 10, "exp": exp});
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
        (wrong.status, wrong.message()),
        (StatusCode::FORBIDDEN, "current_password is wrong")
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

/// Logout, a password change and the admin's "end all sessions" refuse the ended sessions'
/// access tokens on the very next request, not when they expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_sessions_refuse_their_access_tokens_at_once() {
    let test = TestApp::spawn().await;
    let cid = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (user, _) = test.create_user(&cid, "viewer").await;
    let email = user["email"].as_str().unwrap();
    let ended = |reply: crate::helpers::Reply| {
        assert_eq!(
            (reply.status, reply.message()),
            (
                StatusCode::UNAUTHORIZED,
                "this session has ended; log in again"
            ),
            "{}",
            reply.body
        );
    };
    // Logout: this session's access token stops, another session's keeps working.
    let (a, b) = (
        test.login_ok(email, PASSWORD).await,
        test.login_ok(email, PASSWORD).await,
    );
    assert_eq!(
        test.get("/api/me", &token_of(&a)).await.status,
        StatusCode::OK
    );
    let out = test
        .post(
            "/api/auth/logout",
            &token_of(&a),
            json!({"refresh_token": a["refresh_token"]}),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    ended(test.get("/api/me", &token_of(&a)).await);
    ended(test.get("/api/documents", &token_of(&a)).await);
    assert_eq!(
        test.get("/api/me", &token_of(&b)).await.status,
        StatusCode::OK
    );
    // Password change: every other session stops, the changing one goes on.
    let c = test.login_ok(email, PASSWORD).await;
    let changed = test
        .post(
            "/api/me/password",
            &token_of(&c),
            json!({"current_password": PASSWORD, "new_password": "brand-new-pass"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.body);
    ended(test.get("/api/me", &token_of(&b)).await);
    assert_eq!(
        test.get("/api/me", &token_of(&c)).await.status,
        StatusCode::OK
    );
    // The super admin ends all sessions: access and refresh tokens stop; the account
    // stays active and can log in again. The action is audited.
    let d = test.login_ok(email, "brand-new-pass").await;
    let uid = user["id"].as_str().unwrap();
    let path = format!("/api/admin/users/{uid}/sessions");
    let (_, company_admin) = test.create_user(&cid, "admin").await;
    let refused = test.delete(&path, &company_admin).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(
        test.get("/api/me", &token_of(&d)).await.status,
        StatusCode::OK,
        "a refused request ended the session"
    );
    let end = test.delete(&path, &test.root_token).await;
    assert_eq!(end.status, StatusCode::NO_CONTENT, "{}", end.body);
    ended(test.get("/api/me", &token_of(&c)).await);
    ended(test.get("/api/me", &token_of(&d)).await);
    let refreshed = test
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": d["refresh_token"]})),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED);
    let again = test.login_ok(email, "brand-new-pass").await;
    assert_eq!(
        test.get("/api/me", &token_of(&again)).await.status,
        StatusCode::OK
    );
    let unknown = test
        .delete(
            &format!("/api/admin/users/{}/sessions", uuid::Uuid::new_v4()),
            &test.root_token,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let conn = test.app.primary.get().unwrap();
    let audited: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'user.sessions_end' AND target = ?1",
            [uid],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 1);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivation_takes_effect_on_the_very_next_request() {
    let test = TestApp::spawn().await;
    let cid = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (user, token) = test.create_user(&cid, "analyst").await;
    let (colleague_user, colleague) = test.create_user(&cid, "viewer").await;
    let colleague_email = colleague_user["email"].as_str().unwrap();
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
    // API.md: 403 `company_inactive`, permanent until an admin acts: no Retry-After.
    assert_eq!(
        (reply.status, reply.code(), reply.message()),
        (
            StatusCode::FORBIDDEN,
            "company_inactive",
            "the company is deactivated"
        )
    );
    assert!(reply.headers.get("retry-after").is_none());
    let me = test.get("/api/me", &colleague).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::FORBIDDEN, "company_inactive")
    );
    let login = test.login(colleague_email, PASSWORD).await;
    assert_eq!(
        (login.status, login.code()),
        (StatusCode::FORBIDDEN, "company_inactive")
    );
}
