//! A damaged company database is noticed — by migrate-all, by a backup, at run time and by
//! the background scrub — and then refuses writes (503 company_damaged) while reads that
//! still work go on, until a good backup is restored.

use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use silo::ops::restore::{RestoreOptions, restore_company_live};
use silo::ops::scrub;

use crate::helpers::{self, Company, TestApp};

fn silo(test: &TestApp, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_silo"))
        .args(args)
        .env("SILO_DATA_DIR", test.data_dir())
        .env("RUST_LOG", "warn")
        .output()
        .expect("running silo")
}

fn company_db(test: &TestApp, slug: &str) -> PathBuf {
    test.data_dir()
        .join("companies")
        .join(slug)
        .join("company.db")
}

async fn with_reports(test: &TestApp, name: &str, n: usize) -> Company {
    let company = helpers::company(test, name).await;
    for i in 0..n {
        let reply = test
            .post(
                "/api/reports",
                &company.analyst,
                json!({"title": format!("report {i}"), "report_type": "summary",
                       "report_data": {"n": i, "text": "x".repeat(200)}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    company
}

/// Closes the company, folds its WAL into the file, and overwrites the root page of its
/// saved_reports table with garbage (4 KiB in the middle of the file).
async fn corrupt(test: &TestApp, company: &Company, slug: &str) {
    drop(
        test.app
            .registry
            .close(company.key, "test", Duration::from_secs(5))
            .await
            .unwrap(),
    );
    let path = company_db(test, slug);
    let (root, page_size) = {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let root: i64 = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'saved_reports'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        (root as u64, size as u64)
    };
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start((root - 1) * page_size)).unwrap();
    file.write_all(&vec![0x5a; page_size as usize]).unwrap();
    file.sync_all().unwrap();
    // The premise: SQLite itself now finds the file damaged.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .unwrap();
    assert_ne!(check, "ok", "the overwrite did not damage the file");
}

fn company_row(test: &TestApp, slug: &str) -> (Option<String>, Option<String>) {
    let conn = test.app.primary.get().unwrap();
    conn.query_row(
        "SELECT damaged_at, damage FROM companies WHERE slug = ?1",
        [slug],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

fn audited(test: &TestApp, uuid: &str) -> Vec<String> {
    let conn = test.app.primary.get().unwrap();
    let mut stmt = conn
        .prepare("SELECT detail FROM audit_log WHERE action = 'company.damaged' AND target = ?1")
        .unwrap();
    stmt.query_map([uuid], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn assert_damaged(reply: &crate::helpers::Reply) {
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "company_damaged"),
        "{}",
        reply.body
    );
    assert!(
        reply.headers.get("retry-after").is_none(),
        "retrying cannot help"
    );
}

async fn wait_marked(test: &TestApp, slug: &str) {
    for _ in 0..100 {
        if company_row(test, slug).0.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{slug} was never marked damaged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_company_is_noticed_refuses_writes_and_comes_back_by_restore() {
    let test = TestApp::spawn().await;
    let acme = with_reports(&test, "Acme", 150).await;
    let globex = with_reports(&test, "Globex", 3).await;
    // A good backup, from before the damage.
    let good = silo(&test, &["backup", "--json"]);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let good: Value = serde_json::from_slice(&good.stdout).unwrap();
    let snapshot = PathBuf::from(good["snapshot"].as_str().unwrap());
    corrupt(&test, &acme, "acme").await;

    // migrate-all: reported damaged (not "current"), not backed up, exit status non-zero.
    let run = silo(&test, &["migrate-all-companies", "--json"]);
    assert!(!run.status.success());
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let status_of = |slug: &str| {
        report["companies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["slug"] == slug)
            .map(|c| (c["status"].clone(), c["error"].clone(), c["backup"].clone()))
            .unwrap()
    };
    let (status, error, backup) = status_of("acme");
    assert_eq!(status, "damaged");
    assert!(error.as_str().unwrap().contains("silo restore"), "{error}");
    assert!(backup.is_null());
    assert_eq!(status_of("globex").0, "current");
    assert_eq!(report["summary"]["damaged"], 1);
    assert!(company_row(&test, "acme").0.is_some());
    assert_eq!(audited(&test, &acme.id).len(), 1);

    // A backup keeps no damaged copy, and says so; the healthy company is backed up.
    let run = silo(&test, &["backup", "--json"]);
    assert!(!run.status.success());
    let backup: Value = serde_json::from_slice(&run.stdout).unwrap();
    let entries = backup["entries"].as_array().unwrap();
    let acme_entry = entries.iter().find(|e| e["slug"] == "acme").unwrap();
    assert!(acme_entry["file"].is_null());
    assert!(
        acme_entry["error"].as_str().unwrap().contains("damaged"),
        "{acme_entry}"
    );
    let damaged_copy = Path::new(backup["snapshot"].as_str().unwrap()).join("companies/acme.db");
    assert!(!damaged_copy.exists() && !damaged_copy.with_extension("db.partial").exists());
    assert!(
        entries
            .iter()
            .any(|e| e["slug"] == "globex" && e["error"].is_null())
    );

    // The server: writes refused, reads that work go on, reads that hit the damage say so.
    assert_damaged(
        &test
            .post(
                "/api/reports",
                &acme.analyst,
                json!({"title": "x", "report_type": "summary", "report_data": {}}),
            )
            .await,
    );
    let docs = test.get("/api/documents", &acme.analyst).await;
    assert_eq!(docs.status, StatusCode::OK, "{}", docs.body);
    assert_damaged(&test.get("/api/reports", &acme.analyst).await);
    // Another company is untouched.
    let other = test.get("/api/reports", &globex.analyst).await;
    assert_eq!(other.body["total"], 3);

    // The super admin sees it.
    let seen = test
        .get(
            &format!("/api/admin/companies/{}", acme.id),
            &test.root_token,
        )
        .await;
    assert!(seen.body["damaged_at"].is_string(), "{}", seen.body);
    assert!(
        seen.body["damage"]
            .as_str()
            .unwrap()
            .contains("quick_check")
    );

    // The documented way back: restore the newest good backup.
    let restored = restore_company_live(
        &test.app.registry,
        &test.data_dir(),
        &test
            .app
            .primary
            .get()
            .map(|c| {
                silo::store::primary::companies::find(&c, &acme.id)
                    .unwrap()
                    .unwrap()
            })
            .unwrap(),
        &snapshot,
        RestoreOptions {
            backup_dir: None,
            busy_timeout: Duration::from_secs(5),
        },
    )
    .await
    .unwrap();
    assert_eq!(restored.slug, "acme");
    assert_eq!(company_row(&test, "acme"), (None, None));
    let list = test.get("/api/reports", &acme.analyst).await;
    assert_eq!(list.body["total"], 150, "{}", list.body);
    let write = test
        .post(
            "/api/reports",
            &acme.analyst,
            json!({"title": "after restore", "report_type": "summary", "report_data": {}}),
        )
        .await;
    assert_eq!(write.status, StatusCode::CREATED, "{}", write.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_met_at_run_time_or_by_the_scrub_marks_the_company() {
    let test = TestApp::spawn().await;
    let initech = with_reports(&test, "Initech", 150).await;
    let hooli = with_reports(&test, "Hooli", 150).await;
    let fine = with_reports(&test, "Fine", 150).await;
    corrupt(&test, &initech, "initech").await;
    corrupt(&test, &hooli, "hooli").await;

    // At run time: SQLITE_CORRUPT is 503 company_damaged (not a 500), and marks the company.
    assert_damaged(&test.get("/api/reports", &initech.analyst).await);
    wait_marked(&test, "initech").await;
    let audit = audited(&test, &initech.id);
    assert_eq!(audit.len(), 1);
    assert!(audit[0].contains("a request"), "{audit:?}");
    assert_damaged(
        &test
            .post(
                "/api/reports",
                &initech.analyst,
                json!({"title": "x", "report_type": "summary", "report_data": {}}),
            )
            .await,
    );

    // A corruption error that did not come from the company's own file (say, primary.db)
    // does not mark a healthy company: its file is checked first.
    let db = test.app.registry.get(fine.key).await.unwrap();
    db.clone()
        .suspect_corruption("database disk image is malformed".into(), "a request");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!db.is_damaged());
    assert!(company_row(&test, "fine").0.is_none());
    drop(db);

    // The scrub: a pass checks every company and finds both, the healthy one is recorded ok.
    assert!(company_row(&test, "hooli").0.is_none());
    let found = scrub::pass(&test.app, Duration::ZERO).await.unwrap();
    assert_eq!(found, 2);
    assert!(
        company_row(&test, "hooli")
            .1
            .unwrap()
            .contains("quick_check")
    );
    let hooli_audit = audited(&test, &hooli.id);
    assert_eq!(hooli_audit.len(), 1);
    assert!(hooli_audit[0].contains("the scrub"));
    let checked: Option<String> = test
        .app
        .primary
        .get()
        .unwrap()
        .query_row(
            "SELECT integrity_checked_at FROM companies WHERE slug = 'fine'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(checked.is_some());
    assert!(company_row(&test, "fine").0.is_none());
    assert_damaged(
        &test
            .post(
                "/api/reports",
                &hooli.analyst,
                json!({"title": "x", "report_type": "summary", "report_data": {}}),
            )
            .await,
    );
    let ok = test
        .post(
            "/api/reports",
            &fine.analyst,
            json!({"title": "x", "report_type": "summary", "report_data": {}}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    // /metrics counts them.
    let req = axum::http::Request::get("/metrics")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(test.router.clone(), req)
        .await
        .unwrap();
    let text = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(text.contains("silo_companies_damaged 2\n"), "{text}");
    assert!(text.contains("silo_scrub_checks_total{result=\"damaged\"} 2\n"));
    assert!(text.contains("silo_scrub_checks_total{result=\"ok\"} 1\n"));
}
