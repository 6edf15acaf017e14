//! Texts shown beside other tenants' and users' texts (company names, report titles and
//! tags, full names) refuse invisible formatting characters and are stored in NFC.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

/// Texts shown beside other tenants' and users' texts refuse invisible formatting
/// characters (bidi overrides, zero-width characters) and are stored in NFC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_titles_refuse_invisible_characters_and_are_stored_in_nfc() {
    let test = TestApp::spawn().await;
    for spoof in [
        "Acme\u{202E}gnp.exe",
        "Ac\u{200B}me",
        "\u{FEFF}Acme",
        "Ac\u{2066}me",
    ] {
        let reply = test
            .post(
                "/api/admin/companies",
                &test.root_token,
                json!({"name": spoof}),
            )
            .await;
        assert_eq!(
            (reply.status, reply.body["error"]["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("name")),
            "{spoof:?}: {}",
            reply.body
        );
        assert!(reply.message().contains("invisible formatting characters"));
    }
    let listed = test.get("/api/admin/companies", &test.root_token).await;
    assert_eq!(listed.body["total"], 0, "{}", listed.body);
    // "Café" typed with a combining accent is stored precomposed.
    let cafe = test.create_company("Cafe\u{301} Müller").await;
    assert_eq!(cafe["name"], "Café Müller");
    let cid = cafe["id"].as_str().unwrap();
    let (_, token) = test.create_user(cid, "analyst").await;
    let report = |title: &str, tags: serde_json::Value| {
        test.post(
            "/api/reports",
            &token,
            json!({"title": title, "report_type": "summary", "report_data": {}, "tags": tags}),
        )
    };
    let bad = report("Q3\u{200D}", json!([])).await;
    assert_eq!(
        (bad.status, bad.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("title"))
    );
    let bad_tag = report("Q3", json!(["ok", "t\u{202D}ag"])).await;
    assert_eq!(
        (bad_tag.status, bad_tag.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("tags[1]"))
    );
    let user = test
        .post(
            "/api/admin/users",
            &test.root_token,
            json!({"email": "x@silo.test", "password": "long-enough-pw", "role": "viewer",
                   "company_id": cid, "full_name": "Eve\u{202E}"}),
        )
        .await;
    assert_eq!(
        (user.status, user.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("full_name"))
    );
    let good = report("Re\u{301}sume\u{301}", json!([])).await;
    assert_eq!(good.status, StatusCode::CREATED, "{}", good.body);
    assert_eq!(good.body["title"], "Résumé");
}
