//! The ingestion worker on its own (no HTTP): embeddings, failures and time limits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use std::sync::Arc;

use silo::app::{App, AppOptions};
use silo::embed::EmbedError;
use silo::embed::Embedder;
use silo::ingest::worker::*;
use silo::store::company::documents;
use silo::store::company::jobs;
use silo::tenant::provision::{self, NewCompany};
use silo::tenant::{TenantCtx, TenantError, context};

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
