//! /api/documents and /api/jobs: upload validation, the scope rule, lists, metadata,
//! deletion (chunks, index rows, jobs and file), permissions and tenant isolation.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_answers_202_with_document_and_job() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Uploads").await;
    let reply = upload_parts(
        &test,
        &c.analyst,
        &[
            (
                "file",
                Some("../../etc/Energy Report.txt"),
                b"Solar output rose.",
            ),
            ("title", None, b"  Energy report  "),
            ("description", None, b"Monthly numbers.\nSecond line."),
            ("category", None, b"reports"),
            ("tags", None, br#"["q3", "energy", "q3"]"#),
            ("scope", None, b"company"),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let d = &reply.body["document"];
    assert_eq!(d["filename"], "Energy Report.txt");
    assert_eq!(d["title"], "Energy report");
    assert_eq!(d["description"], "Monthly numbers.\nSecond line.");
    assert_eq!(d["category"], "reports");
    assert_eq!(d["tags"], json!(["q3", "energy"]));
    assert_eq!(d["scope"], "company");
    assert_eq!(d["status"], "pending");
    assert_eq!(d["uploaded_by"], c.analyst_id.as_str());
    assert_eq!(d["sha256"].as_str().unwrap().len(), 64);
    assert!(d.get("file_path").is_none(), "internal path leaked: {d}");
    let job = wait_job(&test, &c.analyst, reply.body["job_id"].as_str().unwrap()).await;
    assert_eq!(job["job_type"], "document_processing");
    assert_eq!(job["document_id"], d["id"]);
    assert!(job["started_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_get_precise_errors_and_leave_nothing() {
    let test = TestApp::spawn_with(|o| o.workspace.max_upload_bytes = 4096).await;
    let c = company(&test, "Bad Uploads").await;
    let t = &c.analyst;
    let txt: &[u8] = b"hello";
    assert_invalid(
        &upload_parts(&test, t, &[("title", None, b"x")]).await,
        "file",
    );
    assert_invalid(
        &upload_parts(&test, t, &[("file", None, txt)]).await,
        "file",
    );
    assert_invalid(
        &upload_parts(&test, t, &[("file", Some("a.txt"), b"")]).await,
        "file",
    );
    assert_invalid(
        &upload_parts(
            &test,
            t,
            &[("file", Some("a.txt"), txt), ("scope", None, b"world")],
        )
        .await,
        "scope",
    );
    assert_invalid(
        &upload_parts(
            &test,
            t,
            &[("file", Some("a.txt"), txt), ("tags", None, b"q3,energy")],
        )
        .await,
        "tags",
    );
    assert_invalid(
        &upload_parts(
            &test,
            t,
            &[("file", Some("a.txt"), txt), ("tags", None, b"[1]")],
        )
        .await,
        "tags",
    );
    assert_invalid(
        &upload_parts(
            &test,
            t,
            &[("file", Some("a.txt"), txt), ("owner", None, b"me")],
        )
        .await,
        "owner",
    );
    assert_invalid(
        &upload_parts(
            &test,
            t,
            &[("file", Some("a.txt"), txt), ("title", None, &[b'x'; 501])],
        )
        .await,
        "title",
    );
    assert_invalid(
        &upload_parts(
            &test,
            t,
            &[("file", Some("a.txt"), txt), ("file", Some("b.txt"), txt)],
        )
        .await,
        "file",
    );
    // Type checked by name and by content.
    let r = upload_parts(&test, t, &[("file", Some("tool.exe"), b"MZ\x90\x00")]).await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let r = upload_parts(&test, t, &[("file", Some("fake.pdf"), b"just text")]).await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let r = upload_parts(
        &test,
        t,
        &[("file", Some("fake.docx"), b"PK\x03\x04 not really")],
    )
    .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let r = upload_parts(
        &test,
        t,
        &[("file", Some("binary.txt"), b"\x00\x01\x02\xff")],
    )
    .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    let r = upload_parts(&test, t, &[("file", Some("pdf-named.txt"), b"%PDF-1.4 x")]).await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    // Too large.
    let big = vec![b'a'; 5000];
    let r = upload_parts(&test, t, &[("file", Some("big.txt"), &big)]).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Not multipart at all.
    let r = test.post("/api/documents", t, json!({"file": "x"})).await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    // A truncated multipart stream.
    let (ct, mut body) = multipart_body(&[("file", Some("a.txt"), txt)]);
    body.truncate(body.len() - 20);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/documents")
        .header(header::AUTHORIZATION, format!("Bearer {t}"))
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .unwrap();
    assert_error(
        &test.send(req).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    // Viewers may not upload.
    let r = upload_parts(&test, &c.viewer, &[("file", Some("a.txt"), txt)]).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    // Nothing was stored: no rows, no files (temporary ones included).
    assert_eq!(test.get("/api/documents", &c.admin).await.body["total"], 0);
    let dir = test
        .app
        .registry
        .get(c.key)
        .await
        .unwrap()
        .dir()
        .join("uploads");
    assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_scoped_documents_are_for_their_uploader_and_admins_only() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Scopes").await;
    let (private, private_job) = ingest(
        &test,
        &c.analyst,
        "private.txt",
        b"Private numbers.",
        "user",
    )
    .await;
    let (shared, _) = ingest(
        &test,
        &c.analyst,
        "shared.txt",
        b"Shared numbers.",
        "company",
    )
    .await;
    let job_id = private_job["id"].as_str().unwrap();

    // The uploader and an admin see both.
    for token in [&c.analyst, &c.admin] {
        assert_eq!(test.get("/api/documents", token).await.body["total"], 2);
        assert_eq!(
            test.get(&format!("/api/documents/{private}"), token)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            test.get(&format!("/api/documents/{private}/chunks"), token)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            test.get(&format!("/api/jobs/{job_id}"), token).await.status,
            StatusCode::OK
        );
    }
    // Another analyst and a viewer see the company document only; the private one is 404.
    assert_eq!(test.get("/api/jobs", &c.admin).await.body["total"], 2);
    for token in [&c.analyst2, &c.viewer] {
        let jobs = test.get("/api/jobs", token).await.body;
        assert_eq!(jobs["total"], 1, "{jobs}");
        assert_eq!(jobs["items"][0]["document_id"], shared.as_str(), "{jobs}");
        let list = test.get("/api/documents", token).await.body;
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["id"], shared.as_str());
        assert_error(
            &test.get(&format!("/api/documents/{private}"), token).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_error(
            &test
                .get(&format!("/api/documents/{private}/chunks"), token)
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_error(
            &test.get(&format!("/api/jobs/{job_id}"), token).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    let r = test
        .patch(
            &format!("/api/documents/{private}"),
            &c.analyst2,
            json!({"title": "x"}),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    // Seen but not theirs: a company document may be changed by its uploader or an admin.
    let r = test
        .patch(
            &format!("/api/documents/{shared}"),
            &c.analyst2,
            json!({"title": "x"}),
        )
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = test
        .delete(&format!("/api/documents/{private}"), &c.admin)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // A viewer lacks documents:delete altogether.
    assert_error(
        &test
            .delete(&format!("/api/documents/{shared}"), &c.viewer)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_search_and_paginate() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Lists").await;
    let t = &c.analyst;
    for (name, cat) in [
        ("solar-2024.txt", "energy"),
        ("wind 100%.txt", "energy"),
        ("budget.txt", "finance"),
    ] {
        let reply = upload_parts(
            &test,
            t,
            &[
                ("file", Some(name), b"content"),
                ("category", None, cat.as_bytes()),
            ],
        )
        .await;
        wait_job(&test, t, reply.body["job_id"].as_str().unwrap()).await;
    }
    let (_, job) = ingest(&test, t, "broken.json", b"{", "user").await;
    assert_eq!(job["status"], "failed");
    let total = |q: &str| {
        let q = q.to_string();
        let test = &test;
        async move {
            let r = test.get(&format!("/api/documents{q}"), t).await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
            r.body["total"].as_u64().unwrap()
        }
    };
    assert_eq!(total("").await, 4);
    assert_eq!(total("?category=energy").await, 2);
    assert_eq!(total("?q=SOLAR").await, 1);
    assert_eq!(total("?q=100%25").await, 1);
    assert_eq!(total("?q=%25").await, 1);
    assert_eq!(total("?status=completed").await, 3);
    assert_eq!(total("?status=failed").await, 1);
    assert_eq!(total("?scope=company").await, 0);
    assert_eq!(total("?scope=user&category=finance").await, 1);
    let page = test.get("/api/documents?limit=2&offset=1", t).await.body;
    assert_eq!(
        (
            page["limit"].as_u64(),
            page["offset"].as_u64(),
            page["total"].as_u64()
        ),
        (Some(2), Some(1), Some(4))
    );
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    // Newest first.
    let all = test.get("/api/documents", t).await.body;
    assert_eq!(all["items"][0]["filename"], "broken.json");
    assert_eq!(all["limit"], 50);
    assert_invalid(&test.get("/api/documents?limit=0", t).await, "limit");
    assert_invalid(&test.get("/api/documents?limit=201", t).await, "limit");
    assert_invalid(&test.get("/api/documents?limit=-1", t).await, "limit");
    assert_invalid(&test.get("/api/documents?offset=abc", t).await, "offset");
    assert_invalid(&test.get("/api/documents?status=done", t).await, "status");
    assert_invalid(&test.get("/api/documents?scope=all", t).await, "scope");
    assert_invalid(&test.get("/api/documents?sort=name", t).await, "sort");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_patch_validates_and_clears() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Patch").await;
    let t = &c.analyst;
    let body = upload(&test, t, "a.txt", b"abc", "user").await;
    let id = body["document"]["id"].as_str().unwrap();
    let path = format!("/api/documents/{id}");
    let r = test
        .patch(
            &path,
            t,
            json!({"title": "New", "tags": ["a", "b"], "scope": "company", "category": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["title"].as_str(), r.body["scope"].as_str()),
        (Some("New"), Some("company"))
    );
    assert_eq!(r.body["tags"], json!(["a", "b"]));
    let r = test.patch(&path, t, json!({"title": null})).await;
    assert!(r.body["title"].is_null());
    assert_eq!(r.body["category"], "x", "absent fields are kept");
    assert_invalid(
        &test.patch(&path, t, json!({"scope": "everyone"})).await,
        "scope",
    );
    assert_invalid(&test.patch(&path, t, json!({"tags": "a"})).await, "tags");
    assert_invalid(
        &test.patch(&path, t, json!({"tags": [""]})).await,
        "tags[0]",
    );
    assert_invalid(&test.patch(&path, t, json!({"title": 5})).await, "title");
    assert_invalid(
        &test.patch(&path, t, json!({"status": "completed"})).await,
        "status",
    );
    let r = test
        .send(
            Request::builder()
                .method(Method::PATCH)
                .uri(&path)
                .header(header::AUTHORIZATION, format!("Bearer {t}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{\"title\": "))
                .unwrap(),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request");
    assert_error(
        &test
            .patch(&format!("/api/documents/{MISSING}"), t, json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test.get("/api/documents/not-a-uuid", t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test.get("/api/jobs/not-a-uuid", t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test.get(&format!("/api/jobs/{MISSING}"), t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test.call(Method::GET, "/api/documents", None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_company_never_sees_or_reaches_these_documents() {
    let test = TestApp::spawn().await;
    let a = company(&test, "Alpha Docs").await;
    let b = company(&test, "Beta Docs").await;
    let (doc, job) = ingest(&test, &a.admin, "a.txt", b"Alpha secrets.", "company").await;
    let job = job["id"].as_str().unwrap();
    assert_eq!(test.get("/api/documents", &b.admin).await.body["total"], 0);
    for path in [
        format!("/api/documents/{doc}"),
        format!("/api/documents/{doc}/chunks"),
        format!("/api/jobs/{job}"),
    ] {
        assert_error(
            &test.get(&path, &b.admin).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    assert_error(
        &test
            .patch(
                &format!("/api/documents/{doc}"),
                &b.admin,
                json!({"title": "x"}),
            )
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test
            .delete(&format!("/api/documents/{doc}"), &b.admin)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        test.get(&format!("/api/documents/{doc}"), &a.viewer)
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_delete_removes_its_chunks_index_rows_jobs_and_file() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Deleting").await;
    let t = &c.analyst;
    let (doc, job) = ingest(
        &test,
        t,
        "a.txt",
        b"Geothermal heat pumps cut gas use.",
        "user",
    )
    .await;
    let dir = test
        .app
        .registry
        .get(c.key)
        .await
        .unwrap()
        .dir()
        .to_path_buf();
    let uploads = || std::fs::read_dir(dir.join("uploads")).unwrap().count();
    assert_eq!(uploads(), 1);
    assert_eq!(job["status"], "completed", "{job}");
    let counts = || {
        in_company(&test, c.key, |conn| {
            let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
            Ok((
                q("SELECT COUNT(*) FROM document_chunks")?,
                q(
                    "SELECT COUNT(*) FROM document_chunks_fts WHERE document_chunks_fts MATCH 'geothermal'",
                )?,
                q("SELECT COUNT(*) FROM processing_jobs")?,
            ))
        })
    };
    // Something to delete: without it the checks below would pass vacuously.
    assert_eq!(counts().await, (1, 1, 1));
    // Analysts may not delete documents (no documents:delete); the admin may.
    assert_error(
        &test.delete(&format!("/api/documents/{doc}"), t).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let reply = test
        .delete(&format!("/api/documents/{doc}?permanent=true"), &c.admin)
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(uploads(), 0);
    assert_eq!(counts().await, (0, 0, 0));
    assert_error(
        &test.get(&format!("/api/documents/{doc}"), t).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test
            .get(&format!("/api/jobs/{}", job["id"].as_str().unwrap()), t)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    for path in [
        format!("/api/documents/{doc}"),
        format!("/api/documents/{doc}?permanent=true"),
    ] {
        assert_error(
            &test.delete(&path, &c.admin).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
}
