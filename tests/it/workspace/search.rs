//! POST /api/search through the real router: the three modes find the right chunk, results
//! respect tenant and scope, deleted documents vanish, bad input is refused.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::helpers::{REVENUE, assert_invalid, company, ingest, ingest_tides, titles};
use crate::common::TestApp;

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

/// After an embedder change, reindexing re-embeds every chunk and rebuilds the index for the
/// new model; semantic search then works with it. Uses the real local model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_moves_a_company_to_another_embedder() {
    use silo::embed::{EmbedderConfig, EmbedderKind, select_embedder};
    use silo::index::reembed as reindex;
    use silo::search::{self, SearchMode, SearchRequest};
    let model_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/models/all-minilm-l6-v2");
    let config = EmbedderConfig {
        kind: EmbedderKind::Minilm,
        model_dir: Some(model_dir),
        ..Default::default()
    };
    let Ok(minilm) = select_embedder(std::path::Path::new("/nonexistent"), &config) else {
        assert!(
            std::env::var_os("SILO_REQUIRE_MODEL").is_none(),
            "the local model is missing"
        );
        eprintln!("model not fetched: run scripts/fetch_model.sh");
        return;
    };
    let test = TestApp::spawn().await;
    let acme = company(&test, "Acme").await;
    ingest_tides(&test, &acme.analyst).await;
    let (revenue_id, _) = ingest(
        &test,
        &acme.analyst,
        "revenue.txt",
        REVENUE.as_bytes(),
        "company",
    )
    .await;
    let db = test.app.registry.get(acme.key).await.unwrap();
    let dir = db.dir().to_path_buf();
    let ctx = silo::tenant::TenantCtx::new(db, None);
    let embedder = minilm.clone();
    let (before, report, after, hits) = tokio::task::spawn_blocking(move || {
        silo::tenant::context::sync_scope(ctx, || {
            silo::tenant::context::with_conn(|conn| {
                let before = reindex::stale_count(conn, embedder.as_ref())?;
                let mut calls = 0;
                let prices = silo::pricing::PriceTable::default();
                let charge = reindex::Charge {
                    prices: &prices,
                    user_id: "system",
                };
                let report =
                    reindex::reindex(conn, &dir, embedder.as_ref(), charge, &mut |_, _| {
                        calls += 1
                    })?;
                assert!(calls >= 1);
                let after = reindex::stale_count(conn, embedder.as_ref())?;
                let index = silo::index::VectorIndex::open_or_rebuild(
                    &dir.join("vectors"),
                    conn,
                    embedder.id(),
                    embedder.dimensions(),
                )?;
                assert_eq!(index.embedder_id(), "all-minilm-l6-v2");
                let req = SearchRequest {
                    query: "how much money did we make",
                    k: 2,
                    mode: SearchMode::Vector,
                    allowed: None,
                };
                let hits = search::search(conn, Some(&index), embedder.as_ref(), req)?;
                anyhow::Ok((before, report, after, hits))
            })
        })
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        before, 2,
        "both chunks carried the lexical embedder's vectors"
    );
    assert_eq!((report.reembedded, report.indexed), (2, 2));
    assert_eq!(after, 0);
    // A question with no word in common with the answer: only a semantic model finds it.
    assert_eq!(hits[0].document_id, revenue_id, "{hits:?}");
}
