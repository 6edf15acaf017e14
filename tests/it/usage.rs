//! /api/usage and /api/usage/summary: records, the price table, the summary's sums and
//! groupings, concurrent writers, and the embedding usage of ingestion and searches.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn usage(provider: &str, model: &str, op: &str, p: i64, c: i64) -> Value {
    json!({"provider": provider, "model": model, "operation_type": op, "prompt_tokens": p, "completion_tokens": c})
}

fn close(a: &Value, b: f64) -> bool {
    (a.as_f64().unwrap() - b).abs() < 1e-12
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_records_total_and_estimated_cost() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Meter").await;
    let t = &c.analyst;
    let r = test
        .post(
            "/api/usage",
            t,
            usage("custom", "deepseek-chat", "chat", 1_000_000, 500_000),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["total_tokens"], 1_500_000);
    assert!(
        close(&r.body["estimated_cost"], 0.14 + 0.5 * 0.28),
        "{}",
        r.body
    );
    assert_eq!(r.body["currency"], "USD");
    assert_eq!(r.body["user_id"], c.analyst_id.as_str());
    assert_eq!(r.body["embedding_tokens"], 0);
    let r = test
        .post(
            "/api/usage",
            t,
            usage("ollama", "llama3", "embedding", 1000, 0),
        )
        .await;
    assert!(close(&r.body["estimated_cost"], 0.0));
    // Operation types are canonicalised, links resolved.
    let conv = test.post("/api/conversations", t, json!({})).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut body = usage("custom", "m", "Chat", 10, 10);
    body["conversation_id"] = json!(conv);
    body["embedding_tokens"] = json!(5);
    let r = test.post("/api/usage", t, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        (
            r.body["operation_type"].as_str(),
            r.body["conversation_id"].as_str()
        ),
        (Some("chat"), Some(conv.as_str()))
    );
    // Bad input.
    let bad = |patch: Value| {
        let mut b = usage("custom", "m", "chat", 1, 1);
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        test.post("/api/usage", t, b)
    };
    assert_invalid(&bad(json!({"prompt_tokens": -1})).await, "prompt_tokens");
    assert_invalid(
        &bad(json!({"completion_tokens": 1.5})).await,
        "completion_tokens",
    );
    assert_invalid(
        &bad(json!({"completion_tokens": "7"})).await,
        "completion_tokens",
    );
    assert_invalid(
        &bad(json!({"prompt_tokens": 2_000_000_000i64})).await,
        "prompt_tokens",
    );
    assert_invalid(&bad(json!({"provider": ""})).await, "provider");
    assert_invalid(
        &bad(json!({"operation_type": "chat; drop"})).await,
        "operation_type",
    );
    assert_invalid(
        &bad(json!({"conversation_id": "x"})).await,
        "conversation_id",
    );
    assert_names_nothing(
        &bad(json!({"conversation_id": MISSING})).await,
        "conversation_id",
    );
    assert_names_nothing(&bad(json!({"message_id": MISSING})).await, "message_id");
    assert_names_nothing(&bad(json!({"agent_log_id": MISSING})).await, "agent_log_id");
    assert_invalid(&bad(json!({"cost": 1})).await, "cost");
    // Another user's conversation and message cannot be linked; the admin may link them.
    let msg = test
        .post(
            &format!("/api/conversations/{conv}/messages"),
            t,
            json!({"content": "hello"}),
        )
        .await;
    assert_eq!(msg.status, StatusCode::CREATED, "{}", msg.body);
    let msg = msg.body["id"].as_str().unwrap().to_string();
    for (field, id) in [("conversation_id", &conv), ("message_id", &msg)] {
        let mut b = usage("custom", "m", "chat", 1, 1);
        b[field] = json!(id);
        assert_names_nothing(
            &test.post("/api/usage", &c.analyst2, b.clone()).await,
            field,
        );
        let by_admin = test.post("/api/usage", &c.admin, b).await;
        assert_eq!(
            by_admin.status,
            StatusCode::CREATED,
            "{field}: {}",
            by_admin.body
        );
        assert_eq!(by_admin.body[field], json!(id));
    }
    assert_invalid(
        &test
            .post("/api/usage", t, json!({"provider": "custom"}))
            .await,
        "model",
    );
    // Another user's conversation cannot be billed to.
    let mut b = usage("custom", "m", "chat", 1, 1);
    b["conversation_id"] = json!(conv);
    assert_names_nothing(
        &test.post("/api/usage", &c.analyst2, b).await,
        "conversation_id",
    );
    // Viewers have neither metering permission.
    assert_error(
        &test
            .post("/api/usage", &c.viewer, usage("custom", "m", "chat", 1, 1))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &test.get("/api/usage/summary", &c.viewer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_price_table_is_used() {
    let test = TestApp::spawn_with(|o| {
        o.workspace.prices = silo::pricing::PriceTable::from_json(
            r#"{"currency": "EUR", "prices": [{"provider": "custom", "model": "big", "prompt": 10, "completion": 20, "embedding": 1}]}"#,
        )
        .unwrap()
    })
    .await;
    let c = company(&test, "Prices").await;
    let mut b = usage("custom", "big", "chat", 100_000, 50_000);
    b["embedding_tokens"] = json!(1_000_000);
    let r = test.post("/api/usage", &c.analyst, b).await;
    assert!(
        close(&r.body["estimated_cost"], 1.0 + 1.0 + 1.0),
        "{}",
        r.body
    );
    assert_eq!(r.body["currency"], "EUR");
    let r = test
        .post(
            "/api/usage",
            &c.analyst,
            usage("custom", "small", "chat", 100, 100),
        )
        .await;
    assert!(
        close(&r.body["estimated_cost"], 0.0),
        "unpriced model: {}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_sums_and_groups_as_computed_by_hand() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Summary").await;
    let other = company(&test, "Summary Other").await;
    let rows = [
        (&c.analyst, usage("custom", "deepseek", "chat", 1000, 2000)),
        (&c.analyst, usage("custom", "deepseek", "chat", 3000, 0)),
        (&c.analyst, usage("custom", "deepseek", "analysis", 0, 1000)),
        (&c.analyst2, usage("ollama", "llama3", "chat", 500, 500)),
        (
            &c.analyst2,
            usage("custom", "deepseek", "grounding", 2000, 1000),
        ),
    ];
    for (token, body) in rows {
        assert_eq!(
            test.post("/api/usage", token, body).await.status,
            StatusCode::CREATED
        );
    }
    let elsewhere = test
        .post(
            "/api/usage",
            &other.analyst,
            usage("custom", "deepseek", "chat", 999_999, 999_999),
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED, "{}", elsewhere.body);
    let s = |q: &str| {
        let path = format!("/api/usage/summary{q}");
        let (test, token) = (&test, &c.admin);
        async move { test.get(&path, token).await }
    };

    let r = s("").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let totals = &r.body["totals"];
    assert_eq!(totals["requests"], 5);
    assert_eq!(totals["prompt_tokens"], 6500);
    assert_eq!(totals["completion_tokens"], 4500);
    assert_eq!(totals["total_tokens"], 11000);
    // custom: prompt 6000, completion 4000 → 6000×0.14/1M + 4000×0.28/1M; ollama free.
    assert!(
        close(
            &totals["estimated_cost"],
            (6000.0 * 0.14 + 4000.0 * 0.28) / 1e6
        ),
        "{totals}"
    );
    assert_eq!(r.body["groups"], json!([]));

    let r = s("?group_by=provider").await.body;
    let g = r["groups"].as_array().unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0]["key"], json!({"provider": "custom"}));
    assert_eq!(
        (g[0]["requests"].as_i64(), g[0]["total_tokens"].as_i64()),
        (Some(4), Some(10000))
    );
    assert_eq!(g[1]["key"], json!({"provider": "ollama"}));
    assert_eq!(
        (
            g[1]["total_tokens"].as_i64(),
            g[1]["estimated_cost"].as_f64()
        ),
        (Some(1000), Some(0.0))
    );

    let r = s("?group_by=operation_type,provider").await.body;
    let keys: Vec<Value> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].clone())
        .collect();
    assert_eq!(
        keys,
        vec![
            json!({"operation_type": "analysis", "provider": "custom"}),
            json!({"operation_type": "chat", "provider": "custom"}),
            json!({"operation_type": "chat", "provider": "ollama"}),
            json!({"operation_type": "grounding", "provider": "custom"}),
        ]
    );
    assert_eq!(r["groups"][1]["total_tokens"], 6000);
    assert_eq!(r["group_by"], json!(["operation_type", "provider"]));

    let r = s("?group_by=user").await.body;
    let mine = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"]["user"] == c.analyst_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (mine["requests"].as_i64(), mine["total_tokens"].as_i64()),
        (Some(3), Some(7000))
    );

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let r = s(&format!("?group_by=day,model&from={today}&to={today}"))
        .await
        .body;
    assert_eq!(
        r["groups"][0]["key"],
        json!({"day": today, "model": "deepseek"})
    );
    assert_eq!(r["groups"][0]["requests"], 4);
    assert_eq!(r["totals"]["requests"], 5);
    assert_eq!(
        s("?from=2000-01-01&to=2000-12-31").await.body["totals"]["requests"],
        0
    );
    assert_eq!(
        s("?to=2000-01-01T00:00:00Z").await.body["totals"]["total_tokens"],
        0
    );
    let r = s(&format!("?user_id={}", c.analyst_id)).await.body;
    assert_eq!(r["totals"]["requests"], 3);

    assert_invalid(&s("?group_by=provider,colour").await, "group_by");
    assert_invalid(
        &s("?group_by=provider%3BDROP%20TABLE%20token_usage").await,
        "group_by",
    );
    assert_invalid(&s("?from=yesterday").await, "from");
    assert_invalid(&s("?from=2025-02-01&to=2025-01-01").await, "to");
    assert_invalid(&s("?user_id=someone").await, "user_id");
    assert_invalid(&s("?unknown=1").await, "unknown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_writers_all_succeed() {
    let test = std::sync::Arc::new(TestApp::spawn().await);
    let c = company(&test, "Concurrent").await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let test = test.clone();
        let token = if i % 2 == 0 {
            c.analyst.clone()
        } else {
            c.analyst2.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..10 {
                statuses.push(
                    test.post("/api/usage", &token, usage("custom", "m", "chat", 100, 100))
                        .await
                        .status,
                );
            }
            statuses
        }));
    }
    let mut ok = 0;
    for t in tasks {
        for status in t.await.unwrap() {
            assert_eq!(status, StatusCode::CREATED);
            ok += 1;
        }
    }
    assert_eq!(ok, 640);
    let r = test.get("/api/usage/summary", &c.admin).await.body;
    assert_eq!(r["totals"]["requests"], 640);
    assert_eq!(r["totals"]["total_tokens"], 640 * 200);
    // They went through the group writer, several rows per transaction.
    use std::sync::atomic::Ordering::Relaxed;
    let stats = test.app.usage_writer.stats();
    assert_eq!(stats.rows.load(Relaxed), 640);
    assert!(stats.batches.load(Relaxed) < 640, "{stats:?}");
    assert!(silo::http::metrics::render(&test.app, 0).contains("silo_usage_rows_total 640"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_writer_stops_when_idle_and_restarts_on_demand() {
    let test = TestApp::spawn_with(|o| {
        o.workspace.usage_batch_idle = std::time::Duration::from_millis(20)
    })
    .await;
    let c = company(&test, "Idle Writer").await;
    for round in 0..3 {
        let r = test
            .post("/api/usage", &c.analyst, usage("custom", "m", "chat", 1, 1))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "round {round}: {}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    }
    // The idle writer let the company go: nothing holds it open but the registry.
    // (Polled: on a loaded machine the writer may notice its idle timeout a little late.)
    let db = test.app.registry.get(c.key).await.unwrap();
    let mut holders = std::sync::Arc::strong_count(&db);
    for _ in 0..200 {
        if holders == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        holders = std::sync::Arc::strong_count(&db);
    }
    assert_eq!(holders, 2, "only the registry and this test hold it");
    drop(db);
    assert_eq!(
        test.get("/api/usage/summary", &c.admin).await.body["totals"]["requests"],
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_and_semantic_searches_record_embedding_usage() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Metered").await;
    let other = company(&test, "Metered Other").await;
    let doc_id = ingest_tides(&test, &acme.analyst).await;
    let doc = test
        .get(&format!("/api/documents/{doc_id}"), &acme.analyst)
        .await
        .body;
    let tokens = doc["num_tokens"].as_i64().unwrap();
    assert!(tokens > 0, "{doc}");

    let s = summary_of(&test, &acme.admin).await;
    let g = embedding_group(&s, &acme.analyst_id).expect("the upload's embedding row");
    assert_eq!(
        (g["requests"].as_i64(), g["embedding_tokens"].as_i64()),
        (Some(1), Some(tokens)),
        "{s}"
    );
    assert_eq!(
        (g["total_tokens"].as_i64(), g["estimated_cost"].as_f64()),
        (Some(0), Some(0.0)),
        "{s}"
    );

    // A keyword search embeds nothing; vector and hybrid searches embed the query once.
    for (mode, expected) in [("keyword", 1), ("vector", 2), ("hybrid", 3)] {
        let r = test
            .post(
                "/api/search",
                &acme.analyst,
                json!({"query": "moon and tides", "mode": mode}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let mut requests = 0;
        for _ in 0..200 {
            let s = summary_of(&test, &acme.admin).await;
            requests = embedding_group(&s, &acme.analyst_id).unwrap()["requests"]
                .as_i64()
                .unwrap();
            if requests == expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(requests, expected, "after a {mode} search");
    }
    // Nothing of it shows in another company's usage.
    let s = summary_of(&test, &other.admin).await;
    assert_eq!(s["totals"]["requests"], 0, "{s}");
}
