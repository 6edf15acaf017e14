//! Vector search in operation: embedding calls are metered, loaded indexes stay within
//! their memory budget, and odd vectors do not break a company's search.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use super::helpers::{
    REVENUE, TIDES, company, embedding_group, ingest, ingest_tides, summary_of, vector_titles,
};
use crate::common::TestApp;

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

/// Past the index memory budget, idle companies with a loaded index are closed (their
/// index saved), and their next search loads it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaded_indexes_are_kept_within_their_memory_budget() {
    let test = TestApp::spawn_with(|o| {
        // One single-chunk index (~4.3 kB) fits, two do not.
        o.registry.max_index_bytes = 6000;
        // Usage writers hold a company while busy: let them stop quickly.
        o.workspace.usage_batch_idle = Duration::from_millis(20);
    })
    .await;
    let a = company(&test, "Budget A").await;
    let b = company(&test, "Budget B").await;
    ingest(&test, &a.analyst, "tides.txt", TIDES.as_bytes(), "company").await;
    ingest(
        &test,
        &b.analyst,
        "revenue.txt",
        REVENUE.as_bytes(),
        "company",
    )
    .await;
    let manifest = test
        .app
        .registry
        .get(a.key)
        .await
        .unwrap()
        .dir()
        .join("vectors/manifest.json");
    assert_eq!(
        vector_titles(&test, &a.analyst, "moon tides").await,
        ["tides.txt"]
    );
    assert!(!manifest.exists(), "not saved yet");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        vector_titles(&test, &b.analyst, "revenue margin").await,
        ["revenue.txt"]
    );
    // Loading B's index put A (idle, with an index) over the budget: A was closed.
    let evictions = &test.app.registry.stats.index_evictions;
    assert_eq!(evictions.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert!(!test.app.registry.is_open(a.key));
    assert!(test.app.registry.is_open(b.key));
    // A's index was saved on the way out, and it answers again after loading.
    for _ in 0..500 {
        if manifest.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(manifest.exists(), "A's index was saved when it was closed");
    assert_eq!(
        vector_titles(&test, &a.analyst, "moon tides").await,
        ["tides.txt"]
    );
}

/// A chunk whose vector is all zeros (only stopwords, for the lexical embedder) is left out
/// of the index instead of making vector search fail for the whole company.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_vector_does_not_break_vector_search() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Zero").await;
    let (_, job) = ingest(
        &test,
        &acme.analyst,
        "empty.txt",
        b"the and of to is it",
        "company",
    )
    .await;
    // Stored with its (all-zero) vector: the case under test really happens.
    assert_eq!(
        (job["status"].as_str(), job["processed_items"].as_i64()),
        (Some("completed"), Some(1)),
        "{job}"
    );
    ingest_tides(&test, &acme.analyst).await;
    assert_eq!(
        vector_titles(&test, &acme.analyst, "moon tides").await,
        ["tides.txt"]
    );
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
    let m = super::helpers::MISSING;
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
        super::helpers::assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
        assert!(r.message().contains(permission), "{path}: {}", r.body);
    }
    let r = test
        .post("/api/search", &c.viewer, json!({"query": "x"}))
        .await;
    super::helpers::assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    assert!(r.message().contains("documents:read"), "{}", r.body);
    // Other roles keep theirs.
    assert_eq!(
        test.get("/api/documents", &c.analyst).await.status,
        StatusCode::OK
    );
}
