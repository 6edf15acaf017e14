//! POST /api/search through the real router: the three modes find the right chunk, results
//! respect tenant and scope, deleted documents vanish, bad input is refused; loaded indexes
//! stay within their memory budget and odd vectors do not break a company's search. The
//! library path is in `search_rank`, the index itself in `index`.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    REVENUE, TIDES, TestApp, assert_invalid, company, ingest, ingest_tides, titles, vector_titles,
};

const SECRET: &str = "The private salary review lists compensation bands for engineers.";

async fn search(test: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    let reply = test.post("/api/search", token, body).await;
    (reply.status, reply.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mode_finds_the_right_chunk_and_deleted_documents_vanish() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Acme").await;
    let tides_id = ingest_tides(&test, &acme.analyst).await;
    let (revenue_id, _) = ingest(
        &test,
        &acme.analyst,
        "revenue.txt",
        REVENUE.as_bytes(),
        "company",
    )
    .await;
    for mode in ["keyword", "vector", "hybrid"] {
        let (status, body) = search(
            &test,
            &acme.viewer,
            json!({"query": "moon gravity tides", "mode": mode}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{mode}: {body}");
        assert_eq!(body["mode"], mode);
        let first = &body["results"][0];
        assert_eq!(first["document_id"], tides_id, "{mode}: {body}");
        assert_eq!(first["document_title"], "tides.txt");
        assert_eq!(first["chunk_index"], 0);
        assert!(
            first["content"]
                .as_str()
                .unwrap()
                .contains("gravitational pull")
        );
        assert!(first["score"].as_f64().unwrap() > 0.0);
        assert!(first["chunk_id"].as_str().unwrap().len() == 36);
    }
    let (_, body) = search(&test, &acme.viewer, json!({"query": "revenue margin"})).await;
    assert_eq!(body["mode"], "hybrid");
    assert_eq!(body["results"][0]["document_id"], revenue_id);
    // Restricted to one document.
    let (_, only) = search(
        &test,
        &acme.viewer,
        json!({"query": "moon revenue", "document_ids": [revenue_id]}),
    )
    .await;
    assert_eq!(only["results"][0]["document_id"], revenue_id, "{only}");
    assert!(titles(&only).iter().all(|t| t == "revenue.txt"), "{only}");
    // Ids are accepted in any case and repeated ids count once.
    let upper = revenue_id.to_uppercase();
    let (status, same) = search(
        &test,
        &acme.viewer,
        json!({"query": "moon revenue", "document_ids": [upper, revenue_id]}),
    )
    .await;
    assert_eq!(
        (status, &same["results"]),
        (StatusCode::OK, &only["results"])
    );
    // Deleted: never returned again, in any mode (the loaded index tombstones it).
    let deleted = test
        .delete(&format!("/api/documents/{tides_id}"), &acme.admin)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    for mode in ["keyword", "vector", "hybrid"] {
        let (_, body) = search(
            &test,
            &acme.viewer,
            json!({"query": "moon gravity tides", "mode": mode, "k": 100}),
        )
        .await;
        assert!(
            !titles(&body).contains(&"tides.txt".to_string()),
            "{mode}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_never_crosses_companies_or_private_scopes() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Acme").await;
    let beta = company(&test, "Beta").await;
    let tides_id = ingest_tides(&test, &acme.analyst).await;
    let (secret_id, _) = ingest(
        &test,
        &acme.analyst,
        "salaries.txt",
        SECRET.as_bytes(),
        "user",
    )
    .await;
    for mode in ["keyword", "vector", "hybrid"] {
        let (status, body) = search(
            &test,
            &beta.admin,
            json!({"query": "moon tides salary", "mode": mode}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["results"],
            json!([]),
            "{mode}: company B sees A's chunks"
        );
        // Another analyst of the same company does not see a user-scope document…
        let (_, body) = search(
            &test,
            &acme.analyst2,
            json!({"query": "salary compensation", "mode": mode}),
        )
        .await;
        assert!(
            !titles(&body).contains(&"salaries.txt".to_string()),
            "{mode}: {body}"
        );
        // …its uploader and the company admin do.
        let (_, own) = search(
            &test,
            &acme.analyst,
            json!({"query": "salary compensation", "mode": mode}),
        )
        .await;
        assert_eq!(own["results"][0]["document_id"], secret_id, "{mode}: {own}");
        let (_, admin) = search(
            &test,
            &acme.admin,
            json!({"query": "salary compensation", "mode": mode}),
        )
        .await;
        assert_eq!(admin["results"][0]["document_id"], secret_id, "{mode}");
    }
    // Naming another company's (or an invisible) document is a 404.
    let (status, body) = search(
        &test,
        &beta.admin,
        json!({"query": "tides", "document_ids": [tides_id]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _) = search(
        &test,
        &acme.analyst2,
        json!({"query": "salary", "document_ids": [secret_id]}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_search_requests_are_refused_clearly() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Acme").await;
    let cases = [
        (json!({"query": ""}), "query"),
        (json!({"query": "   "}), "query"),
        (json!({"query": "x".repeat(1001)}), "query"),
        (json!({"query": "tides", "k": 0}), "k"),
        (json!({"query": "tides", "k": 101}), "k"),
        (json!({"query": "tides", "k": -1}), "k"),
        (json!({"query": "tides", "mode": "fuzzy"}), "mode"),
        (
            json!({"query": "tides", "document_ids": vec!["x"; 101]}),
            "document_ids",
        ),
        (
            json!({"query": "tides", "document_ids": ["not-an-id"]}),
            "document_ids[0]",
        ),
        (json!({"query": "tides", "extra": true}), "extra"),
        (json!({"k": 3}), "query"),
    ];
    for (body, field) in cases {
        let reply = test.post("/api/search", &acme.viewer, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.body
        );
        assert_invalid(&reply, field);
    }
    // Hostile FTS syntax is data, not a query language.
    for query in ["\"unbalanced", "NEAR(a b", "a* OR", "col:x", "^", "AND"] {
        let reply = test
            .post(
                "/api/search",
                &acme.viewer,
                json!({"query": query, "mode": "keyword"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{query:?}: {}", reply.body);
    }
    // A query is a one-line text like any other: control characters are refused.
    let nul = test
        .post(
            "/api/search",
            &acme.viewer,
            json!({"query": "a\u{0}b", "mode": "keyword"}),
        )
        .await;
    assert_invalid(&nul, "query");
    let su = test
        .post("/api/search", &test.root_token, json!({"query": "tides"}))
        .await;
    assert_eq!(su.status, StatusCode::FORBIDDEN);
    let anon = test
        .call(
            axum::http::Method::POST,
            "/api/search",
            None,
            Some(json!({"query": "x"})),
        )
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
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
