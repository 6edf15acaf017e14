//! Ingestion end to end versus the embedder alone on the same text: how much the pipeline
//! (upload, extraction, chunking, the SQLite transaction, the vector index) adds to the
//! time the embedding model needs anyway.
//!
//! `scripts/fetch_model.sh && cargo run --release --example bench_ingest -- [--file F] [--rounds N]`
//!
//! End to end: the real router of a real data directory, a multipart upload as a company
//! user, then polling GET /api/jobs/{id} until the job completes (the company's index
//! loaded, so the chunks go into the graph too). Embedder alone: the same file extracted
//! and chunked the same way, embedded in the pipeline's batches. Rounds alternate between
//! the two so machine noise hits both; medians are compared. Default text: this
//! repository's README.md and ARCHITECTURE.md (real prose, ~100 chunks).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use silo::app::{App, AppOptions};
use silo::embed::{Embedder, EmbedderConfig, EmbedderKind, select_embedder};
use silo::ingest::{chunk, extract, pipeline::EMBED_BATCH};
use tower::ServiceExt;

const ROOT: (&str, &str) = ("root@bench.test", "bench-root-password-1");

async fn call(router: &Router, req: Request<Body>) -> (StatusCode, Value) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn json_req(method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    }
}

async fn login(router: &Router, email: &str, password: &str) -> String {
    let body = json!({"email": email, "password": password});
    let (status, reply) = call(
        router,
        json_req(Method::POST, "/api/auth/login", None, Some(body)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    reply["access_token"].as_str().unwrap().to_string()
}

fn upload_req(token: &str, name: &str, bytes: &[u8]) -> Request<Body> {
    let boundary = "bench-boundary-5f1c";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request::builder()
        .method(Method::POST)
        .uri("/api/documents")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap()
}

/// One upload, until its job completes; returns the time taken and the chunk count.
async fn ingest_once(router: &Router, token: &str, round: usize, text: &[u8]) -> (Duration, i64) {
    let started = Instant::now();
    let (status, reply) = call(router, upload_req(token, &format!("doc-{round}.txt"), text)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    let job = reply["job_id"].as_str().unwrap().to_string();
    loop {
        let (_, j) = call(
            router,
            json_req(Method::GET, &format!("/api/jobs/{job}"), Some(token), None),
        )
        .await;
        match j["status"].as_str() {
            Some("completed") => return (started.elapsed(), j["total_items"].as_i64().unwrap()),
            Some("failed") => panic!("ingestion failed: {j}"),
            _ => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

/// The embedder alone on the chunks the pipeline makes of `text`.
fn embed_once(embedder: &dyn Embedder, texts: &[&str]) -> Duration {
    let started = Instant::now();
    for batch in texts.chunks(EMBED_BATCH) {
        embedder.embed(batch).unwrap();
    }
    started.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rounds: usize = arg("--rounds").map_or(5, |r| r.parse().unwrap());
    let text = match arg("--file") {
        Some(f) => std::fs::read(f).unwrap(),
        None => [
            std::fs::read("README.md").unwrap(),
            std::fs::read("ARCHITECTURE.md").unwrap(),
        ]
        .concat(),
    };
    let config = EmbedderConfig {
        kind: EmbedderKind::Auto,
        model_dir: Some(std::path::Path::new("data").join(silo::embed::MODEL_SUBDIR)),
        ..Default::default()
    };
    let embedder = select_embedder(std::path::Path::new("data"), &config).unwrap();
    let sections = extract::extract(extract::FileKind::Text, &text).unwrap();
    let pieces = chunk::chunk_sections(&sections);
    let texts: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
    println!(
        "embedder {}; {} bytes → {} chunks; {rounds} rounds each",
        embedder.id(),
        text.len(),
        texts.len()
    );

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("data");
    let setup = embedder.clone();
    let app = tokio::task::spawn_blocking(move || {
        let mut app = App::open(&path, AppOptions::default()).unwrap();
        app.set_embedder(setup);
        app
    })
    .await
    .unwrap();
    let app = Arc::new(app);
    silo::service::accounts::ensure_super_admin(&app, ROOT.0, Some(ROOT.1))
        .await
        .unwrap();
    let router = silo::http::router(app.clone());
    let root = login(&router, ROOT.0, ROOT.1).await;
    let (_, company) = call(
        &router,
        json_req(
            Method::POST,
            "/api/admin/companies",
            Some(&root),
            Some(json!({"name": "Bench"})),
        ),
    )
    .await;
    let user = json!({"email": "analyst@bench.test", "password": "analyst-password-1",
                      "role": "analyst", "company_id": company["id"]});
    let (status, reply) = call(
        &router,
        json_req(Method::POST, "/api/admin/users", Some(&root), Some(user)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let token = login(&router, "analyst@bench.test", "analyst-password-1").await;
    // Load the company's index first (as any search does), so every upload is also
    // inserted into the graph.
    let search = json!({"query": "warm up", "mode": "vector"});
    call(
        &router,
        json_req(Method::POST, "/api/search", Some(&token), Some(search)),
    )
    .await;
    ingest_once(&router, &token, 0, &text).await; // warm-up of both paths
    embed_once(embedder.as_ref(), &texts);

    let (mut e2e, mut alone) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (t, chunks) = ingest_once(&router, &token, round, &text).await;
        assert_eq!(chunks as usize, texts.len());
        e2e.push(t);
        let (e, t2) = (
            embedder.clone(),
            texts.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        );
        alone.push(
            tokio::task::spawn_blocking(move || {
                let refs: Vec<&str> = t2.iter().map(String::as_str).collect();
                embed_once(e.as_ref(), &refs)
            })
            .await
            .unwrap(),
        );
        println!(
            "round {round}: end to end {:.0} ms, embedder alone {:.0} ms",
            ms(e2e[round - 1]),
            ms(alone[round - 1])
        );
    }
    let mut ratios: Vec<f64> = e2e
        .iter()
        .zip(&alone)
        .map(|(e, a)| e.as_secs_f64() / a.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let paired = (ratios[ratios.len() / 2] - 1.0) * 100.0;
    let (e, a) = (median(e2e), median(alone));
    println!(
        "median: end to end {:.0} ms ({:.1} chunks/s), embedder alone {:.0} ms; pipeline overhead \
         {:+.1} % (median of per-round ratios {paired:+.1} %)",
        ms(e),
        texts.len() as f64 / e.as_secs_f64(),
        ms(a),
        (e.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
