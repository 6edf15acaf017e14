//! Reindexing: a company whose chunks belong to another embedder is re-embedded in the
//! background, in slices, past refusals and outages, and never with the lexical fallback;
//! vectors from before chunks recorded their embedder are adopted only when provably the
//! current one's; and a reindex onto the real local model makes semantic search work.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use silo::embed::{EmbedError, Embedder, LexicalEmbedder};
use silo::error::Error;
use silo::ingest::{IngestWorker, WorkerOptions};

use crate::helpers::{
    REVENUE, TestApp, assert_invalid, company, embedding_group, in_company, ingest, ingest_tides,
    ingest_tides_and_revenue, save_index, summary_of, vector_titles, wait_idle,
};

/// The lexical embedder with its dimensions permuted: searches with it work as well as with
/// the original, but its vectors do not compare with the original's, like a new model.
struct Permuted;

impl Embedder for Permuted {
    fn id(&self) -> &str {
        "lexical-permuted-v1"
    }
    fn dimensions(&self) -> usize {
        LexicalEmbedder.dimensions()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(LexicalEmbedder
            .embed(texts)?
            .into_iter()
            .map(|mut v| {
                v.rotate_left(97);
                v
            })
            .collect())
    }
}

/// (embedding model, count) of the company's chunks, most common first.
async fn chunk_models(test: &TestApp, key: i64) -> Vec<(Option<String>, i64)> {
    in_company(test, key, |c| {
        let mut stmt = c.prepare(
            "SELECT embedding_model, COUNT(*) FROM document_chunks
              GROUP BY embedding_model ORDER BY 2 DESC, 1",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, Error>(rows)
    })
    .await
}

/// The reindex jobs: (status, result).
async fn reindex_jobs(test: &TestApp, key: i64) -> Vec<(String, Value)> {
    in_company(test, key, |c| {
        let mut stmt = c.prepare(
            "SELECT status, coalesce(result, 'null') FROM processing_jobs
              WHERE job_type = 'reindex' ORDER BY id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let result: String = r.get(1)?;
                Ok((r.get(0)?, serde_json::from_str(&result).unwrap()))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, Error>(rows)
    })
    .await
}

/// A worker embedding with [`Permuted`], reindexing in slices of `slice`.
fn permuted_worker(test: &TestApp, slice: Duration) -> IngestWorker {
    let options = WorkerOptions {
        reindex_slice: slice,
        ..WorkerOptions::default()
    };
    IngestWorker::new(test.app.registry.clone(), Some(Arc::new(Permuted)), options)
}

/// After an embedder change, the start-up recovery finds the saved index built by the
/// previous embedder and queues a reindex; the chunks are embedded again in the background
/// (charged to `system`) and vector search works with the new embedder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_embedder_reindexes_companies_in_the_background() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Changing").await;
    ingest_tides_and_revenue(&test, &acme.analyst).await;
    // The index is saved (as at shutdown), then the process "restarts" with a new embedder.
    // The vectors are unlabelled (from before chunks recorded their embedder): the saved
    // index names the previous embedder, so they must be embedded again, not adopted.
    save_index(&test, acme.key).await;
    unlabel_and_close(&test, acme.key).await;
    let worker = permuted_worker(&test, Duration::from_secs(60));
    worker.recover_company(acme.key).await.unwrap();
    wait_idle(&worker).await;

    assert_eq!(
        chunk_models(&test, acme.key).await,
        vec![(Some("lexical-permuted-v1".into()), 2)]
    );
    let jobs = reindex_jobs(&test, acme.key).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].0, "completed");
    assert_eq!(jobs[0].1["reembedded"], 2, "{:?}", jobs[0].1);
    assert_eq!(jobs[0].1["continued"], false);
    let s = summary_of(&test, &acme.admin).await;
    let system = embedding_group(&s, "system").expect("the reindex's usage rows");
    assert_eq!(system["requests"], 1, "{s}");

    // The new vectors answer queries embedded by the new embedder.
    let dir = test
        .app
        .registry
        .get(acme.key)
        .await
        .unwrap()
        .dir()
        .join("vectors");
    let hits = in_company(&test, acme.key, move |conn| {
        let index = silo::index::VectorIndex::open_or_rebuild(
            &dir,
            conn,
            Permuted.id(),
            Permuted.dimensions(),
        )
        .unwrap();
        assert_eq!(index.open_report().stale, 0);
        let q = Permuted
            .embed(&["quarterly revenue and margin"])
            .unwrap()
            .remove(0);
        Ok::<_, Error>(index.search(&q, 2, 32, None).unwrap())
    })
    .await;
    assert_eq!(hits.len(), 2);
    // Done for good: the previous embedder's saved index is gone, so another start queues
    // nothing.
    worker.recover_company(acme.key).await.unwrap();
    wait_idle(&worker).await;
    assert_eq!(reindex_jobs(&test, acme.key).await.len(), 1);
    let revenue_chunk: i64 = in_company(&test, acme.key, |c| {
        Ok::<_, Error>(c.query_row(
            "SELECT c.id FROM document_chunks c JOIN documents d ON d.id = c.document_id
              WHERE d.filename = 'revenue.txt'",
            [],
            |r| r.get(0),
        )?)
    })
    .await;
    assert_eq!(hits[0].0, revenue_chunk);
}

/// Chunks another embedder made, found when the index is first loaded by a search: vector
/// search leaves them out at first, a reindex is queued, and once it ran they are found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_chunks_found_at_index_load_are_reembedded() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Stale").await;
    ingest_tides_and_revenue(&test, &acme.analyst).await;
    // As if another model had embedded them, before this company's index was ever loaded.
    in_company(&test, acme.key, |c| {
        Ok::<_, Error>(c.execute(
            "UPDATE document_chunks SET embedding_model = 'old-model'",
            [],
        )?)
    })
    .await;
    // This search loads the index, which queues the reindex (its own results depend on
    // how fast the reindex is).
    vector_titles(&test, &acme.analyst, "moon tides").await;
    wait_idle(&test.app.ingest).await;
    assert_eq!(
        chunk_models(&test, acme.key).await,
        vec![(Some(LexicalEmbedder.id().into()), 2)]
    );
    assert_eq!(
        vector_titles(&test, &acme.analyst, "moon tides").await[0],
        "tides.txt"
    );
    let jobs = reindex_jobs(&test, acme.key).await;
    assert_eq!(
        (jobs.len(), jobs[0].1["reembedded"].as_i64()),
        (1, Some(2)),
        "{jobs:?}"
    );
    // Admins follow it through the API; others do not see system jobs.
    let listed = test.get("/api/jobs?job_type=reindex", &acme.admin).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["total"], 1, "{}", listed.body);
    let job = &listed.body["items"][0];
    assert_eq!(
        (job["job_type"].as_str(), job["status"].as_str()),
        (Some("reindex"), Some("completed"))
    );
    assert_eq!(
        (job["processed_items"].as_i64(), job["progress"].as_f64()),
        (Some(2), Some(1.0))
    );
    let by_id = test
        .get(
            &format!("/api/jobs/{}", job["id"].as_str().unwrap()),
            &acme.admin,
        )
        .await;
    assert_eq!(by_id.body["id"], job["id"]);
    let uploads = test.get("/api/jobs?status=completed", &acme.analyst).await;
    assert_eq!(
        uploads.body["total"], 2,
        "the analyst's two uploads: {}",
        uploads.body
    );
    assert!(
        uploads.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["job_type"] == "document_processing")
    );
    let other = company(&test, "Stale Other").await;
    let theirs = test.get("/api/jobs", &other.admin).await;
    assert_eq!(
        (theirs.status, theirs.body["total"].as_i64()),
        (StatusCode::OK, Some(0))
    );
    let hidden = test
        .get(
            &format!("/api/jobs/{}", job["id"].as_str().unwrap()),
            &other.admin,
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    for (bad, field) in [
        ("?job_type=Reindex", "job_type"),
        ("?status=done", "status"),
        ("?limit=0", "limit"),
        ("?sort=id", "sort"),
    ] {
        assert_invalid(
            &test.get(&format!("/api/jobs{bad}"), &acme.admin).await,
            field,
        );
    }
    let anon = test
        .call(axum::http::Method::GET, "/api/jobs", None, None)
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

/// Vectors from before chunks recorded their embedder, when the saved index says they are
/// the current embedder's, are labelled when the index loads: found at once, no reindex,
/// nothing embedded again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlabelled_vectors_of_the_current_embedder_are_adopted() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Unlabelled").await;
    ingest_tides(&test, &acme.analyst).await;
    wait_idle(&test.app.ingest).await;
    save_index(&test, acme.key).await;
    unlabel_and_close(&test, acme.key).await;
    assert_eq!(
        vector_titles(&test, &acme.analyst, "moon tides").await,
        ["tides.txt"]
    );
    wait_idle(&test.app.ingest).await;
    assert!(reindex_jobs(&test, acme.key).await.is_empty());
    assert_eq!(
        chunk_models(&test, acme.key).await,
        vec![(Some(LexicalEmbedder.id().into()), 1)]
    );
    let s = summary_of(&test, &acme.admin).await;
    assert!(
        embedding_group(&s, "system").is_none(),
        "nothing was embedded: {s}"
    );
}

/// Clears every chunk's embedder label (as rows from before chunks recorded it) and closes
/// the company, as a restart would.
async fn unlabel_and_close(test: &TestApp, key: i64) {
    in_company(test, key, |c| {
        Ok::<_, Error>(c.execute("UPDATE document_chunks SET embedding_model = NULL", [])?)
    })
    .await;
    wait_idle(&test.app.ingest).await;
    close_idle(test, &[key]).await;
}

/// Closes the registry's idle companies, waiting up to 10 s until `keys` are all closed: a
/// worker that has just gone idle may still be dropping its handle on a company.
async fn close_idle(test: &TestApp, keys: &[i64]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        test.app.registry.clear_idle();
        let open: Vec<i64> = keys
            .iter()
            .copied()
            .filter(|k| test.app.registry.is_open(*k))
            .collect();
        if open.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "companies {open:?} never became idle"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// With automatic reindexing off (as when the lexical fallback stands in for a missing
/// model), stale chunks are reported but their vectors are left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_automatic_reindex_when_it_is_off() {
    let test = TestApp::spawn_with(|o| o.workspace.auto_reindex = false).await;
    let acme = company(&test, "Fallback").await;
    ingest_tides(&test, &acme.analyst).await;
    in_company(&test, acme.key, |c| {
        Ok::<_, Error>(c.execute(
            "UPDATE document_chunks SET embedding_model = 'all-minilm-l6-v2'",
            [],
        )?)
    })
    .await;
    assert!(
        vector_titles(&test, &acme.analyst, "moon tides")
            .await
            .is_empty()
    );
    wait_idle(&test.app.ingest).await;
    assert!(reindex_jobs(&test, acme.key).await.is_empty());
    assert_eq!(
        chunk_models(&test, acme.key).await,
        vec![(Some("all-minilm-l6-v2".into()), 1)]
    );
    // Keyword search still finds everything.
    let r = test
        .post(
            "/api/search",
            &acme.analyst,
            json!({"query": "moon tides", "mode": "keyword"}),
        )
        .await;
    assert_eq!(
        r.body["results"][0]["document_title"], "tides.txt",
        "{}",
        r.body
    );
}

/// A reindex over many chunks runs in slices, each continuing where the last stopped: every
/// chunk is embedded exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_reindex_runs_in_slices_that_continue_where_they_stopped() {
    let test = TestApp::spawn().await;
    let acme = company(&test, "Slices").await;
    let text: String = (0..20)
        .map(|i| {
            format!("Paragraph {i} about harbour logistics and tide tables. ").repeat(18) + "\n\n"
        })
        .collect();
    ingest(&test, &acme.analyst, "long.txt", text.as_bytes(), "company").await;
    let chunks = chunk_models(&test, acme.key).await[0].1;
    assert!(chunks > 16, "{chunks} chunks");
    save_index(&test, acme.key).await;
    wait_idle(&test.app.ingest).await;
    close_idle(&test, &[acme.key]).await;
    // A zero-length slice: each job does one batch and hands over.
    let worker = permuted_worker(&test, Duration::ZERO);
    worker.recover_company(acme.key).await.unwrap();
    wait_idle(&worker).await;
    let jobs = reindex_jobs(&test, acme.key).await;
    let batches = (chunks as usize).div_ceil(8);
    assert!(jobs.len() >= batches, "{jobs:?}");
    assert!(
        jobs.iter().all(|(status, _)| status == "completed"),
        "{jobs:?}"
    );
    let embedded: i64 = jobs
        .iter()
        .map(|(_, r)| r["reembedded"].as_i64().unwrap())
        .sum();
    assert_eq!(embedded, chunks, "every chunk once: {jobs:?}");
    assert_eq!(jobs.last().unwrap().1["continued"], false);
    assert_eq!(jobs.last().unwrap().1["done"], chunks);
    assert_eq!(
        chunk_models(&test, acme.key).await,
        vec![(Some("lexical-permuted-v1".into()), chunks)]
    );
}

/// An embedder that refuses texts mentioning tides, or is down altogether.
struct Picky {
    down: bool,
}

impl Embedder for Picky {
    fn id(&self) -> &str {
        "picky-v1"
    }
    fn dimensions(&self) -> usize {
        LexicalEmbedder.dimensions()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if self.down {
            return Err(EmbedError::Unavailable("connection refused".into()));
        }
        if texts.iter().any(|t| t.contains("tides")) {
            return Err(EmbedError::Failed("input rejected".into()));
        }
        LexicalEmbedder.embed(texts)
    }
}

/// A chunk the embedder refuses is skipped (the rest is reindexed); an embedder that is
/// down fails the job, and no new one is queued automatically for a while.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_or_unavailable_embedder_neither_stalls_nor_storms() {
    let test = TestApp::spawn().await;
    for (name, down) in [("Refused", false), ("Down", true)] {
        let c = company(&test, name).await;
        ingest_tides_and_revenue(&test, &c.analyst).await;
        save_index(&test, c.key).await;
        wait_idle(&test.app.ingest).await;
        close_idle(&test, &[c.key]).await;
        let worker = IngestWorker::new(
            test.app.registry.clone(),
            Some(Arc::new(Picky { down })),
            WorkerOptions::default(),
        );
        worker.recover_company(c.key).await.unwrap();
        wait_idle(&worker).await;
        let jobs = reindex_jobs(&test, c.key).await;
        assert_eq!(jobs.len(), 1, "{jobs:?}");
        let models = chunk_models(&test, c.key).await;
        if down {
            assert_eq!(jobs[0].0, "failed");
            assert_eq!(models, vec![(Some(LexicalEmbedder.id().into()), 2)]);
            let queued = in_company(&test, c.key, |conn| {
                Ok::<_, Error>(silo::store::company::jobs::enqueue_reindex(conn, None)?)
            })
            .await;
            assert!(!queued, "backing off after a failure");
        } else {
            assert_eq!(jobs[0].0, "completed");
            assert_eq!(
                (
                    jobs[0].1["reembedded"].as_i64(),
                    jobs[0].1["refused"].as_i64()
                ),
                (Some(1), Some(1))
            );
            assert_eq!(
                models,
                vec![
                    (Some(LexicalEmbedder.id().into()), 1),
                    (Some("picky-v1".into()), 1)
                ]
            );
        }
    }
}

/// After an embedder change, reindexing re-embeds every chunk and rebuilds the index for the
/// new model; semantic search then works with it. Uses the real local model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_moves_a_company_to_another_embedder() {
    use silo::index::reembed as reindex;
    use silo::search::{self, SearchMode, SearchRequest};
    let Some(minilm) = crate::helpers::local_model() else {
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

/// With automatic reindexing off (the lexical fallback standing in for a missing model), a
/// company whose saved index is an earlier version of the lexical embedder is still moved
/// to the current one at start-up (nothing better is replaced); one whose index a model
/// built is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_lexical_index_is_upgraded_even_with_automatic_reindexing_off() {
    let test = TestApp::spawn_with(|o| o.workspace.auto_reindex = false).await;
    let older = company(&test, "Older lexical").await;
    let model = company(&test, "Model").await;
    for (c, id) in [(&older, "lexical-hash-v1"), (&model, "all-minilm-l6-v2")] {
        ingest_tides(&test, &c.analyst).await;
        save_index(&test, c.key).await;
        // As if the vectors and the saved index came from that embedder.
        in_company(&test, c.key, move |conn| {
            Ok::<_, Error>(conn.execute("UPDATE document_chunks SET embedding_model = ?1", [id])?)
        })
        .await;
        let dir = test
            .app
            .registry
            .get(c.key)
            .await
            .unwrap()
            .dir()
            .join("vectors");
        let path = dir.join("manifest.json");
        let mut manifest: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        manifest["embedder_id"] = json!(id);
        std::fs::write(&path, manifest.to_string()).unwrap();
    }
    wait_idle(&test.app.ingest).await;
    close_idle(&test, &[older.key, model.key]).await;
    let options = WorkerOptions {
        auto_reindex: false,
        ..WorkerOptions::default()
    };
    let worker = IngestWorker::new(
        test.app.registry.clone(),
        Some(Arc::new(LexicalEmbedder)),
        options,
    );
    for c in [&older, &model] {
        worker.recover_company(c.key).await.unwrap();
    }
    wait_idle(&worker).await;
    assert_eq!(
        chunk_models(&test, older.key).await,
        vec![(Some(LexicalEmbedder.id().into()), 1)]
    );
    assert_eq!(reindex_jobs(&test, older.key).await.len(), 1);
    assert_eq!(
        chunk_models(&test, model.key).await,
        vec![(Some("all-minilm-l6-v2".into()), 1)]
    );
    assert!(reindex_jobs(&test, model.key).await.is_empty());
}
