//! The global library through the real router (and `silo library` through the real binary):
//! a super admin's document is read and found by every company's searches, merged with the
//! company's own results and cited in their conversations; no company can change it, reach
//! /api/admin/library, or see another company's documents through it; its searches are
//! metered to the searching company; deleting it hides it everywhere at once.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const HANDBOOK: &str = "Zorvex safety procedure QX-7781: before opening a pressure valve, \
    vent the line, lock the pump and sign the maintenance log. The procedure applies to \
    every site.";

/// Adds `name` to the library as the super admin and waits until it is processed; returns
/// its id.
async fn add_to_library(test: &TestApp, name: &str, text: &str) -> String {
    let reply = upload_parts_to(
        test,
        "/api/admin/library/documents",
        &test.root_token,
        &[("file", Some(name), text.as_bytes())],
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["document"]["scope"], "global", "{}", reply.body);
    let job = reply.body["job_id"].as_str().unwrap().to_string();
    for _ in 0..1200 {
        let r = test
            .get(&format!("/api/admin/library/jobs/{job}"), &test.root_token)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        match r.body["status"].as_str() {
            Some("completed") => {
                return reply.body["document"]["id"].as_str().unwrap().to_string();
            }
            Some("failed") => panic!("library job failed: {}", r.body),
            _ => tokio::time::sleep(std::time::Duration::from_millis(25)).await,
        }
    }
    panic!("library job {job} did not finish");
}

async fn search(test: &TestApp, token: &str, body: Value) -> Vec<(String, String)> {
    let reply = test.post("/api/search", token, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["document_title"].as_str().unwrap().to_string(),
                r["source"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn library_rows(test: &TestApp, sql: &str) -> i64 {
    let db = test.data_dir().join("library/library.db");
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_company_reads_and_finds_the_library_and_none_can_change_it() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Acme").await;
    let globex = company(&test, "Globex").await;
    let tides = ingest_tides(&test, &acme.admin).await;
    let (revenue, _) = ingest(
        &test,
        &globex.admin,
        "revenue.txt",
        REVENUE.as_bytes(),
        "company",
    )
    .await;
    let handbook = add_to_library(&test, "handbook.txt", HANDBOOK).await;

    // Found by both companies in every mode, marked as the library's; each company's own
    // documents stay its own.
    for (c, own, foreign) in [
        (&acme, "tides.txt", "revenue.txt"),
        (&globex, "revenue.txt", "tides.txt"),
    ] {
        for mode in ["keyword", "vector", "hybrid"] {
            let found = search(
                &test,
                &c.viewer,
                json!({"query": "Zorvex safety procedure QX-7781", "mode": mode}),
            )
            .await;
            assert!(
                found.contains(&("handbook.txt".into(), "library".into())),
                "{mode}: {found:?}"
            );
            let found = search(
                &test,
                &c.viewer,
                json!({"query": "moon tides revenue Europe", "mode": mode, "k": 20}),
            )
            .await;
            assert!(found.iter().all(|(t, _)| t != foreign), "{mode}: {found:?}");
            if mode == "keyword" {
                assert!(found.contains(&(own.into(), "company".into())), "{found:?}");
            }
        }
    }
    // The exact code is the best keyword match of company and library together: kept first.
    let top = search(&test, &acme.viewer, json!({"query": "QX-7781", "k": 1})).await;
    assert_eq!(top, [("handbook.txt".to_string(), "library".to_string())]);

    // `sources` chooses where to look; bad values name the field.
    let only_company = search(
        &test,
        &acme.viewer,
        json!({"query": "Zorvex QX-7781 tides", "sources": ["company"]}),
    )
    .await;
    assert!(
        only_company.iter().all(|(_, s)| s == "company"),
        "{only_company:?}"
    );
    assert!(!only_company.is_empty());
    let only_library = search(
        &test,
        &acme.viewer,
        json!({"query": "Zorvex QX-7781 tides", "sources": ["library"]}),
    )
    .await;
    assert_eq!(
        only_library,
        [("handbook.txt".to_string(), "library".to_string())]
    );
    for (sources, field) in [
        (json!([]), "sources"),
        (json!(["web"]), "sources[0]"),
        (json!(["library", 7]), "sources[1]"),
    ] {
        let r = test
            .post(
                "/api/search",
                &acme.viewer,
                json!({"query": "valve", "sources": sources}),
            )
            .await;
        assert_invalid(&r, field);
    }
    // A source named twice is searched once.
    let twice = search(
        &test,
        &acme.viewer,
        json!({"query": "Zorvex QX-7781", "sources": ["library", "library"]}),
    )
    .await;
    assert_eq!(twice, only_library);
    // Limited to documents: the library's and the company's may be named together; another
    // company's document, or a library document when only the company is searched, is 404.
    let scoped = search(
        &test,
        &acme.viewer,
        json!({"query": "valve moon", "document_ids": [handbook, tides]}),
    )
    .await;
    assert_eq!(scoped.len(), 2, "{scoped:?}");
    for ids in [json!([revenue]), json!([handbook, revenue])] {
        let r = test
            .post(
                "/api/search",
                &acme.viewer,
                json!({"query": "valve", "document_ids": ids}),
            )
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    let r = test
        .post(
            "/api/search",
            &acme.viewer,
            json!({"query": "valve", "document_ids": [handbook], "sources": ["company"]}),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");

    // Every company's users read it; it shows as global.
    for token in [&acme.viewer, &globex.admin] {
        let list = test.get("/api/library/documents", token).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        assert_eq!(list.body["total"], 1, "{}", list.body);
        assert_eq!(list.body["items"][0]["scope"], "global");
        let one = test
            .get(&format!("/api/library/documents/{handbook}"), token)
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.body);
        assert_eq!(one.body["job"]["status"], "completed");
        let chunks = test
            .get(&format!("/api/library/documents/{handbook}/chunks"), token)
            .await;
        assert_eq!(chunks.status, StatusCode::OK, "{}", chunks.body);
        assert!(
            chunks.body["items"][0]["content"]
                .as_str()
                .unwrap()
                .contains("QX-7781")
        );
        // A company's document is not reachable through the library.
        let r = test
            .get(&format!("/api/library/documents/{tides}"), token)
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }

    // No company user writes it or reaches the admin routes; a company's routes do not see it.
    let admin_path = format!("/api/admin/library/documents/{handbook}");
    for token in [&acme.admin, &globex.viewer] {
        assert_error(
            &test.get("/api/admin/library/documents", token).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert_error(
            &test.delete(&admin_path, token).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        let r = test
            .patch(&admin_path, token, json!({"title": "mine"}))
            .await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
        let r = upload_parts_to(
            &test,
            "/api/admin/library/documents",
            token,
            &[("file", Some("x.txt"), b"x")],
        )
        .await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
        let r = test
            .delete(&format!("/api/library/documents/{handbook}"), token)
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.body);
        let r = test.get(&format!("/api/documents/{handbook}"), token).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    for token in [&acme.admin, &globex.admin] {
        let r = test
            .delete(&format!("/api/documents/{handbook}?permanent=true"), token)
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    // A super admin manages the library but reads no company's data, the library's reader
    // routes included.
    let r = test.get("/api/library/documents", &test.root_token).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = test.get(&admin_path, &test.root_token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["title"], Value::Null);

    // Conversations may select library documents and cite them; another company's document
    // still names nothing.
    let convo = test
        .post(
            "/api/conversations",
            &acme.analyst,
            json!({"title": "valves", "selected_document_ids": [handbook, tides]}),
        )
        .await;
    assert_eq!(convo.status, StatusCode::CREATED, "{}", convo.body);
    assert_eq!(
        convo.body["selected_document_ids"],
        json!([handbook, tides])
    );
    let r = test
        .post(
            "/api/conversations",
            &globex.analyst,
            json!({"selected_document_ids": [handbook, tides]}),
        )
        .await;
    assert_names_nothing(&r, "selected_document_ids[1]");
    let cid = convo.body["id"].as_str().unwrap();
    let cite = json!([{"id": handbook, "filename": "handbook.txt", "relevance_score": 0.9, "cited_text": "vent the line"}]);
    let msg = test
        .post(
            &format!("/api/conversations/{cid}/messages"),
            &acme.analyst,
            json!({"role": "user", "content": "How do I open a valve?", "sources": cite}),
        )
        .await;
    assert_eq!(msg.status, StatusCode::CREATED, "{}", msg.body);
    let history = test
        .get(&format!("/api/conversations/{cid}/messages"), &acme.analyst)
        .await;
    assert_eq!(
        history.body["items"][0]["sources"], cite,
        "{}",
        history.body
    );

    // A library-only vector search is metered to the searching company and user, never to
    // the library.
    let library_usage = library_rows(&test, "SELECT COUNT(*) FROM token_usage");
    search(
        &test,
        &globex.analyst,
        json!({"query": "pressure valve", "mode": "vector", "sources": ["library"]}),
    )
    .await;
    let mut metered = None;
    for _ in 0..400 {
        metered = embedding_group(&summary_of(&test, &globex.admin).await, &globex.analyst_id);
        if metered.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let metered = metered.expect("the search's embedding is in Globex's usage");
    assert!(
        metered["embedding_tokens"].as_i64().unwrap() > 0,
        "{metered}"
    );
    assert_eq!(metered["requests"], 1, "{metered}");
    assert_eq!(
        library_rows(&test, "SELECT COUNT(*) FROM token_usage"),
        library_usage
    );
    assert!(embedding_group(&summary_of(&test, &acme.admin).await, &globex.analyst_id).is_none());

    // The addition is audited, with the super admin as its actor.
    let conn = test.app.primary.get().unwrap();
    let audited: Vec<(String, String)> = conn
        .prepare(
            "SELECT a.target, u.email FROM audit_log a JOIN users u ON u.id = a.actor_id
                   WHERE a.action = 'library.document.add'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(audited, [(handbook.clone(), ROOT_EMAIL.to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_librarian_changes_deletes_restores_and_purges() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Acme").await;
    let handbook = add_to_library(&test, "handbook.txt", HANDBOOK).await;
    let root = test.root_token.clone();
    let path = format!("/api/admin/library/documents/{handbook}");

    let r = test
        .patch(
            &path,
            &root,
            json!({"title": "Valve handbook", "tags": ["safety"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["title"].as_str(), r.body["scope"].as_str()),
        (Some("Valve handbook"), Some("global"))
    );
    // A library document's scope is fixed, in a change and in an upload.
    assert_invalid(
        &test.patch(&path, &root, json!({"scope": "user"})).await,
        "scope",
    );
    let r = upload_parts_to(
        &test,
        "/api/admin/library/documents",
        &root,
        &[
            ("file", Some("a.txt"), b"text"),
            ("scope", None, b"company"),
        ],
    )
    .await;
    assert_invalid(&r, "scope");
    assert_invalid(
        &upload_parts_to(
            &test,
            "/api/admin/library/documents",
            &root,
            &[("title", None, b"t")],
        )
        .await,
        "file",
    );
    let r = upload_parts_to(
        &test,
        "/api/admin/library/documents",
        &root,
        &[("file", Some("a.exe"), b"MZ")],
    )
    .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_error(
        &test
            .get(&format!("/api/admin/library/documents/{MISSING}"), &root)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // An id that is not one names nothing, as everywhere in the API.
    assert_error(
        &test
            .get("/api/admin/library/documents/not-an-id", &root)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    async fn found(test: &TestApp, token: &str) -> bool {
        let hits = search(
            test,
            token,
            json!({"query": "Zorvex QX-7781", "mode": "hybrid"}),
        )
        .await;
        hits.iter().any(|(t, _)| t == "Valve handbook")
    }
    assert!(found(&test, &acme.viewer).await);

    // To the trash: gone for every company at once, listed in the library's trash.
    assert_eq!(
        test.delete(&path, &root).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(!found(&test, &acme.viewer).await);
    assert_error(
        &test
            .get(&format!("/api/library/documents/{handbook}"), &acme.viewer)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        test.get("/api/library/documents", &acme.viewer).await.body["total"],
        0
    );
    let trash = test.get("/api/admin/library/trash", &root).await;
    assert_eq!(trash.status, StatusCode::OK, "{}", trash.body);
    assert_eq!(
        trash.body["items"][0]["id"],
        handbook.as_str(),
        "{}",
        trash.body
    );
    // A company's trash does not hold it, nor can a company restore it.
    assert_eq!(test.get("/api/trash", &acme.admin).await.body["total"], 0);
    let r = test
        .post(
            &format!("/api/documents/{handbook}/restore"),
            &acme.admin,
            json!({}),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");

    // Restored: searchable again. Purged: rows, chunks and the stored file gone.
    let restore = format!("{path}/restore");
    assert_eq!(
        test.post(&restore, &root, json!({})).await.status,
        StatusCode::NO_CONTENT
    );
    assert!(found(&test, &acme.viewer).await);
    assert_error(
        &test.post(&restore, &root, json!({})).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let files = || {
        std::fs::read_dir(test.data_dir().join("library/uploads"))
            .unwrap()
            .count()
    };
    assert_eq!(files(), 1);
    assert_eq!(
        test.delete(&format!("{path}?permanent=true"), &root)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert!(!found(&test, &acme.viewer).await);
    assert_eq!(files(), 0);
    assert_eq!(library_rows(&test, "SELECT COUNT(*) FROM documents"), 0);
    assert_eq!(
        library_rows(&test, "SELECT COUNT(*) FROM document_chunks"),
        0
    );
    assert_error(
        &test.post(&restore, &root, json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &test.delete(&path, &root).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silo_library_adds_lists_and_deletes_from_the_command_line() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Acme").await;
    let file = test.dir.path().join("handbook.txt");
    std::fs::write(&file, HANDBOOK).unwrap();
    let silo = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_silo"))
            .args(args)
            .env("SILO_DATA_DIR", test.data_dir())
            .env("SILO_EMBEDDER", "lexical")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let out = silo(&[
        "library",
        "add",
        file.to_str().unwrap(),
        "--title",
        "Handbook",
        "--tags",
        "safety,valves",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added[0]["status"], "completed", "{added}");
    assert_eq!(added[0]["scope"], "global");
    assert_eq!(added[0]["tags"], json!(["safety", "valves"]));
    let id = added[0]["id"].as_str().unwrap().to_string();

    // The server finds what the command added (its index was saved by the command).
    let hits = search(
        &test,
        &acme.viewer,
        json!({"query": "QX-7781 valve", "mode": "vector"}),
    )
    .await;
    assert_eq!(
        hits.first(),
        Some(&("Handbook".to_string(), "library".to_string())),
        "{hits:?}"
    );
    let listed: Value =
        serde_json::from_slice(&silo(&["library", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // Clear errors: a title for several files, a missing file, an unknown uploader.
    for (args, says) in [
        (
            vec!["library", "add", "a.txt", "b.txt", "--title", "T"],
            "--title names one file",
        ),
        (
            vec!["library", "add", "a.txt", "--tags", "ok,\u{7}bell"],
            "--tags",
        ),
        (
            vec!["library", "add", "/nonexistent/x.txt"],
            "reading /nonexistent/x.txt",
        ),
        (
            vec![
                "library",
                "add",
                file.to_str().unwrap(),
                "--as",
                "nobody@silo.test",
            ],
            "no active super admin",
        ),
    ] {
        let out = silo(&args);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
    }

    // `silo backup` copies the library beside primary.db.
    let out = silo(&["backup", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = report["entries"].as_array().unwrap();
    let copy = entries
        .iter()
        .find(|e| e["id"] == "library")
        .expect("a library entry");
    let copy = rusqlite::Connection::open(copy["file"].as_str().unwrap()).unwrap();
    let n: i64 = copy
        .query_row("SELECT COUNT(*) FROM documents", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);

    let out = silo(&["library", "delete", &id, "--permanent"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Value =
        serde_json::from_slice(&silo(&["library", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_role_without_documents_read_selects_nothing_from_the_library() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Acme").await;
    let handbook = add_to_library(&test, "handbook.txt", HANDBOOK).await;
    // Analysts keep chat:use but lose documents:read.
    let r = test
        .put(
            "/api/admin/roles/analyst/permissions",
            &test.root_token,
            json!({"permissions": ["chat:use", "reports:read"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = test
        .post(
            "/api/conversations",
            &acme.analyst,
            json!({"selected_document_ids": [handbook]}),
        )
        .await;
    assert_names_nothing(&r, "selected_document_ids[0]");
    let r = test.get("/api/library/documents", &acme.analyst).await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = test
        .post("/api/search", &acme.analyst, json!({"query": "valve"}))
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden");
}

/// The library joins a company's search without changing it: with documents that leave the
/// library out, the company's results and scores are exactly those of a search without a
/// library; a library closed for maintenance is left out of a default search, and named, it
/// is a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrelated_or_closed_library_changes_no_company_search() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Acme").await;
    let mut ids = vec![ingest_tides(&test, &acme.admin).await];
    for i in 0..6 {
        let text = format!("Weekly report {i}: the warehouse counted stock and filed the report.");
        let (id, job) = ingest(
            &test,
            &acme.admin,
            &format!("r{i}.txt"),
            text.as_bytes(),
            "company",
        )
        .await;
        assert_eq!(job["status"], "completed");
        ids.push(id);
    }
    // "report" is in more chunks than a k = 1 hybrid list is deep: not a query of rare words.
    let body = json!({"query": "report moon", "k": 1, "mode": "hybrid", "document_ids": ids});
    let before = test.post("/api/search", &acme.viewer, body.clone()).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    add_to_library(&test, "handbook.txt", HANDBOOK).await;
    let after = test.post("/api/search", &acme.viewer, body.clone()).await;
    assert_eq!(after.body, before.body);

    // Closed for maintenance: a default search goes on without it; naming it is a 503.
    let closed = test
        .app
        .registry
        .close(
            silo::tenant::library::LIBRARY_ID,
            "the library is being restored",
            std::time::Duration::from_secs(5),
        )
        .await
        .unwrap();
    let plain = json!({"query": "moon tides", "mode": "vector"});
    let r = test.post("/api/search", &acme.viewer, plain).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["results"][0]["document_title"], "tides.txt");
    let r = test
        .post(
            "/api/search",
            &acme.viewer,
            json!({"query": "valve", "sources": ["library"]}),
        )
        .await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    drop(closed);
    let r = test
        .post(
            "/api/search",
            &acme.viewer,
            json!({"query": "Zorvex QX-7781", "sources": ["library"]}),
        )
        .await;
    assert_eq!(r.body["results"][0]["source"], "library", "{}", r.body);
}
