//! The OpenAPI document: served publicly, and complete: every documented operation is
//! routed, and every route of the router (public, authenticated, admin and company data) is
//! documented.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;

use crate::helpers::{MISSING, TestApp};

/// Every route of the router: the API contract (shared/API.md) and the operations routes.
const CONTRACT: &[(&str, &str)] = &[
    // Operations (public).
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    // Sessions.
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/me"),
    ("post", "/api/me/password"),
    // Super admin.
    ("get", "/api/admin/companies"),
    ("post", "/api/admin/companies"),
    ("get", "/api/admin/companies/{id}"),
    ("patch", "/api/admin/companies/{id}"),
    ("delete", "/api/admin/companies/{id}"),
    ("post", "/api/admin/companies/{id}/migrate"),
    ("get", "/api/admin/companies/{id}/export"),
    ("post", "/api/admin/companies/import"),
    ("get", "/api/admin/library/documents"),
    ("post", "/api/admin/library/documents"),
    ("get", "/api/admin/library/documents/{id}"),
    ("patch", "/api/admin/library/documents/{id}"),
    ("delete", "/api/admin/library/documents/{id}"),
    ("get", "/api/admin/library/documents/{id}/chunks"),
    ("post", "/api/admin/library/documents/{id}/restore"),
    ("get", "/api/admin/library/trash"),
    ("get", "/api/admin/library/jobs/{id}"),
    ("get", "/api/library/documents"),
    ("get", "/api/library/documents/{id}"),
    ("get", "/api/library/documents/{id}/chunks"),
    ("get", "/api/admin/users"),
    ("post", "/api/admin/users"),
    ("get", "/api/admin/users/{id}"),
    ("patch", "/api/admin/users/{id}"),
    ("delete", "/api/admin/users/{id}"),
    ("delete", "/api/admin/users/{id}/sessions"),
    ("get", "/api/admin/roles"),
    ("put", "/api/admin/roles/{name}/permissions"),
    ("get", "/api/admin/migrations"),
    // Company admin.
    ("get", "/api/company/users"),
    ("post", "/api/company/users"),
    ("patch", "/api/company/users/{id}"),
    ("delete", "/api/company/users/{id}"),
    // Company data.
    ("get", "/api/company"),
    ("post", "/api/documents"),
    ("get", "/api/documents"),
    ("get", "/api/documents/{id}"),
    ("patch", "/api/documents/{id}"),
    ("delete", "/api/documents/{id}"),
    ("get", "/api/documents/{id}/chunks"),
    ("get", "/api/jobs"),
    ("get", "/api/jobs/{id}"),
    ("get", "/api/conversations"),
    ("post", "/api/conversations"),
    ("get", "/api/conversations/{id}"),
    ("patch", "/api/conversations/{id}"),
    ("delete", "/api/conversations/{id}"),
    ("get", "/api/conversations/{id}/messages"),
    ("post", "/api/conversations/{id}/messages"),
    ("get", "/api/agent-logs"),
    ("post", "/api/agent-logs"),
    ("post", "/api/usage"),
    ("get", "/api/usage/summary"),
    ("get", "/api/profile"),
    ("put", "/api/profile"),
    ("get", "/api/reports"),
    ("post", "/api/reports"),
    ("get", "/api/reports/{id}"),
    ("patch", "/api/reports/{id}"),
    ("delete", "/api/reports/{id}"),
    ("get", "/api/trash"),
    ("post", "/api/documents/{id}/restore"),
    ("post", "/api/conversations/{id}/restore"),
    ("post", "/api/reports/{id}/restore"),
    ("post", "/api/search"),
];

/// Operations whose request carries no body.
const NO_BODY: &[(&str, &str)] = &[
    ("post", "/api/admin/companies/{id}/migrate"),
    ("post", "/api/admin/library/documents/{id}/restore"),
    ("post", "/api/documents/{id}/restore"),
    ("post", "/api/conversations/{id}/restore"),
    ("post", "/api/reports/{id}/restore"),
];

/// Operations that need no token.
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A documented path with each `{param}` replaced by `value`.
fn concrete(path: &str, value: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                value
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Sends a request without a token: the status and the body as text (not always JSON).
async fn probe(test: &TestApp, method: &str, path: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(test.router.clone(), req)
        .await
        .unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The router's fallbacks: an unknown path or an unrouted method.
fn is_fallback(status: StatusCode, body: &str) -> bool {
    status == StatusCode::METHOD_NOT_ALLOWED
        || (status == StatusCode::NOT_FOUND && body.contains("no such route"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_matches_the_router() {
    let test = TestApp::spawn().await;
    let reply = test
        .call(Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        let item = item.as_object().unwrap();
        for method in METHODS {
            let Some(op) = item.get(method) else {
                // Not documented, so not routed either: the router answers 405.
                let (status, body) = probe(&test, method, &concrete(path, MISSING)).await;
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {path} is routed but not documented: {body}"
                );
                continue;
            };
            documented.push((method.to_string(), path.clone()));
            let responses = op["responses"].as_object();
            assert!(
                responses.is_some_and(|r| !r.is_empty()),
                "{method} {path}: no responses"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path}: no tag"
            );
            let public = PUBLIC.contains(&(method, path.as_str()));
            assert_eq!(
                op.get("security").is_none(),
                public,
                "{method} {path}: security does not match the route's gate"
            );
            if ["post", "put", "patch"].contains(&method)
                && !NO_BODY.contains(&(method, path.as_str()))
            {
                assert!(
                    op.get("requestBody").is_some(),
                    "{method} {path}: no request body"
                );
            }
            // The router answers it: unauthenticated → 401 from the route's guard (or the
            // public handler's own answer), never the 404/405 fallbacks of an unknown route.
            let (status, body) = probe(&test, method, &concrete(path, MISSING)).await;
            assert!(
                !is_fallback(status, &body),
                "{method} {path} is documented but not routed: {status} {body}"
            );
            if path.contains('{') {
                assert!(
                    responses.unwrap().contains_key("422"),
                    "{method} {path}: the 422 of a bad path parameter is not documented"
                );
            }
            if public {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
                assert!(
                    responses.unwrap().contains_key("401"),
                    "{method} {path}: the guard's 401 is not documented"
                );
            }
        }
    }
    // Every route of the router is documented, and nothing else is.
    for (method, path) in CONTRACT {
        assert!(
            documented.iter().any(|(m, p)| m == method && p == path),
            "{method} {path} is routed but not documented"
        );
    }
    assert_eq!(documented.len(), CONTRACT.len(), "{documented:?}");
    // ... and answered (with a token too: never the fallbacks).
    for (method, path) in CONTRACT {
        let req = Request::builder()
            .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
            .uri(concrete(path, MISSING))
            .header(header::AUTHORIZATION, format!("Bearer {}", test.root_token))
            .body(Body::empty())
            .unwrap();
        let res = tower::ServiceExt::oneshot(test.router.clone(), req)
            .await
            .unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&bytes);
        assert!(
            !is_fallback(status, &body),
            "{method} {path} is not routed: {status} {body}"
        );
    }
    // A path parameter that is not UTF-8 is the documented 422.
    let r = test
        .call(
            Method::GET,
            "/api/admin/users/%ff",
            Some(&test.root_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // The tags group the whole API.
    let tags: std::collections::BTreeSet<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .flat_map(|op| op["tags"].as_array().unwrap())
        .map(|t| t.as_str().unwrap())
        .collect();
    for tag in ["auth", "admin", "company-admin", "company", "operations"] {
        assert!(tags.contains(tag), "tag {tag} missing: {tags:?}");
    }
    // The metrics are text, not JSON.
    assert!(
        doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .all(|ct| ct.starts_with("text/plain")),
    );
    // Schemas are included for the bodies.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Document",
        "Job",
        "Message",
        "UsageRecord",
        "UsageSummary",
        "Profile",
        "Report",
        "ErrorBody",
        "LoginRequest",
        "TokenResponse",
        "RefreshRequest",
        "MeResponse",
        "ChangePassword",
        "UserResponse",
        "CreateUser",
        "UpdateUser",
        "CreateCompany",
        "UpdateCompany",
        "Company",
        "CompanyResponse",
        "CompanyStats",
        "DataCounts",
        "CompanyReport",
        "Status",
        "RoleWithPermissions",
        "SetPermissions",
        "MigrationStatus",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    // Every schema referenced is defined.
    let text = doc.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            schemas.contains_key(name),
            "schema {name} referenced, not defined"
        );
    }
    // A route that is not in the document is not routed either.
    let r = test.call(Method::GET, "/api/nowhere", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Routes are registered only through `routes!` (which documents them): no handler is added
/// to a router with a plain `.route(..)`, `.route_service(..)` or `.nest(..)`.
#[test]
fn routes_are_only_registered_with_their_description() {
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for needle in [".route(", ".route_service(", ".nest(", ".nest_service("] {
                assert!(
                    !text.contains(needle),
                    "{}: {needle} registers a route the OpenAPI document does not see; use routes!",
                    path.display()
                );
            }
        }
    }
}

/// Junk sent to every documented operation, as a company admin (and the super admin on the
/// admin routes): always a 4xx (or success), never a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_input_never_gets_a_5xx() {
    let test = TestApp::spawn().await;
    let c = crate::helpers::company(&test, "Junk").await;
    let doc = test
        .call(Method::GET, "/api/openapi.json", None, None)
        .await
        .body;
    let bodies: &[(&str, &[u8])] = &[
        ("application/json", b""),
        ("application/json", b"{"),
        ("application/json", b"[]"),
        ("application/json", b"null"),
        (
            "application/json",
            b"{\"title\": [1, {\"a\": null}], \"limit\": -1, \"content\": 7}",
        ),
        ("application/json", b"{\"prompt_tokens\": 1e400}"),
        ("application/json", b"\xff\xfe\x00"),
        ("text/plain", b"hello"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n",
        ),
        ("multipart/form-data", b"no boundary"),
    ];
    let queries = [
        "",
        "?limit=99999999999",
        "?offset=-5",
        "?q=%00%ff",
        "?group_by=,,,",
        "?from=9999-99-99",
        "?status=%27;--",
    ];
    let ids = [
        MISSING,
        "x",
        "%2e%2e",
        "00000000-0000-0000-0000-000000000000",
    ];
    let paths = doc["paths"].as_object().unwrap();
    assert!(
        paths.len() >= 30,
        "the document lists {} paths",
        paths.len()
    );
    for (path, item) in paths {
        // Company routes as a company admin; admin routes also as the super admin, so the
        // junk reaches their handlers instead of stopping at the guard's 403.
        let tokens: &[&str] = if path.starts_with("/api/admin") {
            &[&c.admin, &test.root_token]
        } else {
            &[&c.admin]
        };
        for method in item.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for (token, id) in tokens
                .iter()
                .flat_map(|t| ids.iter().map(move |id| (t, id)))
            {
                let concrete = concrete(path, id);
                for q in queries {
                    for (ct, body) in bodies {
                        let req = Request::builder()
                            .method(m.clone())
                            .uri(format!("{concrete}{q}"))
                            .header(header::AUTHORIZATION, format!("Bearer {token}"))
                            .header(header::CONTENT_TYPE, *ct)
                            .body(Body::from(body.to_vec()))
                            .unwrap();
                        let res = tower::ServiceExt::oneshot(test.router.clone(), req)
                            .await
                            .unwrap();
                        assert!(
                            res.status().as_u16() < 500,
                            "{method} {concrete}{q} with {ct} {:?} → {}",
                            String::from_utf8_lossy(body),
                            res.status()
                        );
                    }
                }
            }
        }
    }
}

/// The document states the limits the server enforces (schemathesis checks the rest against a
/// real server in scripts/schemathesis.sh): pages, text rules generated from the server's own
/// check, the answers every write can give; and the server refuses what the document refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_states_the_enforced_limits() {
    let test = TestApp::spawn().await;
    let doc = test
        .call(Method::GET, "/api/openapi.json", None, None)
        .await
        .body;
    let params = doc["paths"]["/api/reports"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))["schema"]
            .clone()
    };
    let limit = param("limit");
    assert_eq!(
        (limit["minimum"].as_f64(), limit["maximum"].as_f64()),
        (Some(1.0), Some(200.0))
    );
    let offset = param("offset");
    assert_eq!(offset["format"], "int64");
    assert_eq!(offset["maximum"].as_f64(), Some(4294967295.0));
    let report = &doc["components"]["schemas"]["CreateReport"]["properties"];
    // A one-line text is trimmed by the server: its length limit is in the pattern.
    let pattern = report["title"]["pattern"].as_str().unwrap();
    assert!(
        pattern.starts_with("^\\s*[^\\s\\u0000-\\u001F"),
        "{pattern}"
    );
    assert!(
        pattern.contains("{0,498}"),
        "500 characters at most: {pattern}"
    );
    assert!(
        pattern.contains("\\u202A-\\u202E"),
        "bidi overrides are refused: {pattern}"
    );
    let post = &doc["paths"]["/api/reports"]["post"]["responses"];
    for status in ["400", "408", "413", "415", "422", "507"] {
        assert!(
            post.get(status).is_some(),
            "POST /api/reports lacks {status}"
        );
    }
    assert!(
        doc["paths"]["/api/reports"]["get"]["responses"]
            .get("507")
            .is_none()
    );
    // A body the schema refuses as an object is refused by the server too.
    let acme = crate::helpers::company(&test, "Acme").await;
    let array = test
        .call(
            Method::PATCH,
            &format!("/api/reports/{}", crate::helpers::MISSING),
            Some(&acme.analyst),
            Some(serde_json::json!([null, null])),
        )
        .await;
    crate::helpers::assert_invalid(&array, "body");
    // An integral number written with a fraction is the integer JSON Schema says it is.
    let usage = test
        .post(
            "/api/usage",
            &acme.analyst,
            serde_json::json!({"provider": "custom", "model": "m", "operation_type": "chat",
                               "prompt_tokens": 10.0, "completion_tokens": 2}),
        )
        .await;
    assert_eq!(usage.status, StatusCode::CREATED, "{}", usage.body);
    assert_eq!(usage.body["total_tokens"], 12);
}

/// The contract does not change by accident: the served document equals docs/openapi.json
/// (keys sorted, as `python3 -m json.tool --sort-keys` writes it). A deliberate change
/// regenerates that file (`SILO_WRITE_OPENAPI=1` makes this test write it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_the_committed_contract() {
    let test = TestApp::spawn().await;
    let served = test
        .call(Method::GET, "/api/openapi.json", None, None)
        .await
        .body;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    if std::env::var_os("SILO_WRITE_OPENAPI").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&served).unwrap() + "\n").unwrap();
    }
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    if served != committed {
        let (a, b) = (
            serde_json::to_string_pretty(&committed).unwrap(),
            serde_json::to_string_pretty(&served).unwrap(),
        );
        let first = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        panic!(
            "the served OpenAPI document differs from docs/openapi.json from line {first}:\n\
             committed: {:?}\nserved:    {:?}",
            a.lines().skip(first).take(5).collect::<Vec<_>>(),
            b.lines().skip(first).take(5).collect::<Vec<_>>()
        );
    }
}
