//! `silo migrate-all-companies` through the real binary: per-company failures, a migration
//! failing midway, dry runs, unknown companies, second runs.

use std::path::PathBuf;

use rusqlite::Connection;
use silo::store::db::migrations::{self, MigrationSet};

use crate::helpers::data_dir::*;

/// 50 companies behind; one file corrupt, one held by an open `BEGIN EXCLUSIVE`. The other
/// 48 migrate (and are backed up first), the two fail unchanged, the exit status is 1, and
/// the JSON report says so per company.
#[test]
fn fifty_companies_one_corrupt_one_locked() {
    let data = TestData::new();
    let companies: Vec<_> = (0..50)
        .map(|i| data.v1_company(&format!("Company {i:02}")))
        .collect();
    let corrupt = &companies[7];
    let corrupt_path = data.db_path(corrupt);
    std::fs::write(&corrupt_path, b"this is not a database ".repeat(400)).unwrap();
    let corrupt_hash = sha256_file(&corrupt_path);
    let locked = &companies[23];
    let locker = Connection::open(data.db_path(locked)).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE;").unwrap();

    let out = data.silo(&[
        "migrate-all-companies",
        "--json",
        "--concurrency",
        "2",
        "--busy-timeout-ms",
        "300",
    ]);
    locker.execute_batch("ROLLBACK;").unwrap();
    drop(locker);

    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(stderr(&out).contains("2 of 50 companies did not migrate"));
    let report = json(&out);
    assert_eq!(report["primary"]["status"], "current");
    let summary = &report["summary"];
    assert_eq!(summary["total"], 50);
    assert_eq!(summary["migrated"], 48);
    assert_eq!(summary["failed"], 2);
    let backup_dir = PathBuf::from(report["backup_dir"].as_str().unwrap());
    assert!(backup_dir.starts_with(data.data_dir().join("backups")));

    assert_eq!(
        report["companies"].as_array().unwrap().len(),
        companies.len()
    );
    for (company, entry) in companies
        .iter()
        .zip(report["companies"].as_array().unwrap())
    {
        assert_eq!(entry["id"], company.uuid.as_str());
        assert_eq!(entry["name"], company.name.as_str());
        let path = data.db_path(company);
        if company.id == corrupt.id || company.id == locked.id {
            assert_eq!(entry["status"], "failed", "{entry}");
            assert!(entry["backup"].is_null());
            continue;
        }
        assert_eq!(entry["status"], "migrated", "{entry}");
        assert_eq!(entry["from_version"], 1);
        assert_eq!(entry["to_version"], latest());
        assert_eq!(entry["pending"][0], "V2__chunk_embedding_model");
        assert!(entry["error"].is_null());
        assert!(entry["duration_ms"].is_u64());
        // Migrated, rows intact, and the backup holds the V1 state with the same rows.
        let conn = Connection::open(&path).unwrap();
        assert_eq!(fixture_counts(&conn), vec![1, 2, 1, 1, 1]);
        assert!(has_column(&conn, "document_chunks", "embedding_model"));
        let backup = PathBuf::from(entry["backup"].as_str().unwrap());
        assert_eq!(
            backup,
            backup_dir
                .join("companies")
                .join(format!("{}.db", company.slug))
        );
        assert_eq!(version_of(&backup), 1);
        assert_eq!(
            fixture_counts(&Connection::open(&backup).unwrap()),
            vec![1, 2, 1, 1, 1]
        );
    }

    let by_id = |id: &str| {
        report["companies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap()
            .clone()
    };
    let bad = by_id(&corrupt.uuid);
    assert!(
        bad["error"].as_str().unwrap().contains("not a database"),
        "{bad}"
    );
    assert!(bad["from_version"].is_null());
    assert_eq!(sha256_file(&corrupt_path), corrupt_hash);

    let busy = by_id(&locked.uuid);
    assert!(busy["error"].as_str().unwrap().contains("locked"), "{busy}");
    assert_eq!(busy["from_version"], 1);
    assert_eq!(busy["to_version"], 1);
    let conn = Connection::open(data.db_path(locked)).unwrap();
    assert_eq!(
        migrations::current_version(&conn, MigrationSet::Company).unwrap(),
        1
    );
    assert!(!has_column(&conn, "document_chunks", "embedding_model"));
    assert_eq!(fixture_counts(&conn), vec![1, 2, 1, 1, 1]);
}

/// V2 fails half-way (its ALTER succeeds, its CREATE INDEX collides with an index already
/// there): the company stays at V1, with no column added and nothing recorded.
#[test]
fn a_migration_failing_midway_changes_nothing() {
    let data = TestData::new();
    let company = data.v1_company("Halfway");
    let path = data.db_path(&company);
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE INDEX idx_document_chunks_embedding_pending ON document_chunks (chunk_index);",
    )
    .unwrap();
    drop(conn);

    let out = data.silo(&[
        "migrate-all-companies",
        "--json",
        "--company",
        &company.slug,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let entry = &report["companies"][0];
    assert_eq!(entry["status"], "failed");
    let error = entry["error"].as_str().unwrap();
    assert!(
        error.contains("V2__chunk_embedding_model") && error.contains("already exists"),
        "{error}"
    );
    assert_eq!(entry["from_version"], 1);
    assert_eq!(entry["to_version"], 1);

    let conn = Connection::open(&path).unwrap();
    assert_eq!(
        migrations::current_version(&conn, MigrationSet::Company).unwrap(),
        1
    );
    let recorded: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM silo_company_migrations WHERE version = 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(recorded, 0);
    assert!(!has_column(&conn, "document_chunks", "embedding_model"));
    assert_eq!(fixture_counts(&conn), vec![1, 2, 1, 1, 1]);
}

/// `--dry-run` reports what would apply and proves it on copies, but no file in the data
/// directory changes (same names, same sha256) and no backup is made.
#[test]
fn dry_run_changes_no_file() {
    let mut data = TestData::new();
    let behind: Vec<_> = (0..3)
        .map(|i| data.v1_company(&format!("Dry {i}")))
        .collect();
    let current = data.company("Already Current");
    data.close_app();
    let before = hash_tree(&data.data_dir());

    let out = data.silo(&["migrate-all-companies", "--dry-run", "--json"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["dry_run"], true);
    assert!(report["backup_dir"].is_null());
    assert_eq!(report["summary"]["would_migrate"], 3);
    assert_eq!(report["summary"]["current"], 1);
    for entry in report["companies"].as_array().unwrap() {
        if entry["id"] == current.uuid.as_str() {
            assert_eq!(entry["status"], "current");
            continue;
        }
        assert_eq!(entry["status"], "would_migrate");
        assert_eq!(entry["from_version"], 1);
        assert_eq!(entry["to_version"], latest());
        assert_eq!(
            entry["pending"],
            serde_json::json!(silo::store::db::migrations::MigrationSet::Company.pending_after(1))
        );
    }

    assert_eq!(hash_tree(&data.data_dir()), before);
    for company in &behind {
        assert_eq!(version_of(&data.db_path(company)), 1);
    }
}

#[test]
fn an_unknown_company_is_a_clear_error() {
    let data = TestData::new();
    data.company("Known");
    for args in [
        &["migrate-all-companies", "--company", "no-such-company"][..],
        &[
            "migrate-all-companies",
            "--company",
            "0b1c6a4e-0000-4000-8000-000000000000",
        ],
        &["backup", "--company", "no-such-company"],
        &[
            "restore",
            "--company",
            "no-such-company",
            "--from",
            "/nonexistent",
        ],
    ] {
        let out = data.silo(args);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(
            stderr(&out).contains("no company with id or slug"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// A second run finds everything current and changes nothing; the table output names
/// every company.
#[test]
fn a_second_run_finds_everything_current() {
    let data = TestData::new();
    let a = data.v1_company("Again A");
    data.v1_company("Again B");
    let first = data.silo(&["migrate-all-companies"]);
    assert_eq!(first.status.code(), Some(0), "stderr: {}", stderr(&first));
    let table = String::from_utf8_lossy(&first.stdout);
    assert!(
        table.contains("again-a") && table.contains("migrated"),
        "{table}"
    );
    let hash = sha256_file(&data.db_path(&a));
    let second = data.silo(&["migrate-all-companies", "--json", "--no-backup"]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(json(&second)["summary"]["current"], 2);
    assert_eq!(sha256_file(&data.db_path(&a)), hash);
}
