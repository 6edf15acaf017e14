//! The admin API's export and import: the archive streamed out of one server and into
//! another through the real router, permissions, audit rows, and refusals that leave
//! nothing behind.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::cli_company_archive::company_with_data;
use crate::helpers::*;

/// GET …/export as `token`: (status, content type, disposition, body bytes).
async fn export(test: &TestApp, id: &str, token: &str) -> (StatusCode, String, String, Vec<u8>) {
    let req = Request::builder()
        .uri(format!("/api/admin/companies/{id}/export"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = test.router.clone().oneshot(req).await.unwrap();
    let text = |name| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (status, kind, disposition) = (
        res.status(),
        text(header::CONTENT_TYPE),
        text(header::CONTENT_DISPOSITION),
    );
    let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, kind, disposition, bytes)
}

async fn import(test: &TestApp, query: &str, token: &str, kind: &str, body: Vec<u8>) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/admin/companies/import{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, kind)
        .body(Body::from(body))
        .unwrap();
    test.send(req).await
}

fn audit_count(test: &TestApp, action: &str) -> i64 {
    test.app
        .primary
        .get()
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = ?1",
            [action],
            |r| r.get(0),
        )
        .unwrap()
}

async fn company_count(test: &TestApp) -> u64 {
    let list = test.get("/api/admin/companies", &test.root_token).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    list.body["total"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_streams_out_of_one_server_and_into_another() {
    let source = TestApp::spawn().await;
    let c = company_with_data(&source).await;
    let (status, kind, disposition, archive) = export(&source, &c.id, &source.root_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "application/zstd");
    assert_eq!(
        disposition,
        "attachment; filename=\"acme-export.silo.tar.zst\""
    );
    assert_eq!(&archive[..4], &[0x28, 0xb5, 0x2f, 0xfd], "a zstd stream");
    assert_eq!(audit_count(&source, "company.export"), 1);

    let target = TestApp::spawn().await;
    let reply = import(
        &target,
        "",
        &target.root_token,
        "application/zstd",
        archive.clone(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let company = &reply.body["company"];
    assert_eq!(company["slug"], "acme-export");
    let report = &reply.body["report"];
    assert_eq!(report["from"]["id"], c.id.as_str());
    assert_eq!(report["documents"], 4);
    assert_eq!(report["users"], 4);
    assert_eq!(report["indexed"], report["chunks"]);
    assert_eq!(audit_count(&target, "company.import"), 1);

    // Its documents are there and searchable for a new user of it.
    let id = company["id"].as_str().unwrap();
    let (_, viewer) = target.create_user(id, "viewer").await;
    let found = target
        .post(
            "/api/search",
            &viewer,
            serde_json::json!({"query": "offshore wind", "mode": "hybrid"}),
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(
        found.body["results"][0]["document_title"], "wind.pdf",
        "{}",
        found.body
    );

    // Imported again under a new name, without users: a second company; an unknown id
    // exports nothing.
    let reply = import(
        &target,
        "?name=Acme%20Copy&without_users=true",
        &target.root_token,
        "application/octet-stream",
        archive,
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert_eq!(reply.body["company"]["slug"], "acme-copy");
    assert_eq!(reply.body["report"]["users"], 0);
    let (status, _, _, body) = export(&target, "no-such-company", &target.root_token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_super_admin_moves_companies_and_a_bad_archive_creates_nothing() {
    let test = TestApp::spawn().await;
    let c = company_with_data(&test).await;
    let (status, _, _, archive) = export(&test, &c.id, &test.root_token).await;
    assert_eq!(status, StatusCode::OK);

    // A company admin reaches neither route; nothing is audited for them.
    let (status, _, _, body) = export(&test, &c.id, &c.admin).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(String::from_utf8_lossy(&body).contains("forbidden"));
    let reply = import(
        &test,
        "?slug=stolen",
        &c.admin,
        "application/zstd",
        archive.clone(),
    )
    .await;
    assert_error(&reply, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(audit_count(&test, "company.export"), 1);

    let before = company_count(&test).await;
    // Not an archive, the wrong media type, a cut archive, a bad slug, a taken slug.
    let reply = import(
        &test,
        "?slug=fresh",
        &test.root_token,
        "application/zstd",
        b"hello".to_vec(),
    )
    .await;
    assert_invalid(&reply, "archive");
    assert!(
        reply.message().contains("not zstd-compressed"),
        "{}",
        reply.body
    );
    let reply = import(
        &test,
        "",
        &test.root_token,
        "application/json",
        archive.clone(),
    )
    .await;
    assert_error(
        &reply,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let cut = archive[..archive.len() / 2].to_vec();
    let reply = import(
        &test,
        "?slug=fresh&without_users=true",
        &test.root_token,
        "application/zstd",
        cut,
    )
    .await;
    assert_invalid(&reply, "archive");
    let reply = import(
        &test,
        "?slug=Not%20A%20Slug&without_users=true",
        &test.root_token,
        "application/zstd",
        archive.clone(),
    )
    .await;
    assert_invalid(&reply, "slug");
    let reply = import(
        &test,
        "?without_users=true",
        &test.root_token,
        "application/zstd",
        archive.clone(),
    )
    .await;
    assert_error(&reply, StatusCode::CONFLICT, "conflict");
    // Its users exist here already.
    let reply = import(
        &test,
        "?slug=fresh",
        &test.root_token,
        "application/zstd",
        archive,
    )
    .await;
    assert_error(&reply, StatusCode::CONFLICT, "conflict");
    assert!(
        reply.message().contains("without_users=true"),
        "{}",
        reply.body
    );
    assert_eq!(company_count(&test).await, before);
    assert_eq!(audit_count(&test, "company.import"), 0);
    let leftovers: Vec<String> = std::fs::read_dir(test.data_dir().join("companies"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
