//! `silo demo` through the real binary on an empty data directory: the printed accounts
//! log in, search finds the shipped documents (text, PDF, DOCX), and the conversation,
//! report and 30 days of usage are there; a second run is refused.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn demo(data_dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_silo"))
        .args(["demo", "--json"])
        .env("SILO_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running silo")
}

async fn titles(test: &TestApp, token: &str, query: &str, mode: &str) -> Vec<String> {
    let reply = test
        .post(
            "/api/search",
            token,
            json!({"query": query, "mode": mode, "k": 3}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["document_title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_company_works_at_once_for_its_printed_users() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let out = demo(&data_dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(made["company"]["slug"], "demo");
    assert_eq!(made["documents"], 12);
    assert_eq!(made["failed"], 0);
    let users = made["users"].as_array().unwrap();
    let roles: Vec<&str> = users.iter().map(|u| u["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["admin", "analyst", "viewer"]);

    let test = TestApp::spawn_in(
        dir,
        |_| {},
        std::sync::Arc::new(silo::embed::LexicalEmbedder),
    )
    .await;
    let mut tokens = Vec::new();
    for u in users {
        let session = test
            .login_ok(
                u["email"].as_str().unwrap(),
                u["password"].as_str().unwrap(),
            )
            .await;
        tokens.push(session["access_token"].as_str().unwrap().to_string());
    }
    let (admin, analyst, viewer) = (&tokens[0], &tokens[1], &tokens[2]);
    // A wrong password is still refused.
    let wrong = test
        .login(users[0]["email"].as_str().unwrap(), "not-the-password")
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);

    let docs = test.get("/api/documents?limit=100", viewer).await;
    assert_eq!(docs.status, StatusCode::OK, "{}", docs.body);
    assert_eq!(docs.body["total"], 12, "{}", docs.body);
    assert!(
        docs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "completed")
    );
    // Every kind of file is found by what it says: PDF, DOCX, HTML, CSV, JSON, Markdown.
    for (query, mode, title) in [
        (
            "Kestrel Textiles hydrostatic head",
            "keyword",
            "supplier-agreement-summary.pdf",
        ),
        (
            "Ridgeline 2 out of stock in August",
            "hybrid",
            "q3-sales-report.pdf",
        ),
        (
            "forklift certificate",
            "hybrid",
            "warehouse-safety-guide.docx",
        ),
        (
            "two-factor authentication",
            "keyword",
            "it-security-policy.html",
        ),
        ("titanium camp stove", "hybrid", "product-catalog.csv"),
        ("tent rental weekend price", "keyword", "price-list.json"),
        ("paid holiday days a year", "hybrid", "employee-handbook.md"),
    ] {
        let found = titles(&test, viewer, query, mode).await;
        // The JSON price list shares its words with the FAQ: among the first three.
        let expected = if title.ends_with(".json") {
            found.iter().any(|t| t == title)
        } else {
            found.first().map(String::as_str) == Some(title)
        };
        assert!(expected, "{query}: {found:?}");
    }

    // The analyst's conversation and report, and 30 days of usage for the admin.
    let convs = test.get("/api/conversations", analyst).await;
    assert_eq!(convs.body["total"], 1, "{}", convs.body);
    let id = convs.body["items"][0]["id"].as_str().unwrap();
    let messages = test
        .get(&format!("/api/conversations/{id}/messages"), analyst)
        .await;
    assert_eq!(messages.body["total"], 2, "{}", messages.body);
    let reports = test.get("/api/reports", analyst).await;
    assert_eq!(reports.body["total"], 1, "{}", reports.body);
    let usage = test.get("/api/usage/summary?group_by=day", admin).await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.body);
    let days = usage.body["groups"].as_array().unwrap().len();
    assert!(days >= 29, "{days} days of usage: {}", usage.body);
    assert!(
        usage.body["totals"]["estimated_cost"].as_f64().unwrap() > 0.0,
        "{}",
        usage.body
    );

    // A second demo in the same install is refused, naming why.
    let again = demo(&test.data_dir());
    assert_eq!(again.status.code(), Some(1));
    let why = String::from_utf8_lossy(&again.stderr);
    assert!(why.contains("already exists"), "{why}");
}
