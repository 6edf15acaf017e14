//! The company profile (one per company, merged on PUT) and saved reports.

use axum::http::StatusCode;
use serde_json::json;

use super::helpers::*;
use crate::common::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_starts_at_defaults_and_merges_updates() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Profile").await;
    let other = company(&test, "Profile Other").await;
    let p = test.get("/api/profile", &c.viewer).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.body["energy_mix_weight"], 0.4);
    assert_eq!(p.body["onboarding_completed"], false);
    assert!(p.body["industry"].is_null() && p.body["created_at"].is_null());

    let r = test
        .put(
            "/api/profile",
            &c.admin,
            json!({"industry": "Manufacturing", "location": "Pune", "target_year": 2030,
        "budget": 150000.0, "current_renewable_percentage": 35.5, "extra": {"sites": 3}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["industry"], "Manufacturing");
    assert_eq!(r.body["extra"], json!({"sites": 3}));
    assert!(r.body["created_at"].is_string());
    // One field at a time; the rest is kept; null clears.
    let r = test
        .put(
            "/api/profile",
            &c.admin,
            json!({"energy_mix_weight": 0.5, "location": null, "onboarding_completed": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["industry"].as_str(), r.body["target_year"].as_i64()),
        (Some("Manufacturing"), Some(2030))
    );
    assert!(r.body["location"].is_null());
    assert_eq!(
        (
            r.body["energy_mix_weight"].as_f64(),
            r.body["onboarding_completed"].as_bool()
        ),
        (Some(0.5), Some(true))
    );
    assert_eq!(test.get("/api/profile", &c.analyst).await.body, r.body);
    let rows = in_company(&test, c.key, |conn| {
        Ok(conn.query_row("SELECT COUNT(*) FROM profiles", [], |r| r.get::<_, i64>(0))?)
    })
    .await;
    assert_eq!(rows, 1);
    // Per company: the other company still has the default profile.
    let theirs = test.get("/api/profile", &other.admin).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    assert!(theirs.body["industry"].is_null(), "{}", theirs.body);
    assert_ne!(theirs.body, r.body);

    let put = |body| test.put("/api/profile", &c.admin, body);
    assert_invalid(&put(json!({"target_year": 1800})).await, "target_year");
    assert_invalid(
        &put(json!({"current_renewable_percentage": 101})).await,
        "current_renewable_percentage",
    );
    assert_invalid(
        &put(json!({"energy_mix_weight": 1.5})).await,
        "energy_mix_weight",
    );
    assert_invalid(&put(json!({"budget": -1})).await, "budget");
    assert_invalid(&put(json!({"target_year": "soon"})).await, "target_year");
    assert_invalid(&put(json!({"extra": [1]})).await, "extra");
    assert_invalid(&put(json!({"company_id": 7})).await, "company_id");
    // Analysts read the profile but do not change it.
    assert_error(
        &test
            .put("/api/profile", &c.analyst, json!({"budget": 1}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_companys_conversation_and_usage_are_out_of_reach() {
    let test = TestApp::spawn().await;
    let a = company(&test, "Iso A").await;
    let b = company(&test, "Iso B").await;
    let conv = test
        .post("/api/conversations", &a.admin, json!({}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let used = test.post("/api/usage", &a.admin, json!({"provider": "custom", "model": "m", "operation_type": "chat", "prompt_tokens": 5, "completion_tokens": 5})).await;
    assert_eq!(used.status, StatusCode::CREATED, "{}", used.body);
    let logged = test
        .post(
            "/api/agent-logs",
            &a.admin,
            json!({"agent_name": "A", "agent_type": "grounding", "status": "success"}),
        )
        .await;
    assert_eq!(logged.status, StatusCode::CREATED, "{}", logged.body);
    // A sees its own rows, so B seeing none below means something.
    assert_eq!(
        test.get("/api/usage/summary", &a.admin).await.body["totals"]["requests"],
        1
    );
    assert_eq!(test.get("/api/agent-logs", &a.admin).await.body["total"], 1);
    assert_error(
        &test
            .get(&format!("/api/conversations/{conv}"), &b.admin)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test
            .get(&format!("/api/conversations/{conv}/messages"), &b.admin)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        test.get("/api/conversations", &b.admin).await.body["total"],
        0
    );
    assert_eq!(
        test.get("/api/usage/summary", &b.admin).await.body["totals"]["requests"],
        0
    );
    assert_eq!(test.get("/api/agent-logs", &b.admin).await.body["total"], 0);
    let mut usage = json!({"provider": "custom", "model": "m", "operation_type": "chat", "prompt_tokens": 1, "completion_tokens": 1});
    usage["conversation_id"] = json!(conv);
    assert_names_nothing(
        &test.post("/api/usage", &b.admin, usage).await,
        "conversation_id",
    );
}
