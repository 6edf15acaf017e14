//! /api/reports: saved reports' CRUD, permissions, validation and tenant isolation.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_reports_crud_permissions_and_isolation() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Reports").await;
    let other = company(&test, "Reports Other").await;
    let body = json!({"title": "Q3 energy mix", "report_type": "energy_mix",
                      "report_data": {"sections": [{"name": "solar", "share": 0.4}]},
                      "tags": ["q3"], "confidence": 0.82});
    let r = test.post("/api/reports", &c.analyst, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["report_data"], body["report_data"]);
    assert_eq!(r.body["created_by"], c.analyst_id.as_str());
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/api/reports/{id}");
    test.post(
        "/api/reports",
        &c.analyst2,
        json!({"title": "Prices", "report_type": "price", "report_data": []}),
    )
    .await;

    assert_eq!(test.get("/api/reports", &c.viewer).await.body["total"], 2);
    assert_eq!(
        test.get("/api/reports?report_type=price", &c.viewer)
            .await
            .body["total"],
        1
    );
    assert_eq!(
        test.get(&path, &c.viewer).await.body["title"],
        "Q3 energy mix"
    );

    let r = test
        .patch(
            &path,
            &c.analyst,
            json!({"title": "Q3 mix", "confidence": null}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["title"], "Q3 mix");
    assert!(r.body["confidence"].is_null());
    assert_eq!(r.body["tags"], json!(["q3"]));
    // Another analyst reads it but may not change it; the admin may.
    assert_error(
        &test.patch(&path, &c.analyst2, json!({"title": "x"})).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &test.delete(&path, &c.analyst2).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &test.post("/api/reports", &c.viewer, body.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        test.patch(&path, &c.admin, json!({"tags": ["reviewed"]}))
            .await
            .status,
        StatusCode::OK
    );

    let post = |b| test.post("/api/reports", &c.analyst, b);
    assert_invalid(
        &post(json!({"title": "", "report_type": "x", "report_data": {}})).await,
        "title",
    );
    assert_invalid(
        &post(json!({"title": "t", "report_type": "x", "report_data": 5})).await,
        "report_data",
    );
    assert_invalid(
        &post(json!({"title": "t", "report_type": "x"})).await,
        "report_data",
    );
    assert_invalid(
        &post(json!({"title": "t", "report_type": "x", "report_data": {}, "confidence": 2})).await,
        "confidence",
    );
    assert_invalid(
        &post(json!({"title": "t", "report_type": "x", "report_data": {}, "tags": [1]})).await,
        "tags[0]",
    );
    // JSON nested beyond the parser's limit is refused, not crashed on.
    let deep = format!(
        "{{\"title\": \"t\", \"report_type\": \"x\", \"report_data\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let r = test
        .send(
            axum::http::Request::builder()
                .method("POST")
                .uri("/api/reports")
                .header("authorization", format!("Bearer {}", c.analyst))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(deep))
                .unwrap(),
        )
        .await;
    assert!(
        r.status == StatusCode::BAD_REQUEST || r.status == StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        r.status
    );
    // Over the body limit.
    let huge =
        json!({"title": "t", "report_type": "x", "report_data": {"blob": "x".repeat(2 << 20)}});
    assert_error(
        &post(huge).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );

    // Another company: 404 for the id, empty list.
    assert_eq!(
        test.get("/api/reports", &other.admin).await.body["total"],
        0
    );
    assert_error(
        &test.get(&path, &other.admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test.patch(&path, &other.admin, json!({"title": "x"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test.delete(&path, &other.admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    assert_eq!(
        test.delete(&path, &c.analyst).await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &test.get(&path, &c.analyst).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test
            .get(&format!("/api/reports/{MISSING}"), &c.analyst)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}
