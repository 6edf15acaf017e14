//! Background processing of uploads: upload → job → chunks for every supported format,
//! failures, restart recovery; and the ingestion worker on its own (no HTTP): embeddings,
//! failures and time limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use silo::app::{App, AppOptions};
use silo::embed::EmbedError;
use silo::embed::Embedder;
use silo::ingest::worker::*;
use silo::store::company::documents;
use silo::store::company::jobs;
use silo::tenant::provision::{self, NewCompany};
use silo::tenant::{TenantCtx, TenantError, context};

use crate::helpers::files::{docx, pdf};
use crate::helpers::{TestApp, company, in_company, ingest, wait_job};

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

/// A deterministic embedder for tests: `dims` values derived from the text; `broken`
/// makes it misbehave in the given way.
struct FakeEmbedder {
    dims: usize,
    broken: Option<&'static str>,
    calls: AtomicUsize,
}

impl Embedder for FakeEmbedder {
    fn id(&self) -> &str {
        "fake-v1"
    }
    fn dimensions(&self) -> usize {
        self.dims
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.broken {
            Some("error") => return Err(EmbedError::Unavailable("model not loaded".into())),
            Some("panic") => panic!("embedder bug"),
            Some("dims") => {
                return Ok(texts.iter().map(|_| vec![0.5; self.dims + 1]).collect());
            }
            // Far slower than the test's job time limit (a stuck parser).
            Some("slow") => std::thread::sleep(Duration::from_millis(300)),
            _ => {}
        }
        Ok(texts
            .iter()
            .map(|t| {
                (0..self.dims)
                    .map(|i| (t.len() + i) as f32 / 1000.0)
                    .collect()
            })
            .collect())
    }
}

/// Runs one text document through a worker with `embedder`; returns the document and
/// its chunks' embeddings.
async fn run_with(
    embedder: Arc<FakeEmbedder>,
) -> (documents::Document, jobs::Job, Vec<Option<Vec<u8>>>) {
    run_with_timeout(embedder, DEFAULT_JOB_TIMEOUT, Duration::ZERO).await
}

/// `settle`: how long to wait after the worker is idle before reading the results (so a
/// job's abandoned thread has finished too).
async fn run_with_timeout(
    embedder: Arc<FakeEmbedder>,
    timeout: Duration,
    settle: Duration,
) -> (documents::Document, jobs::Job, Vec<Option<Vec<u8>>>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data");
    let app = tokio::task::spawn_blocking(move || App::open(&path, AppOptions::default()).unwrap())
        .await
        .unwrap();
    let company = provision::create_company(
        &app.primary,
        &app.data_dir,
        &NewCompany {
            name: "Embed Co".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let db = app.registry.get(company.id).await.unwrap();
    let text = "Solar panels on the roof produce power. ".repeat(500);
    std::fs::write(db.dir().join("uploads/doc.txt"), &text).unwrap();
    let ctx = TenantCtx::new(db, None);
    context::scope(
        ctx.clone(),
        context::run(move |c| {
            let doc = documents::insert(
                c,
                &documents::NewDocument {
                    uuid: "doc".into(),
                    filename: "doc.txt".into(),
                    file_path: "uploads/doc.txt".into(),
                    file_type: "txt".into(),
                    mime_type: "text/plain".into(),
                    file_size: text.len() as i64,
                    sha256: "0".repeat(64),
                    title: None,
                    description: None,
                    category: None,
                    tags: vec![],
                    scope: "user".into(),
                    uploaded_by: "u".into(),
                },
            )?;
            jobs::insert(c, "job", jobs::DOCUMENT_PROCESSING, Some(doc), None, None)?;
            Ok::<_, TenantError>(())
        }),
    )
    .await
    .unwrap();
    let options = WorkerOptions {
        concurrency: 2,
        job_timeout: timeout,
        ..WorkerOptions::default()
    };
    let worker = IngestWorker::new(app.registry.clone(), Some(embedder), options);
    worker.notify(company.id);
    for _ in 0..3000 {
        if worker.is_idle() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(worker.is_idle(), "the worker did not finish");
    tokio::time::sleep(settle).await;
    context::scope(
        ctx,
        context::run(|c| {
            let doc = documents::get(c, 1)?.unwrap();
            let job = jobs::get(c, 1)?.unwrap();
            let mismatched: i64 = c.query_row(
                "SELECT COUNT(*) FROM document_chunks
                 WHERE embedding IS NOT NULL AND embedding_model IS NOT 'fake-v1'",
                [],
                |r| r.get(0),
            )?;
            assert_eq!(mismatched, 0, "every vector records its embedder");
            let blobs = c
                .prepare("SELECT embedding FROM document_chunks ORDER BY chunk_index")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<Option<Vec<u8>>>, _>>()?;
            Ok::<_, TenantError>((doc, job, blobs))
        }),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_are_stored_with_the_chunks_in_batches() {
    let embedder = Arc::new(FakeEmbedder {
        dims: 8,
        broken: None,
        calls: AtomicUsize::new(0),
    });
    let (doc, job, blobs) = run_with(embedder.clone()).await;
    assert_eq!(job.status, "completed", "{:?}", job.error);
    assert_eq!(doc.status, "completed");
    assert!(
        blobs.len() > silo::ingest::pipeline::EMBED_BATCH,
        "{} chunks",
        blobs.len()
    );
    assert_eq!(doc.num_chunks as usize, blobs.len());
    // Batches of EMBED_BATCH, not one call per chunk.
    assert_eq!(
        embedder.calls.load(Ordering::SeqCst),
        blobs.len().div_ceil(silo::ingest::pipeline::EMBED_BATCH)
    );
    for blob in &blobs {
        let v = silo::store::company::embeddings::decode_embedding(
            blob.as_deref().expect("every chunk embedded"),
            8,
        )
        .expect("8 values");
        assert_eq!(v.len(), 8);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_embedder_fails_the_job_without_chunks() {
    for broken in ["error", "panic", "dims"] {
        let embedder = Arc::new(FakeEmbedder {
            dims: 8,
            broken: Some(broken),
            calls: AtomicUsize::new(0),
        });
        let (doc, job, blobs) = run_with(embedder).await;
        assert_eq!(job.status, "failed", "{broken}");
        assert_eq!(doc.status, "failed", "{broken}");
        assert!(
            job.error.as_deref().is_some_and(|e| !e.is_empty()),
            "{broken}"
        );
        assert!(blobs.is_empty(), "{broken}: partial chunks left");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_time_limit_fails_and_its_late_result_is_discarded() {
    let embedder = Arc::new(FakeEmbedder {
        dims: 8,
        broken: Some("slow"),
        calls: AtomicUsize::new(0),
    });
    let (doc, job, blobs) = run_with_timeout(
        embedder.clone(),
        Duration::from_millis(100),
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(job.status, "failed");
    assert!(
        job.error.as_deref().unwrap().contains("longer than"),
        "{:?}",
        job.error
    );
    assert_eq!(doc.status, "failed");
    assert!(blobs.is_empty());
}
