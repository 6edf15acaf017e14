//! `silo backup` and `silo restore` through the real binary.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use rusqlite::Connection;

use crate::helpers::data_dir::*;

fn integrity(conn: &Connection) -> String {
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Rows are written continuously (one transaction each) while `silo backup` runs. The
/// backup passes integrity_check and holds every row committed before it began, as an
/// unbroken sequence (a consistent snapshot, not a torn copy). Restoring it brings exactly
/// those rows back, empties vectors/, and the registry opens the company.
#[test]
fn a_backup_during_writes_restores_consistently() {
    let data = TestData::new();
    let company = data.company("Busy Writer");
    let path = data.db_path(&company);
    let vectors = path.parent().unwrap().join("vectors");
    std::fs::write(vectors.join("index.hnsw.graph"), b"stale index").unwrap();

    let committed = Arc::new(AtomicI64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (committed, stop, path) = (committed.clone(), stop.clone(), path.clone());
        std::thread::spawn(move || {
            let mut conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;")
                .unwrap();
            let mut n = 0i64;
            while !stop.load(Ordering::Relaxed) || n < 200 {
                n += 1;
                let tx = silo::store::db::write_tx(&mut conn).unwrap();
                tx.execute(
                    "INSERT INTO token_usage (id, uuid, user_id, provider, model, operation_type)
                     VALUES (?1, 'u-' || ?1, 'user-1', 'p', 'm', 'chat')",
                    [n],
                )
                .unwrap();
                tx.commit().unwrap();
                committed.store(n, Ordering::SeqCst);
            }
            n
        })
    };
    while committed.load(Ordering::SeqCst) < 50 {
        std::thread::yield_now();
    }
    let before_backup = committed.load(Ordering::SeqCst);
    let out = data.silo(&["backup", "--company", &company.slug, "--json"]);
    stop.store(true, Ordering::Relaxed);
    let total = writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let report = json(&out);
    let file = PathBuf::from(report["entries"][0]["file"].as_str().unwrap());
    let snapshot = PathBuf::from(report["snapshot"].as_str().unwrap());
    assert_eq!(
        report["entries"].as_array().unwrap().len(),
        1,
        "no primary with --company"
    );

    let copy = Connection::open(&file).unwrap();
    assert_eq!(integrity(&copy), "ok");
    let (rows, max): (i64, i64) = copy
        .query_row(
            "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM token_usage",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        rows >= before_backup,
        "backup has {rows} rows, {before_backup} were committed"
    );
    assert_eq!(rows, max, "the rows form one unbroken sequence");
    assert!(
        total > rows,
        "the writer kept going during and after the backup"
    );
    drop(copy);

    let out = data.silo(&[
        "restore",
        "--company",
        &company.uuid,
        "--from",
        snapshot.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let restored = json(&out);
    assert_eq!(restored["schema_version"], latest());
    let previous = PathBuf::from(restored["previous"].as_str().unwrap());
    let live = Connection::open(&path).unwrap();
    assert_eq!(integrity(&live), "ok");
    let live_rows: i64 = live
        .query_row("SELECT COUNT(*) FROM token_usage", [], |r| r.get(0))
        .unwrap();
    assert_eq!(live_rows, rows);
    let mode: String = live
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(live);
    // The replaced database was saved, with everything the writer committed.
    let saved: i64 = Connection::open(&previous)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM token_usage", [], |r| r.get(0))
        .unwrap();
    assert_eq!(saved, total);
    assert_eq!(
        std::fs::read_dir(&vectors).unwrap().count(),
        0,
        "index emptied"
    );

    let app = data.app();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(app.registry.get(company.id)).unwrap();
    assert_eq!(db.schema_version(), latest());
}

/// A damaged backup, or one from a newer binary, is refused before the live file is touched.
#[test]
fn restore_refuses_bad_backups() {
    let data = TestData::new();
    let company = data.v1_company("Careful");
    let path = data.db_path(&company);
    let hash = sha256_file(&path);
    let dir = data.dir.path();

    let garbage = dir.join("garbage.db");
    std::fs::write(&garbage, vec![7u8; 8192]).unwrap();
    let newer = dir.join("newer.db");
    std::fs::copy(&path, &newer).unwrap();
    Connection::open(&newer)
        .unwrap()
        .execute_batch(
            "PRAGMA journal_mode = DELETE;
             INSERT INTO silo_company_migrations VALUES (99, 'future', '2030-01-01T00:00:00Z', '1');",
        )
        .unwrap();
    let primary = data.data_dir().join("primary.db");

    for (from, why) in [
        (&garbage, "not a database"),
        (&newer, "newer than this binary"),
        (&primary, "not a company database"),
        (&dir.join("missing.db"), "no backup of company"),
    ] {
        let out = data.silo(&[
            "restore",
            "--company",
            &company.slug,
            "--from",
            from.to_str().unwrap(),
        ]);
        assert_ne!(out.status.code(), Some(0));
        assert!(stderr(&out).contains(why), "{why}: {}", stderr(&out));
        assert_eq!(sha256_file(&path), hash, "live database untouched");
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".restore-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `--keep N` leaves the newest N snapshots; a full backup includes primary.db.
#[test]
fn backups_rotate() {
    let data = TestData::new();
    data.company("Rotating");
    let out_dir = data.dir.path().join("elsewhere");
    let mut snapshots = Vec::new();
    for _ in 0..3 {
        let out = data.silo(&[
            "backup",
            "--out",
            out_dir.to_str().unwrap(),
            "--keep",
            "2",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
        let report = json(&out);
        assert_eq!(report["entries"][0]["slug"], "primary");
        snapshots.push(PathBuf::from(report["snapshot"].as_str().unwrap()));
    }
    assert!(!snapshots[0].exists());
    assert!(snapshots[1].join("primary.db").is_file());
    assert!(snapshots[2].join("companies/rotating.db").is_file());
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 2);
}
