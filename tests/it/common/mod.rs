//! `TestApp`: the real application on a fresh temporary data directory, driven through the
//! real router, with helpers to create companies and users and to log in.

#![allow(dead_code)]

pub mod files;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use silo::app::{App, AppOptions, AppState};
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
