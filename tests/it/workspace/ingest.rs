//! Upload → job → chunks for every supported format; failures; restart recovery.

use crate::common::files::{docx, pdf};
use axum::http::StatusCode;
use serde_json::Value;

use super::helpers::*;
use crate::common::TestApp;

async fn chunks(test: &TestApp, token: &str, doc: &str) -> Vec<Value> {
    let reply = test
        .get(&format!("/api/documents/{doc}/chunks?limit=200"), token)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

fn texts(chunks: &[Value]) -> String {
    chunks
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n--\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_supported_format_is_extracted_chunked_and_stored() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Formats").await;
    let t = &c.analyst;

    // Plain text long enough for several overlapping chunks.
    let sentence = "The Pune plant used 1200 kWh of solar power in March. ";
    let long = sentence.repeat(50);
    let (doc, job) = ingest(&test, t, "notes.txt", long.as_bytes(), "user").await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["progress"], 1.0);
    let cs = chunks(&test, t, &doc).await;
    assert!(cs.len() >= 3, "{}", cs.len());
    assert_eq!(job["total_items"], cs.len());
    assert_eq!(job["processed_items"], cs.len());
    for (i, ch) in cs.iter().enumerate() {
        assert_eq!(ch["chunk_index"], i);
        assert!(ch["page_number"].is_null());
        let n = ch["content"].as_str().unwrap().chars().count();
        assert!(n <= 1000 && n > 300, "chunk {i} has {n} chars");
        assert!(ch["content"].as_str().unwrap().ends_with('.'));
    }
    let d = test.get(&format!("/api/documents/{doc}"), t).await;
    assert_eq!(d.body["status"], "completed");
    assert_eq!(d.body["num_chunks"], cs.len());
    assert!(d.body["num_tokens"].as_i64().unwrap() > 600);
    assert_eq!(d.body["file_type"], "txt");
    assert_eq!(d.body["mime_type"], "text/plain");
    assert_eq!(d.body["file_size"], long.len());
    assert_eq!(d.body["job"]["id"], job["id"]);
    assert!(d.body["processed_at"].is_string());

    let (doc, _) = ingest(
        &test,
        t,
        "readme.md",
        b"# Energy plan\n\nSwitch the roof to solar by 2030.",
        "user",
    )
    .await;
    assert_eq!(
        texts(&chunks(&test, t, &doc).await),
        "# Energy plan\n\nSwitch the roof to solar by 2030."
    );

    let html = b"<html><head><title>x</title><style>p{color:red}</style><script>var secret=1;</script></head>\
        <body><h1>Quarterly report</h1><p>Solar &amp; wind covered 40% of demand.</p></body></html>";
    let (doc, _) = ingest(&test, t, "report.html", html, "user").await;
    let text = texts(&chunks(&test, t, &doc).await);
    assert!(
        text.contains("Quarterly report") && text.contains("Solar & wind covered 40% of demand."),
        "{text}"
    );
    assert!(
        !text.contains("secret") && !text.contains("color:red"),
        "{text}"
    );

    let (doc, _) = ingest(
        &test,
        t,
        "sites.csv",
        b"site,kwh\nPune,120\nDelhi,\"1,300\"\n",
        "user",
    )
    .await;
    assert_eq!(
        texts(&chunks(&test, t, &doc).await),
        "site: Pune; kwh: 120\n\nsite: Delhi; kwh: 1,300"
    );

    let (doc, _) = ingest(
        &test,
        t,
        "data.json",
        br#"{"site": {"name": "Pune", "kwh": [120, 130]}}"#,
        "user",
    )
    .await;
    let text = texts(&chunks(&test, t, &doc).await);
    assert!(
        text.contains("site.name: Pune") && text.contains("site.kwh[1]: 130"),
        "{text}"
    );

    let (doc, job) = ingest(
        &test,
        t,
        "deck.pdf",
        &pdf(&["Solar output page one", "Wind output page two"]),
        "user",
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    let cs = chunks(&test, t, &doc).await;
    assert_eq!(cs.len(), 2, "{cs:?}");
    assert_eq!(cs[0]["page_number"], 1);
    assert!(
        cs[0]["content"]
            .as_str()
            .unwrap()
            .contains("Solar output page one")
    );
    assert_eq!(cs[1]["page_number"], 2);
    assert!(
        cs[1]["content"]
            .as_str()
            .unwrap()
            .contains("Wind output page two")
    );

    let (doc, _) = ingest(
        &test,
        t,
        "memo.docx",
        &docx(&["Board memo", "Budget &amp; targets approved."]),
        "user",
    )
    .await;
    assert_eq!(
        texts(&chunks(&test, t, &doc).await),
        "Board memo\n\nBudget & targets approved."
    );

    // The chunks are searchable by keyword (FTS rows written with them).
    let hits = in_company(&test, c.key, |conn| {
        Ok(conn.query_row(
            "SELECT COUNT(*) FROM document_chunks_fts WHERE document_chunks_fts MATCH 'quarterly'",
            [],
            |r| r.get::<_, i64>(0),
        )?)
    })
    .await;
    assert_eq!(hits, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparseable_file_fails_its_job_with_a_reason_and_leaves_no_chunks() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Broken").await;
    let t = &c.analyst;
    let mut broken = pdf(&["hello"]);
    broken.truncate(broken.len() / 3);
    let (doc, job) = ingest(&test, t, "broken.pdf", &broken, "user").await;
    assert_eq!(job["status"], "failed", "{job}");
    let reason = job["error"].as_str().unwrap();
    assert!(reason.contains("could not be parsed as pdf"), "{reason}");
    assert!(job["completed_at"].is_string());
    let d = test.get(&format!("/api/documents/{doc}"), t).await.body;
    assert_eq!(d["status"], "failed");
    assert_eq!(d["error"], reason);
    assert_eq!(d["num_chunks"], 0);
    let chunks = test
        .get(&format!("/api/documents/{doc}/chunks"), t)
        .await
        .body;
    assert_eq!(chunks["total"], 0);
    let (doc, job) = ingest(
        &test,
        t,
        "garbage.pdf",
        b"%PDF-1.7\n this is not a pdf at all",
        "user",
    )
    .await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(
        test.get(&format!("/api/documents/{doc}/chunks"), t)
            .await
            .body["total"],
        0
    );
    let (_, job) = ingest(&test, t, "bad.json", b"{\"a\": ", "user").await;
    assert_eq!(job["status"], "failed");
    assert!(job["error"].as_str().unwrap().contains("json"), "{job}");
    let (_, job) = ingest(&test, t, "blank.txt", b"   \n\n  ", "user").await;
    assert_eq!(job["error"], "the file contains no extractable text");
    // The worker survived: a good file still goes through.
    let (_, job) = ingest(&test, t, "ok.txt", b"still working", "user").await;
    assert_eq!(job["status"], "completed");
    // Counters move just after the job row commits: wait for the worker to go idle.
    for _ in 0..200 {
        if test.app.ingest.is_idle() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let stats = test.app.ingest.stats();
    use std::sync::atomic::Ordering::Relaxed;
    assert_eq!(
        (stats.completed.load(Relaxed), stats.failed.load(Relaxed)),
        (1, 4)
    );
    let metrics = silo::http::metrics::render(&test.app, 0);
    assert!(
        metrics.contains("silo_ingest_jobs_total{status=\"failed\"} 4"),
        "{metrics}"
    );
}

/// Puts a completed document's job back to `processing` as a crashed process would have
/// left it (started long ago, chunks not yet written), with `attempts` runs so far.
async fn simulate_crash(test: &TestApp, key: i64, doc: &str, attempts: i64) {
    let doc = doc.to_string();
    in_company(test, key, move |conn| {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        conn.execute("DELETE FROM document_chunks WHERE document_id = (SELECT id FROM documents WHERE uuid = ?1)", [&doc])?;
        conn.execute(
            "UPDATE documents SET status = 'processing', num_chunks = 0 WHERE uuid = ?1",
            [&doc],
        )?;
        conn.execute(
            "UPDATE processing_jobs SET status = 'processing', progress = 0.0, processed_items = 0,
                 started_at = '2000-01-01T00:00:00.000Z', completed_at = NULL, attempts = ?2
             WHERE document_id = (SELECT id FROM documents WHERE uuid = ?1)",
            rusqlite::params![doc, attempts],
        )?;
        conn.execute_batch("COMMIT")?;
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_left_processing_by_a_crash_are_resumed_or_failed_at_start() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Restart").await;
    let other = company(&test, "Restart Two").await;
    let t = &c.analyst;
    let (resumed, _) = ingest(
        &test,
        t,
        "a.txt",
        "Solar panels on every roof. ".repeat(80).as_bytes(),
        "user",
    )
    .await;
    let (given_up, _) = ingest(&test, t, "b.txt", b"Wind turbines.", "user").await;
    let (elsewhere, _) = ingest(&test, &other.analyst, "c.txt", b"Hydro power.", "user").await;
    simulate_crash(&test, c.key, &resumed, 1).await;
    simulate_crash(&test, c.key, &given_up, 3).await;
    simulate_crash(&test, other.key, &elsewhere, 1).await;
    assert_eq!(
        test.get(&format!("/api/documents/{resumed}"), t).await.body["status"],
        "processing"
    );

    // What `silo serve` does at start: a background sweep over every company.
    let report = test
        .app
        .ingest
        .start_recovery(test.app.primary.clone())
        .await
        .unwrap();
    assert_eq!(report.requeued, 2, "{report:?}");
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(report.errors, 0);

    let job = test.get(&format!("/api/documents/{resumed}"), t).await.body["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let job = wait_job(&test, t, &job).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["attempts"], 2);
    let d = test.get(&format!("/api/documents/{resumed}"), t).await.body;
    assert_eq!(d["status"], "completed");
    // Resumed from scratch: each chunk exactly once.
    let n = test
        .get(&format!("/api/documents/{resumed}/chunks"), t)
        .await
        .body["total"]
        .as_u64()
        .unwrap();
    assert_eq!(d["num_chunks"].as_u64().unwrap(), n);
    assert!(n >= 2);

    let d = test
        .get(&format!("/api/documents/{given_up}"), t)
        .await
        .body;
    assert_eq!(d["status"], "failed");
    assert_eq!(d["job"]["status"], "failed");
    assert!(
        d["job"]["error"]
            .as_str()
            .unwrap()
            .contains("interrupted 3 times"),
        "{d}"
    );

    let d = test
        .get(&format!("/api/documents/{elsewhere}"), &other.analyst)
        .await
        .body;
    let job = wait_job(&test, &other.analyst, d["job"]["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_document_removes_its_chunks_index_rows_jobs_and_file() {
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
        .delete(&format!("/api/documents/{doc}"), &c.admin)
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
    assert_error(
        &test
            .delete(&format!("/api/documents/{doc}"), &c.admin)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}
