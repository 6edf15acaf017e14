//! The trash through the real router: a deleted document vanishes from lists, gets, every
//! search mode and conversation-scoped search at once; only its owner or a company admin
//! restores it (another company's admin gets 404), searchable again at once; a permanent
//! delete and the retention sweep purge rows, chunks, files and index entries, never
//! usage rows.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn search_titles(test: &TestApp, token: &str, body: Value) -> Vec<String> {
    let reply = test.post("/api/search", token, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    titles(&reply.body)
}

/// Whether tides.txt is found by `token` in each mode, and in a search limited to it.
async fn tides_found(test: &TestApp, token: &str, tides: &str) -> Vec<bool> {
    let mut found = Vec::new();
    for mode in ["keyword", "vector", "hybrid"] {
        let titles = search_titles(
            test,
            token,
            json!({"query": "moon gravity tides", "mode": mode, "k": 10}),
        )
        .await;
        found.push(titles.contains(&"tides.txt".to_string()));
    }
    // Limited to it: found, or (in the trash) no such document.
    let scoped = test
        .post(
            "/api/search",
            token,
            json!({"query": "moon tides", "document_ids": [tides]}),
        )
        .await;
    match scoped.status {
        StatusCode::OK => found.push(!titles(&scoped.body).is_empty()),
        _ => {
            assert_error(&scoped, StatusCode::NOT_FOUND, "not_found");
            found.push(false);
        }
    }
    found
}

fn chunk_rows(test: &TestApp, key: i64) -> (i64, i64) {
    let db = test.data_dir().join(
        silo::store::primary::companies::get(&test.app.primary.get().unwrap(), key)
            .unwrap()
            .unwrap()
            .db_path,
    );
    let conn = rusqlite::Connection::open(db).unwrap();
    let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    (
        q("SELECT COUNT(*) FROM document_chunks"),
        q("SELECT COUNT(*) FROM token_usage"),
    )
}

fn stored_files(test: &TestApp, slug: &str) -> usize {
    std::fs::read_dir(test.data_dir().join("companies").join(slug).join("uploads"))
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trashed_document_vanishes_at_once_and_comes_back_on_restore() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Acme").await;
    let other = company(&test, "Globex").await;
    let (tides, _) = ingest_tides_and_revenue(&test, &c.admin).await;
    let everywhere = vec![true; 4];
    assert_eq!(tides_found(&test, &c.admin, &tides).await, everywhere);
    assert_eq!(tides_found(&test, &c.viewer, &tides).await, everywhere);
    let (chunks_before, usage_before) = chunk_rows(&test, c.key);

    let path = format!("/api/documents/{tides}");
    // Analysts and viewers may not delete (documents:delete); another company sees nothing.
    assert_error(
        &test.delete(&path, &c.analyst).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &test.delete(&path, &other.admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        test.delete(&path, &c.admin).await.status,
        StatusCode::NO_CONTENT
    );

    // Gone at once from get, list, chunks and every search, for an admin (no document
    // filter) and a viewer alike.
    for token in [&c.admin, &c.viewer] {
        assert_error(
            &test.get(&path, token).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        assert_error(
            &test.get(&format!("{path}/chunks"), token).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
        let list = test.get("/api/documents", token).await;
        assert_eq!(list.body["total"], 1, "{}", list.body);
        assert_eq!(tides_found(&test, token, &tides).await, vec![false; 4]);
    }
    // A conversation cannot select it any more.
    let reply = test
        .post(
            "/api/conversations",
            &c.analyst,
            json!({"selected_document_ids": [tides]}),
        )
        .await;
    assert_error(&reply, StatusCode::NOT_FOUND, "not_found");
    // Its rows and file are kept while it is in the trash.
    assert_eq!(chunk_rows(&test, c.key).0, chunks_before);
    assert_eq!(stored_files(&test, "acme"), 2);

    // The trash lists it for the admin, with when it goes; not for others.
    let trash = test.get("/api/trash", &c.admin).await;
    assert_eq!(trash.status, StatusCode::OK, "{}", trash.body);
    assert_eq!(trash.body["total"], 1, "{}", trash.body);
    let item = &trash.body["items"][0];
    assert_eq!(
        (item["kind"].as_str(), item["id"].as_str()),
        (Some("document"), Some(tides.as_str()))
    );
    assert_eq!(item["title"], "tides.txt");
    let deleted =
        chrono::DateTime::parse_from_rfc3339(item["deleted_at"].as_str().unwrap()).unwrap();
    let purge = chrono::DateTime::parse_from_rfc3339(item["purge_at"].as_str().unwrap()).unwrap();
    assert_eq!((purge - deleted).num_days(), 30);
    for token in [&c.viewer, &other.admin] {
        assert_eq!(test.get("/api/trash", token).await.body["total"], 0);
    }

    // Only its owner or a company admin restores it; another company gets 404.
    let restore = format!("{path}/restore");
    let post = |token: &String| {
        let token = token.clone();
        let (test, restore) = (&test, restore.clone());
        async move {
            test.call(axum::http::Method::POST, &restore, Some(&token), None)
                .await
        }
    };
    assert_error(&post(&c.viewer).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &post(&other.admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(post(&c.admin).await.status, StatusCode::NO_CONTENT);
    // Live again: restoring it is a conflict, not a missing item.
    assert_error(&post(&c.admin).await, StatusCode::CONFLICT, "conflict");
    for token in [&c.admin, &c.viewer] {
        assert_eq!(test.get(&path, token).await.status, StatusCode::OK);
        assert_eq!(tides_found(&test, token, &tides).await, everywhere);
    }

    // Trashed again and purged from the trash: rows, chunks, file and index entries go;
    // usage rows stay.
    assert_eq!(
        test.delete(&path, &c.admin).await.status,
        StatusCode::NO_CONTENT
    );
    let permanent = format!("{path}?permanent=true");
    assert_error(
        &test.delete(&permanent, &c.viewer).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        test.delete(&permanent, &c.admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_error(&post(&c.admin).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(test.get("/api/trash", &c.admin).await.body["total"], 0);
    let (chunks_after, usage_after) = chunk_rows(&test, c.key);
    assert!(
        chunks_after < chunks_before,
        "{chunks_after} of {chunks_before}"
    );
    assert!(usage_after >= usage_before, "usage rows are never purged");
    assert_eq!(stored_files(&test, "acme"), 1);
    assert_index_holds(&test, c.key, chunks_after as usize).await;
    assert_eq!(tides_found(&test, &c.admin, &tides).await, vec![false; 4]);
}

/// The company's index, compacted and saved, then read back from disk, holds `chunks`
/// vectors and no tombstone.
async fn assert_index_holds(test: &TestApp, key: i64, chunks: usize) {
    save_index(test, key).await;
    let db = test.app.registry.get(key).await.unwrap();
    let dir = db.dir().join("vectors");
    let home = db.clone();
    tokio::task::spawn_blocking(move || {
        let conn = silo::index::lifecycle::Home::connect(&*home).unwrap();
        let index = home.loaded_index().unwrap();
        index.compact(&conn).unwrap();
        index.dump_if_dirty().unwrap();
        let reread = silo::index::VectorIndex::open_or_rebuild(
            &dir,
            &conn,
            index.embedder_id(),
            index.dimensions(),
        )
        .unwrap();
        assert_eq!(
            reread.open_report().source,
            silo::index::OpenSource::Loaded,
            "read from disk"
        );
        assert_eq!((reread.len(), reread.tombstone_count()), (chunks, 0));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_purges_what_outlived_the_retention() {
    let test =
        TestApp::spawn_with(|o| o.workspace.trash_retention = Duration::from_millis(500)).await;
    let c = company(&test, "Acme").await;
    let (tides, revenue) = ingest_tides_and_revenue(&test, &c.admin).await;
    let conv = test
        .post("/api/conversations", &c.analyst, json!({"title": "Q"}))
        .await;
    let conv = conv.body["id"].as_str().unwrap().to_string();
    let msg = test
        .post(
            &format!("/api/conversations/{conv}/messages"),
            &c.analyst,
            json!({"content": "hi"}),
        )
        .await;
    assert_eq!(msg.status, StatusCode::CREATED, "{}", msg.body);
    let report = test
        .post(
            "/api/reports",
            &c.analyst,
            json!({"title": "R", "report_type": "summary", "report_data": {}}),
        )
        .await;
    assert_eq!(report.status, StatusCode::CREATED, "{}", report.body);
    let report = report.body["id"].as_str().unwrap().to_string();
    let (chunks_before, usage_before) = chunk_rows(&test, c.key);

    for (path, token) in [
        (format!("/api/documents/{tides}"), &c.admin),
        (format!("/api/conversations/{conv}"), &c.analyst),
        (format!("/api/reports/{report}"), &c.analyst),
    ] {
        assert_eq!(
            test.delete(&path, token).await.status,
            StatusCode::NO_CONTENT,
            "{path}"
        );
    }
    assert_eq!(test.get("/api/trash", &c.analyst).await.body["total"], 2);
    let sweep = silo::service::trash::spawn_sweep(test.app.clone(), Duration::from_millis(200));
    let mut left = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = json!([
            test.get("/api/trash", &c.admin).await.body["total"],
            test.get("/api/trash", &c.analyst).await.body["total"]
        ]);
        if left == json!([0, 0]) {
            break;
        }
    }
    sweep.abort();
    assert_eq!(left, json!([0, 0]), "the sweep purged everything due");
    let (chunks_after, usage_after) = chunk_rows(&test, c.key);
    assert!(chunks_after < chunks_before);
    assert!(usage_after >= usage_before, "usage rows are never purged");
    assert_eq!(stored_files(&test, "acme"), 1);
    let rows = in_company(&test, c.key, |conn| {
        let q = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        Ok((
            q("SELECT COUNT(*) FROM conversations")?,
            q("SELECT COUNT(*) FROM messages")?,
            q("SELECT COUNT(*) FROM saved_reports")?,
        ))
    })
    .await;
    assert_eq!(rows, (0, 0, 0));
    // What was not deleted is untouched.
    let kept = test
        .get(&format!("/api/documents/{revenue}"), &c.viewer)
        .await;
    assert_eq!(kept.status, StatusCode::OK);
}

/// Another user of the same company cannot restore (nor see in the trash) a conversation
/// or a report that is not theirs; the owner can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_restores_a_conversation_or_a_report() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Acme").await;
    let conv = test
        .post("/api/conversations", &c.analyst, json!({"title": "Q"}))
        .await;
    let conv = conv.body["id"].as_str().unwrap().to_string();
    let report = test
        .post(
            "/api/reports",
            &c.analyst,
            json!({"title": "R", "report_type": "summary", "report_data": {}}),
        )
        .await;
    let report = report.body["id"].as_str().unwrap().to_string();
    for path in [
        format!("/api/conversations/{conv}"),
        format!("/api/reports/{report}"),
    ] {
        assert_eq!(
            test.delete(&path, &c.analyst).await.status,
            StatusCode::NO_CONTENT
        );
        let restore = format!("{path}/restore");
        let post = axum::http::Method::POST;
        let other = test
            .call(post.clone(), &restore, Some(&c.analyst2), None)
            .await;
        assert_error(&other, StatusCode::NOT_FOUND, "not_found");
        let owner = test
            .call(post.clone(), &restore, Some(&c.analyst), None)
            .await;
        assert_eq!(owner.status, StatusCode::NO_CONTENT, "{path}");
        // Restored (live): a second restore is a conflict for its owner. Another user gets
        // what a DELETE would give them: a conversation is not theirs to see (404), a
        // report they see is not theirs to change (403).
        let again = test
            .call(post.clone(), &restore, Some(&c.analyst), None)
            .await;
        assert_error(&again, StatusCode::CONFLICT, "conflict");
        let other = test.call(post, &restore, Some(&c.analyst2), None).await;
        if path.starts_with("/api/conversations") {
            assert_error(&other, StatusCode::NOT_FOUND, "not_found");
        } else {
            assert_error(&other, StatusCode::FORBIDDEN, "forbidden");
        }
        assert_eq!(
            test.get(&path, &c.analyst).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    assert_eq!(test.get("/api/trash", &c.analyst2).await.body["total"], 0);
    // A bad page is refused like any listing's.
    let bad = test.get("/api/trash?limit=0", &c.analyst).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
}
