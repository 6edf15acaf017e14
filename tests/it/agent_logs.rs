//! /api/agent-logs: recorded, filtered, and scoped to their user (admins see all) and to
//! their company.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_logs_are_recorded_filtered_and_scoped() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Agents").await;
    let other = company(&test, "Other Agents").await;
    let t = &c.analyst;
    let conv = test.post("/api/conversations", t, json!({})).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let msg = test
        .post(
            &format!("/api/conversations/{conv}/messages"),
            t,
            json!({"content": "q"}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let log = json!({"message_id": msg, "agent_name": "ResearchAgent", "agent_type": "research",
                     "action": "retrieve", "input_data": {"q": "solar"}, "output_data": {"hits": 3},
                     "execution_time": 1.25, "tokens_used": 120, "confidence": 0.9});
    let r = test.post("/api/agent-logs", t, log.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["message_id"].as_str()),
        (Some("success"), Some(msg.as_str()))
    );
    assert_eq!(r.body["output_data"], json!({"hits": 3}));
    let r = test.post("/api/agent-logs", t, json!({"agent_name": "GroundingAgent", "agent_type": "grounding", "status": "failed", "error_message": "timeout upstream"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let list = |q: &str| {
        let path = format!("/api/agent-logs{q}");
        let test = &test;
        async move { test.get(&path, t).await }
    };
    assert_eq!(list("").await.body["total"], 2);
    assert_eq!(list(&format!("?message_id={msg}")).await.body["total"], 1);
    assert_eq!(list("?agent_type=grounding").await.body["total"], 1);
    assert_eq!(
        list("?status=failed&agent_type=grounding").await.body["total"],
        1
    );
    assert_eq!(list("?status=timeout").await.body["total"], 0);
    assert_invalid(&list("?status=ok").await, "status");
    assert_error(
        &list(&format!("?message_id={MISSING}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Other users of the company see their own runs only; admins see all.
    assert_eq!(
        test.get("/api/agent-logs", &c.analyst2).await.body["total"],
        0
    );
    assert_eq!(test.get("/api/agent-logs", &c.admin).await.body["total"], 2);
    assert_eq!(
        test.get("/api/agent-logs", &other.admin).await.body["total"],
        0
    );
    assert_error(
        &test
            .get(&format!("/api/agent-logs?message_id={msg}"), &other.admin)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    assert_invalid(
        &test
            .post("/api/agent-logs", t, json!({"agent_name": ""}))
            .await,
        "agent_name",
    );
    assert_invalid(
        &test
            .post(
                "/api/agent-logs",
                t,
                json!({"agent_name": "A", "confidence": -0.1}),
            )
            .await,
        "confidence",
    );
    assert_invalid(
        &test
            .post(
                "/api/agent-logs",
                t,
                json!({"agent_name": "A", "execution_time": -1}),
            )
            .await,
        "execution_time",
    );
    assert_invalid(
        &test
            .post(
                "/api/agent-logs",
                t,
                json!({"agent_name": "A", "tokens_used": "many"}),
            )
            .await,
        "tokens_used",
    );
    for tokens in [json!(-1), json!(2_000_000_000i64)] {
        assert_invalid(
            &test
                .post(
                    "/api/agent-logs",
                    t,
                    json!({"agent_name": "A", "tokens_used": tokens}),
                )
                .await,
            "tokens_used",
        );
    }
    assert_names_nothing(
        &test
            .post(
                "/api/agent-logs",
                t,
                json!({"agent_name": "A", "message_id": MISSING}),
            )
            .await,
        "message_id",
    );
    assert_names_nothing(
        &test
            .post(
                "/api/agent-logs",
                &c.analyst2,
                json!({"agent_name": "A", "message_id": msg}),
            )
            .await,
        "message_id",
    );
    // Viewers read agent logs but do not execute agents.
    assert_error(
        &test
            .post("/api/agent-logs", &c.viewer, json!({"agent_name": "A"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        test.get("/api/agent-logs", &c.viewer).await.status,
        StatusCode::OK
    );
}
