//! Login rate limits (per account and address, per account, under a concurrent burst) and
//! the generated token signing secret.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::helpers::{ROOT_EMAIL, ROOT_PASSWORD, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_logins_are_rate_limited_with_retry_after() {
    let test = TestApp::spawn_with(|o| {
        o.rate_limit.per_account_address = 3;
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

/// A login from a given client address (as the server sees it from the connection).
async fn login_from(test: &TestApp, address: &str, email: &str, password: &str) -> StatusCode {
    let body = json!({"email": email, "password": password}).to_string();
    let mut req = Request::post("/api/auth/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let addr: std::net::SocketAddr = format!("{address}:40000").parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(addr));
    test.send(req).await.status
}

/// Ten wrong passwords from an attacker's address throttle that address for the account,
/// not the owner logging in from elsewhere; guesses spread over many addresses meet the
/// slower per-account limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_does_not_lock_the_owner_out() {
    let test = TestApp::spawn_with(|o| {
        o.rate_limit.per_account = 15;
    })
    .await;
    let attacker = "203.0.113.9";
    for i in 0..10 {
        assert_eq!(
            login_from(&test, attacker, ROOT_EMAIL, &format!("guess-{i}")).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&test, attacker, ROOT_EMAIL, ROOT_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing address is throttled even with the right password"
    );
    assert_eq!(
        login_from(&test, "198.51.100.7", ROOT_EMAIL, ROOT_PASSWORD).await,
        StatusCode::OK,
        "the owner was locked out by someone else's guesses"
    );
    // Another account from the attacker's address is still checked (the address limit is
    // higher), and guesses from five more addresses reach the account's own limit.
    assert_eq!(
        login_from(&test, attacker, "nobody@silo.test", "x-guess").await,
        StatusCode::UNAUTHORIZED
    );
    for i in 0..5 {
        let address = format!("192.0.2.{i}");
        assert_eq!(
            login_from(&test, &address, ROOT_EMAIL, "wrong").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&test, "198.51.100.7", ROOT_EMAIL, ROOT_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "fifteen failures over all addresses hit the per-account limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_concurrent_guesses_cannot_pass_the_limit() {
    let test = TestApp::spawn_with(|o| {
        o.rate_limit.per_account_address = 3;
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
async fn the_generated_secret_file_is_private_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let secret = silo::identity::secret::load_or_create(&path, None).unwrap();
    assert_eq!(secret.len(), 32);
    let mode = std::fs::metadata(path.join("jwt_secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        silo::identity::secret::load_or_create(&path, None).unwrap(),
        secret
    );
    assert!(silo::identity::secret::load_or_create(&path, Some("short")).is_err());
}
