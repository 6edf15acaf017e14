//! The OpenAPI document: served publicly, and complete: every documented operation is
//! routed, and every workspace route of the API contract is documented.

use axum::http::{Method, StatusCode};

use super::helpers::MISSING;
use crate::common::TestApp;

/// The workspace routes of shared/API.md.
const CONTRACT: &[(&str, &str)] = &[
    ("post", "/api/documents"),
    ("get", "/api/documents"),
    ("get", "/api/documents/{id}"),
    ("patch", "/api/documents/{id}"),
    ("delete", "/api/documents/{id}"),
    ("get", "/api/documents/{id}/chunks"),
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
    ("post", "/api/search"),
];

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
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            documented.push((method.clone(), path.clone()));
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}: no responses"
            );
            assert!(op.get("security").is_some(), "{method} {path}: no security");
            if ["post", "put", "patch"].contains(&method.as_str()) {
                assert!(
                    op.get("requestBody").is_some(),
                    "{method} {path}: no request body"
                );
            }
            // The router answers it: unauthenticated → 401 from the route's guard, never the
            // 404/405 fallbacks of an unknown route.
            let concrete = path.replace("{id}", MISSING);
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = test.call(m, &concrete, None, None).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} is documented but not routed: {}",
                r.body
            );
        }
    }
    for (method, path) in CONTRACT {
        assert!(
            documented.iter().any(|(m, p)| m == method && p == path),
            "{method} {path} is routed but not documented"
        );
    }
    assert_eq!(documented.len(), CONTRACT.len(), "{documented:?}");
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
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    // A route that is not in the document is not routed either.
    let r = test.call(Method::GET, "/api/nowhere", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Junk sent to every documented operation, as a company admin: always a 4xx (or success),
/// never a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_input_never_gets_a_5xx() {
    use axum::body::Body;
    use axum::http::{Request, header};
    let test = TestApp::spawn().await;
    let c = super::helpers::company(&test, "Junk").await;
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
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for id in ids {
                let concrete = path.replace("{id}", id);
                for q in queries {
                    for (ct, body) in bodies {
                        let req = Request::builder()
                            .method(m.clone())
                            .uri(format!("{concrete}{q}"))
                            .header(header::AUTHORIZATION, format!("Bearer {}", c.admin))
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
