//! The helpers of the integration tests, in one place. Here: `TestApp`, the real application
//! on a fresh temporary data directory driven through the real router, with logins and the
//! creation of companies and users; a company with a user of each role, multipart uploads,
//! waiting for jobs, direct access to a company database, searches, usage summaries and
//! error assertions. Documents built in code are in `files`; the operator fixtures (a data
//! directory, V1 databases, the real binary) in `data_dir`.

#![allow(dead_code)]

pub mod data_dir;
pub mod files;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use silo::app::{App, AppOptions, AppState};
use silo::error::Error;
use silo::tenant::{self, TenantCtx};
use tempfile::TempDir;
use tower::ServiceExt;

pub const ROOT_EMAIL: &str = "root@silo.test";
pub const ROOT_PASSWORD: &str = "root-password-1";
pub const PASSWORD: &str = "user-password-1";
/// A fixed signing secret, so tests can forge tokens with it.
pub const JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789abcdef";

pub struct TestApp {
    pub dir: TempDir,
    pub app: AppState,
    pub router: Router,
    pub root_token: String,
}

/// A response: status, headers and JSON body (Null when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The error code of an error envelope.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut AppOptions)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        Self::spawn_in(dir, configure, Arc::new(silo::embed::LexicalEmbedder)).await
    }

    /// The application on `dir` (its data directory is `dir/data`), embedding with
    /// `embedder`.
    pub async fn spawn_in(
        dir: TempDir,
        configure: impl FnOnce(&mut AppOptions),
        embedder: Arc<dyn silo::embed::Embedder>,
    ) -> TestApp {
        let mut options = AppOptions {
            jwt_secret: Some(JWT_SECRET.into()),
            ..AppOptions::default()
        };
        configure(&mut options);
        let path = dir.path().join("data");
        let app = tokio::task::spawn_blocking(move || {
            let mut app = App::open(&path, options).unwrap();
            // Usually the built-in embedder: real vectors and a real index, no model files.
            app.set_embedder(embedder);
            app
        })
        .await
        .unwrap();
        let app = Arc::new(app);
        silo::service::accounts::ensure_super_admin(&app, ROOT_EMAIL, Some(ROOT_PASSWORD))
            .await
            .unwrap();
        let router = silo::http::router(app.clone());
        let mut test = TestApp {
            dir,
            app,
            router,
            root_token: String::new(),
        };
        test.root_token = test.login_ok(ROOT_EMAIL, ROOT_PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        test
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = match body {
            Some(body) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("non-JSON body: {}", String::from_utf8_lossy(&bytes)))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// Logs in and returns the token response, asserting success.
    pub async fn login_ok(&self, email: &str, password: &str) -> Value {
        let reply = self.login(email, password).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "login of {email}: {}",
            reply.body
        );
        reply.body
    }

    /// Creates a company through the super-admin API; returns its JSON (with `id`).
    pub async fn create_company(&self, name: &str) -> Value {
        let reply = self
            .post(
                "/api/admin/companies",
                &self.root_token,
                json!({"name": name}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    /// Creates a user of `company_id` with `role`; returns (user JSON, access token).
    pub async fn create_user(&self, company_id: &str, role: &str) -> (Value, String) {
        let email = format!("{role}-{}@silo.test", uuid::Uuid::new_v4().simple());
        let body =
            json!({"email": email, "password": PASSWORD, "role": role, "company_id": company_id});
        let reply = self.post("/api/admin/users", &self.root_token, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let token = self.login_ok(&email, PASSWORD).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        (reply.body, token)
    }

    /// The internal id of a company, from its public id.
    pub fn company_key(&self, uuid: &str) -> i64 {
        let conn = self.app.primary.get().unwrap();
        silo::store::primary::companies::find(&conn, uuid)
            .unwrap()
            .unwrap()
            .id
    }

    pub fn data_dir(&self) -> std::path::PathBuf {
        self.app.data_dir.clone()
    }
}

// The company workspace: a company with users of each role, multipart uploads, waiting for
// jobs, direct access to a company database, searches, usage summaries, error assertions.

/// A company and a token for each role.
#[allow(dead_code)]
pub struct Company {
    pub id: String,
    pub key: i64,
    pub admin: String,
    pub analyst: String,
    pub analyst2: String,
    pub viewer: String,
    pub analyst_id: String,
}

pub async fn company(test: &TestApp, name: &str) -> Company {
    let id = test.create_company(name).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, admin) = test.create_user(&id, "admin").await;
    let (analyst_user, analyst) = test.create_user(&id, "analyst").await;
    let (_, analyst2) = test.create_user(&id, "analyst").await;
    let (_, viewer) = test.create_user(&id, "viewer").await;
    Company {
        key: test.company_key(&id),
        id,
        admin,
        analyst,
        analyst2,
        viewer,
        analyst_id: analyst_user["id"].as_str().unwrap().to_string(),
    }
}

/// One part of a multipart form: (name, file name, bytes).
pub type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

pub fn multipart_body(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "silo-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn upload_parts(test: &TestApp, token: &str, parts: &[Part<'_>]) -> Reply {
    upload_parts_to(test, "/api/documents", token, parts).await
}

/// A multipart upload to `path` (/api/documents, /api/admin/library/documents).
pub async fn upload_parts_to(test: &TestApp, path: &str, token: &str, parts: &[Part<'_>]) -> Reply {
    let (content_type, body) = multipart_body(parts);
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    test.send(req).await
}

/// Uploads one file with the given scope; asserts 202 and returns the reply body.
pub async fn upload(
    test: &TestApp,
    token: &str,
    filename: &str,
    bytes: &[u8],
    scope: &str,
) -> Value {
    let reply = upload_parts(
        test,
        token,
        &[
            ("file", Some(filename), bytes),
            ("scope", None, scope.as_bytes()),
        ],
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    reply.body
}

/// Polls a job until it is completed or failed; returns it.
pub async fn wait_job(test: &TestApp, token: &str, job_id: &str) -> Value {
    // Up to 30 s: CI machines are shared and slow.
    for _ in 0..1200 {
        let reply = test.get(&format!("/api/jobs/{job_id}"), token).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        if matches!(reply.body["status"].as_str(), Some("completed" | "failed")) {
            return reply.body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {job_id} did not finish");
}

/// Uploads and waits for processing; returns (document id, job).
pub async fn ingest(
    test: &TestApp,
    token: &str,
    filename: &str,
    bytes: &[u8],
    scope: &str,
) -> (String, Value) {
    let body = upload(test, token, filename, bytes, scope).await;
    let job = wait_job(test, token, body["job_id"].as_str().unwrap()).await;
    (body["document"]["id"].as_str().unwrap().to_string(), job)
}

/// Two short documents on unrelated subjects, for search tests.
pub const TIDES: &str = "Ocean tides are caused by the gravitational pull of the moon and the sun. \
    Spring tides happen at new and full moon, neap tides at the quarter moons.";
pub const REVENUE: &str = "Quarterly revenue grew by twelve percent, driven by subscription sales \
    in Europe. Operating costs stayed flat and the margin improved.";

/// Ingests tides.txt (company scope) as `token`, asserting it completed; returns its id.
pub async fn ingest_tides(test: &TestApp, token: &str) -> String {
    let (id, job) = ingest(test, token, "tides.txt", TIDES.as_bytes(), "company").await;
    assert_eq!(job["status"], "completed", "{job}");
    id
}

/// Ingests tides.txt and revenue.txt (company scope) as `token`; returns their ids.
pub async fn ingest_tides_and_revenue(test: &TestApp, token: &str) -> (String, String) {
    let (tides, job) = ingest(test, token, "tides.txt", TIDES.as_bytes(), "company").await;
    assert_eq!(job["status"], "completed", "{job}");
    let (revenue, job) = ingest(test, token, "revenue.txt", REVENUE.as_bytes(), "company").await;
    assert_eq!(job["status"], "completed", "{job}");
    (tides, revenue)
}

/// The document titles of a search reply, in order.
pub fn titles(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["document_title"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `f` with a connection to company `key`, inside its tenant scope.
pub async fn in_company<T: Send + 'static>(
    test: &TestApp,
    key: i64,
    f: impl FnOnce(&mut silo::store::db::Conn) -> Result<T, Error> + Send + 'static,
) -> T {
    let db = test.app.registry.get(key).await.unwrap();
    tenant::context::scope(TenantCtx::new(db, None), tenant::context::run(f))
        .await
        .unwrap()
}

/// Asserts an error reply: status, code and (for 422) the field.
pub fn assert_error(reply: &Reply, status: StatusCode, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.code(), code, "{}", reply.body);
    assert!(!reply.message().is_empty());
}

pub fn assert_invalid(reply: &Reply, field: &str) {
    assert_error(reply, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    assert_eq!(reply.body["error"]["field"], field, "{}", reply.body);
}

/// Asserts a 404 for an id in the body that names nothing the caller can see (in another
/// company, another user's, or no such row): the message names the field.
pub fn assert_names_nothing(reply: &Reply, field: &str) {
    assert_error(reply, StatusCode::NOT_FOUND, "not_found");
    assert!(
        reply.message().starts_with(&format!("{field}: no such ")),
        "{}",
        reply.body
    );
}

pub const MISSING: &str = "00000000-0000-4000-8000-000000000000";

/// The usage summary grouped by operation and user, asserting 200.
pub async fn summary_of(test: &TestApp, token: &str) -> Value {
    let r = test
        .get("/api/usage/summary?group_by=operation_type,user", token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// The `embedding` group of `user` in a summary grouped by operation and user.
pub fn embedding_group(summary: &Value, user: &str) -> Option<Value> {
    summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"]["operation_type"] == "embedding" && g["key"]["user"] == user)
        .cloned()
}

/// Waits until `worker` has no company to drain.
pub async fn wait_idle(worker: &silo::ingest::IngestWorker) {
    for _ in 0..3000 {
        if worker.is_idle() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the worker did not finish");
}

/// Loads the company's index (as a search would) and saves it (as at shutdown).
pub async fn save_index(test: &TestApp, key: i64) {
    let db = test.app.registry.get(key).await.unwrap();
    let embedder: std::sync::Arc<dyn silo::embed::Embedder> =
        std::sync::Arc::new(silo::embed::LexicalEmbedder);
    silo::service::search::company_index(&test.app, &db, &embedder)
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || silo::index::lifecycle::persist(&*db))
        .await
        .unwrap();
}

/// The titles of a vector search's results (k = 5), asserting 200.
pub async fn vector_titles(test: &TestApp, token: &str, query: &str) -> Vec<String> {
    let r = test
        .post(
            "/api/search",
            token,
            serde_json::json!({"query": query, "mode": "vector", "k": 5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    titles(&r.body)
}

/// The real local MiniLM model, or `None` (with a note) when its files were not fetched;
/// with SILO_REQUIRE_MODEL set (as the test script sets it) a missing model fails instead.
pub fn local_model() -> Option<std::sync::Arc<dyn silo::embed::Embedder>> {
    use silo::embed::{EmbedderConfig, EmbedderKind, select_embedder};
    let config = EmbedderConfig {
        kind: EmbedderKind::Minilm,
        model_dir: Some(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/models/all-minilm-l6-v2"),
        ),
        ..Default::default()
    };
    let model = select_embedder(std::path::Path::new("/nonexistent"), &config).ok();
    if model.is_none() {
        assert!(
            std::env::var_os("SILO_REQUIRE_MODEL").is_none(),
            "the local model is missing"
        );
        eprintln!("model not fetched: run scripts/fetch_model.sh");
    }
    model
}
