//! GET /healthz, /readyz and /metrics, and the JSON answers to unknown routes and methods.

use axum::http::StatusCode;

use crate::helpers::TestApp;

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
