//! /api/profile: one per company, starting at defaults and merged on PUT.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_starts_at_defaults_and_merges_updates() {
    let test = TestApp::spawn().await;
    let c = company(&test, "Profile").await;
    let other = company(&test, "Profile Other").await;
    let p = test.get("/api/profile", &c.viewer).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert_eq!(p.body["energy_mix_weight"], 0.4);
    assert_eq!(p.body["onboarding_completed"], false);
    assert!(p.body["industry"].is_null() && p.body["created_at"].is_null());

    let r = test
        .put(
            "/api/profile",
            &c.admin,
            json!({"industry": "Manufacturing", "location": "Pune", "target_year": 2030,
        "budget": 150000.0, "current_renewable_percentage": 35.5, "extra": {"sites": 3}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["industry"], "Manufacturing");
    assert_eq!(r.body["extra"], json!({"sites": 3}));
    assert!(r.body["created_at"].is_string());
    // One field at a time; the rest is kept; null clears.
    let r = test
        .put(
            "/api/profile",
            &c.admin,
            json!({"energy_mix_weight": 0.5, "location": null, "onboarding_completed": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["industry"].as_str(), r.body["target_year"].as_i64()),
        (Some("Manufacturing"), Some(2030))
    );
    assert!(r.body["location"].is_null());
    assert_eq!(
        (
            r.body["energy_mix_weight"].as_f64(),
            r.body["onboarding_completed"].as_bool()
        ),
        (Some(0.5), Some(true))
    );
    assert_eq!(test.get("/api/profile", &c.analyst).await.body, r.body);
    let rows = in_company(&test, c.key, |conn| {
        Ok(conn.query_row("SELECT COUNT(*) FROM profiles", [], |r| r.get::<_, i64>(0))?)
    })
    .await;
    assert_eq!(rows, 1);
    // Per company: the other company still has the default profile.
    let theirs = test.get("/api/profile", &other.admin).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    assert!(theirs.body["industry"].is_null(), "{}", theirs.body);
    assert_ne!(theirs.body, r.body);

    let put = |body| test.put("/api/profile", &c.admin, body);
    assert_invalid(&put(json!({"target_year": 1800})).await, "target_year");
    assert_invalid(
        &put(json!({"current_renewable_percentage": 101})).await,
        "current_renewable_percentage",
    );
    assert_invalid(
        &put(json!({"energy_mix_weight": 1.5})).await,
        "energy_mix_weight",
    );
    assert_invalid(&put(json!({"budget": -1})).await, "budget");
    assert_invalid(&put(json!({"target_year": "soon"})).await, "target_year");
    assert_invalid(&put(json!({"extra": [1]})).await, "extra");
    assert_invalid(&put(json!({"company_id": 7})).await, "company_id");
    // Analysts read the profile but do not change it.
    assert_error(
        &test
            .put("/api/profile", &c.analyst, json!({"budget": 1}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}
