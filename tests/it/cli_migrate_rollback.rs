//! `silo migrate-all-companies --rollback BACKUP_DIR` through the real binary: 50 companies
//! migrated and put back byte for byte (by the sha256 of their logical content), a company
//! written after its migration refused unless forced, dry runs, a changed backup, bad input.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use silo::store::db::fingerprint;
use silo::store::primary::companies::Company;

use crate::helpers::data_dir::*;

/// sha256 of the logical content of the database at `path`.
fn logical_sha256(path: &Path) -> String {
    let conn = Connection::open(path).unwrap();
    fingerprint::fingerprint(&conn).unwrap().sha256()
}

fn backup_of(backup_dir: &Path, company: &Company) -> PathBuf {
    backup_dir
        .join("companies")
        .join(format!("{}.db", company.slug))
}

/// Migrates `n` V1 companies; returns them and the run's backup directory.
fn migrated(data: &TestData, n: usize) -> (Vec<Company>, PathBuf) {
    let companies: Vec<_> = (0..n)
        .map(|i| data.v1_company(&format!("Company {i:02}")))
        .collect();
    let out = data.silo(&["migrate-all-companies", "--json", "--concurrency", "2"]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["summary"]["migrated"], n);
    let dir = PathBuf::from(report["backup_dir"].as_str().unwrap());
    for c in &companies {
        assert_eq!(version_of(&data.db_path(c)), latest());
        assert!(
            dir.join("companies")
                .join(format!("{}.migration.json", c.slug))
                .is_file()
        );
    }
    (companies, dir)
}

fn entry<'a>(report: &'a serde_json::Value, company: &Company) -> &'a serde_json::Value {
    report["companies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == company.uuid.as_str())
        .unwrap_or_else(|| panic!("no entry for {}: {report}", company.slug))
}

/// A row written after the migration, as a server would write it.
fn write_after_migration(data: &TestData, company: &Company) {
    let conn = Connection::open(data.db_path(company)).unwrap();
    conn.execute(
        "INSERT INTO conversations (uuid, user_id, title) VALUES ('conv-late', 'user-1', 'Late')",
        [],
    )
    .unwrap();
}

#[test]
fn fifty_companies_roll_back_byte_for_byte_and_one_written_since_is_refused() {
    let data = TestData::new();
    let (companies, backup_dir) = migrated(&data, 50);
    let written = &companies[17];
    write_after_migration(&data, written);
    let written_before = logical_sha256(&data.db_path(written));
    let dir = backup_dir.to_str().unwrap();

    let out = data.silo(&[
        "migrate-all-companies",
        "--rollback",
        dir,
        "--json",
        "--concurrency",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).contains("1 of 50 companies were not rolled back"),
        "{}",
        stderr(&out)
    );
    let report = json(&out);
    assert_eq!(report["summary"]["total"], 50);
    assert_eq!(report["summary"]["rolled_back"], 49);
    assert_eq!(report["summary"]["refused"], 1);
    let saved_to = PathBuf::from(report["saved_to"].as_str().unwrap());
    for company in &companies {
        let e = entry(&report, company);
        let live = data.db_path(company);
        if company.id == written.id {
            continue;
        }
        assert_eq!(e["status"], "rolled_back", "{e}");
        assert_eq!(e["from_version"], latest());
        assert_eq!(e["to_version"], 1);
        assert!(e["error"].is_null(), "{e}");
        assert_eq!(
            logical_sha256(&live),
            logical_sha256(&backup_of(&backup_dir, company)),
            "{} is not its backup",
            company.slug
        );
        assert_eq!(version_of(&live), 1);
        assert_eq!(
            fixture_counts(&Connection::open(&live).unwrap()),
            vec![1, 2, 1, 1, 1]
        );
        // The migrated database it replaced was saved, still migrated.
        let previous = PathBuf::from(e["previous"].as_str().unwrap());
        assert!(previous.starts_with(&saved_to), "{e}");
        assert_eq!(version_of(&previous), latest());
    }

    // Refused, unchanged, with what a forced rollback would discard.
    let refused = entry(&report, written);
    assert_eq!(refused["status"], "refused", "{refused}");
    assert_eq!(refused["rows_changed"], 1);
    assert_eq!(refused["changes"][0]["table"], "conversations", "{refused}");
    assert_eq!(refused["changes"][0]["rows_then"], 1);
    assert_eq!(refused["changes"][0]["rows_now"], 2);
    let why = refused["error"].as_str().unwrap();
    assert!(
        why.contains("written after its migration") && why.contains("--force"),
        "{why}"
    );
    assert!(refused["previous"].is_null());
    assert_eq!(logical_sha256(&data.db_path(written)), written_before);
    assert_eq!(version_of(&data.db_path(written)), latest());

    // Forced: rolled back, and the late write kept in the saved copy.
    let out = data.silo(&[
        "migrate-all-companies",
        "--rollback",
        dir,
        "--company",
        &written.slug,
        "--force",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["summary"]["total"], 1);
    let forced = entry(&report, written);
    assert_eq!(forced["status"], "rolled_back", "{forced}");
    assert_eq!(forced["rows_changed"], 1);
    assert_eq!(
        logical_sha256(&data.db_path(written)),
        logical_sha256(&backup_of(&backup_dir, written))
    );
    let previous = PathBuf::from(forced["previous"].as_str().unwrap());
    let late: i64 = Connection::open(&previous)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM conversations WHERE uuid = 'conv-late'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(late, 1);

    // A second rollback of the same run: every company is now at its backup, not at the
    // state the migration left, so each is refused and nothing changes.
    let before = hash_tree(&data.data_dir().join("companies"));
    let out = data.silo(&[
        "migrate-all-companies",
        "--rollback",
        dir,
        "--company",
        &companies[0].slug,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("refused") && table.contains(&companies[0].slug),
        "{table}"
    );
    assert_eq!(hash_tree(&data.data_dir().join("companies")), before);
}

#[test]
fn a_dry_run_changes_nothing_and_says_what_it_would_do() {
    let data = TestData::new();
    let (companies, backup_dir) = migrated(&data, 3);
    write_after_migration(&data, &companies[1]);
    // primary.db is only read (this process holds it open, so its WAL may move).
    let files = |data: &TestData| {
        let mut all = hash_tree(&data.data_dir().join("companies"));
        all.extend(hash_tree(&data.data_dir().join("backups")));
        all
    };
    let before = files(&data);
    let out = data.silo(&[
        "migrate-all-companies",
        "--rollback",
        backup_dir.to_str().unwrap(),
        "--dry-run",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["summary"]["would_roll_back"], 2);
    assert_eq!(report["summary"]["refused"], 1);
    assert!(report["saved_to"].is_null());
    assert_eq!(entry(&report, &companies[0])["status"], "would_roll_back");
    assert_eq!(entry(&report, &companies[1])["status"], "refused");
    assert_eq!(files(&data), before);
}

#[test]
fn a_backup_changed_since_the_migration_is_not_put_back() {
    let data = TestData::new();
    let (companies, backup_dir) = migrated(&data, 2);
    let tampered = backup_of(&backup_dir, &companies[0]);
    Connection::open(&tampered)
        .unwrap()
        .execute("UPDATE messages SET content = 'changed'", [])
        .unwrap();
    let live_before = logical_sha256(&data.db_path(&companies[0]));
    let out = data.silo(&[
        "migrate-all-companies",
        "--rollback",
        backup_dir.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "stderr: {}", stderr(&out));
    let report = json(&out);
    let bad = entry(&report, &companies[0]);
    assert_eq!(bad["status"], "failed", "{bad}");
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("not the copy the migration took"),
        "{bad}"
    );
    assert_eq!(logical_sha256(&data.db_path(&companies[0])), live_before);
    assert_eq!(version_of(&data.db_path(&companies[0])), latest());
    assert_eq!(entry(&report, &companies[1])["status"], "rolled_back");
}

#[test]
fn a_directory_without_records_or_a_stray_force_is_a_clear_error() {
    let data = TestData::new();
    let (companies, backup_dir) = migrated(&data, 1);
    let company_dir = data.db_path(&companies[0]).parent().unwrap().to_path_buf();
    let before = hash_tree(&company_dir);

    let missing = data.dir.path().join("no-such-backup");
    let out = data.silo(&[
        "migrate-all-companies",
        "--rollback",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no backup directory at"),
        "{}",
        stderr(&out)
    );

    // A `silo backup` snapshot has copies but no migration records.
    let plain = data.dir.path().join("plain-backup");
    let out = data.silo(&["backup", "--out", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let snapshot = std::fs::read_dir(&plain)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let out = data.silo(&[
        "migrate-all-companies",
        "--rollback",
        snapshot.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("holds no migration records"),
        "{}",
        stderr(&out)
    );

    let other = data.company("Never migrated");
    let out = data.silo(&[
        "migrate-all-companies",
        "--rollback",
        backup_dir.to_str().unwrap(),
        "--company",
        &other.slug,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("holds no migration record of company"),
        "{}",
        stderr(&out)
    );

    let out = data.silo(&["migrate-all-companies", "--force"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses --force alone");
    assert!(stderr(&out).contains("--rollback"), "{}", stderr(&out));

    assert_eq!(hash_tree(&company_dir), before);
}
