//! `silo company export` and `silo company import` through the real binary: a company with
//! documents (text, PDF, DOCX), a conversation and usage moves into a second data directory
//! with the same rows, files and search results; tampered archives are refused with a clear
//! error and nothing is created.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use silo::store::db::fingerprint;

use crate::helpers::files::{docx, pdf};
use crate::helpers::*;

fn silo(data_dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_silo"))
        .args(args)
        .env("SILO_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("running silo")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A company with three documents, a conversation with two messages and usage rows.
pub async fn company_with_data(test: &TestApp) -> Company {
    let c = company(test, "Acme Export").await;
    ingest_tides_and_revenue(test, &c.admin).await;
    let (_, job) = ingest(
        test,
        &c.admin,
        "wind.pdf",
        &pdf(&[
            "Offshore wind farms deliver power to the grid.",
            "Turbine maintenance schedules.",
        ]),
        "company",
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    let (_, job) = ingest(
        test,
        &c.analyst,
        "policy.docx",
        &docx(&[
            "Travel policy: book economy class.",
            "Receipts within 30 days.",
        ]),
        "company",
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    let conv = test
        .post("/api/conversations", &c.analyst, json!({"title": "Tides"}))
        .await;
    assert_eq!(conv.status, StatusCode::CREATED, "{}", conv.body);
    let id = conv.body["id"].as_str().unwrap();
    for content in [
        "What causes spring tides?",
        "The moon and the sun together.",
    ] {
        let reply = test
            .post(
                &format!("/api/conversations/{id}/messages"),
                &c.analyst,
                json!({"content": content}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    c
}

/// What the company's admin and analyst see: documents, the analyst's conversations, usage
/// totals, searches.
async fn view(test: &TestApp, token: &str, analyst: &str) -> Value {
    let docs = test.get("/api/documents?limit=100", token).await;
    assert_eq!(docs.status, StatusCode::OK, "{}", docs.body);
    let mut documents: Vec<Value> = docs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            json!([
                d["id"],
                d["title"],
                d["status"],
                d["file_size"],
                d["sha256"]
            ])
        })
        .collect();
    documents.sort_by_key(|d| d.to_string());
    let convs = test.get("/api/conversations", analyst).await;
    assert_eq!(convs.status, StatusCode::OK, "{}", convs.body);
    let conversations: Vec<Value> = convs.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!([c["id"], c["title"]]))
        .collect();
    let usage = test.get("/api/usage/summary", token).await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.body);
    let mut searches = Vec::new();
    for (query, mode) in [
        ("moon tides", "hybrid"),
        ("revenue margin", "keyword"),
        ("wind turbine power", "vector"),
    ] {
        let reply = test
            .post(
                "/api/search",
                token,
                json!({"query": query, "mode": mode, "k": 5}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let hits: Vec<Value> = reply.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| json!([h["document_id"], h["chunk_index"], h["score"]]))
            .collect();
        assert!(!hits.is_empty(), "{query}: {}", reply.body);
        searches.push(json!({"query": query, "hits": hits}));
    }
    json!({"documents": documents, "conversations": conversations,
           "usage": usage.body["totals"], "searches": searches})
}

/// Every table's row count and sha256 in the company database of `dir`.
fn tables(dir: &Path) -> std::collections::BTreeMap<String, fingerprint::TableSum> {
    let conn = rusqlite::Connection::open(dir.join("company.db")).unwrap();
    fingerprint::fingerprint(&conn).unwrap().tables
}

fn sha256_files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                hex::encode(Sha256::digest(std::fs::read(&path).unwrap())),
            )
        })
        .collect();
    out.sort();
    out
}

/// Exports `company` of `test` with the binary; returns the archive's path.
fn export(test: &TestApp, id: &str, out: &Path) -> PathBuf {
    let run = silo(
        &test.data_dir(),
        &["company", "export", id, "--out", out.to_str().unwrap()],
    );
    assert_eq!(run.status.code(), Some(0), "stderr: {}", stderr(&run));
    assert!(stderr(&run).contains("4 documents"), "{}", stderr(&run));
    // It holds password hashes: owner-only, like the backups.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");
    out.to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_moves_to_another_data_dir_with_the_same_rows_files_and_search_results() {
    let source = TestApp::spawn().await;
    let c = company_with_data(&source).await;
    let email = |token: &str| {
        let token = token.to_string();
        let source = &source;
        async move {
            let me = source.get("/api/me", &token).await;
            assert_eq!(me.status, StatusCode::OK, "{}", me.body);
            me.body["email"].as_str().unwrap().to_string()
        }
    };
    let (admin_email, analyst_email) = (email(&c.admin).await, email(&c.analyst).await);
    let archive = export(&source, &c.id, &source.dir.path().join("acme.silo.tar.zst"));
    // Searches record usage: what the source holds and shows is read after the export.
    let src_tables = tables(&source.data_dir().join("companies/acme-export"));
    let before = view(&source, &c.admin, &c.analyst).await;
    // An existing file is never overwritten.
    let again = silo(
        &source.data_dir(),
        &[
            "company",
            "export",
            &c.id,
            "--out",
            archive.to_str().unwrap(),
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));

    let target = TestApp::spawn().await;
    let run = silo(
        &target.data_dir(),
        &["company", "import", archive.to_str().unwrap(), "--json"],
    );
    assert_eq!(run.status.code(), Some(0), "stderr: {}", stderr(&run));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["from"]["id"], c.id.as_str());
    assert_eq!(report["slug"], "acme-export");
    assert_eq!(report["documents"], 4);
    assert_eq!(report["conversations"], 1);
    assert_eq!(report["messages"], 2);
    assert_eq!(report["files"], 4);
    assert!(report["chunks"].as_u64().unwrap() >= 4, "{report}");
    assert_eq!(
        report["indexed"], report["chunks"],
        "the index holds every chunk: {report}"
    );
    assert_eq!(report["warnings"], json!([]));
    assert_eq!(report["users"], 4, "{report}");

    // The same stored files, and the same logical database.
    let id = report["id"].as_str().unwrap();
    let src_dir = source.data_dir().join("companies/acme-export");
    let dst_dir = target.data_dir().join("companies/acme-export");
    assert_eq!(
        sha256_files(&dst_dir.join("uploads")),
        sha256_files(&src_dir.join("uploads"))
    );
    let dst_tables = tables(&dst_dir);
    // Every table (FTS5's index included) holds the same rows.
    assert_eq!(src_tables, dst_tables);
    // The users came along with their passwords, and see what they saw.
    let admin = target.login_ok(&admin_email, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let analyst = target.login_ok(&analyst_email, PASSWORD).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let me = target.get("/api/me", &analyst).await;
    assert_eq!(me.body["company_id"], id, "{}", me.body);
    assert_eq!(view(&target, &admin, &analyst).await, before);

    // Importing the same archive again: its users exist here now; without them, its slug
    // is taken; under a new name it is a second, separate company.
    let import = |extra: &[&str]| {
        let mut args = vec!["company", "import", archive.to_str().unwrap()];
        args.extend_from_slice(extra);
        silo(&target.data_dir(), &args)
    };
    let run = import(&[]);
    assert_eq!(run.status.code(), Some(1));
    let why = stderr(&run);
    assert!(
        why.contains("already exists") && why.contains("--without-users"),
        "{why}"
    );
    let run = import(&["--without-users"]);
    assert_eq!(run.status.code(), Some(1));
    let why = stderr(&run);
    assert!(
        why.contains("already exists") && why.contains("--slug"),
        "{why}"
    );
    let run = import(&["--name", "Acme Copy", "--without-users"]);
    assert_eq!(run.status.code(), Some(0), "stderr: {}", stderr(&run));
    let out = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        out.contains("(acme-copy)") && out.contains(" 0 users"),
        "{out}"
    );
    let list = target.get("/api/admin/companies", &target.root_token).await;
    assert_eq!(list.body["total"], 2, "{}", list.body);
}

/// The members of an archive, in order: (path, bytes, entry type).
type Members = Vec<(String, Vec<u8>, tar::EntryType)>;

fn read_members(archive: &Path) -> Members {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    tar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let kind = e.header().entry_type();
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            (path, body, kind)
        })
        .collect()
}

fn write_members(members: &Members, out: &Path) {
    let file = std::fs::File::create(out).unwrap();
    let mut tar = tar::Builder::new(zstd::Encoder::new(file, 3).unwrap());
    for (path, body, kind) in members {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(*kind);
        header.set_size(if kind.is_file() { body.len() as u64 } else { 0 });
        header.set_mode(0o600);
        // Raw bytes, so that a hostile path goes in as it is.
        let name = &mut header.as_gnu_mut().unwrap().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        if *kind == tar::EntryType::Symlink {
            header.set_link_name("/etc/passwd").unwrap();
        }
        header.set_cksum();
        let data: &[u8] = if kind.is_file() { body } else { &[] };
        tar.append(&header, data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

/// Replaces the manifest (the last member) with `edit`'s change of it.
fn edit_manifest(members: &mut Members, edit: impl FnOnce(&mut Value)) {
    let last = members.last_mut().unwrap();
    assert_eq!(last.0, "manifest.json");
    let mut manifest: Value = serde_json::from_slice(&last.1).unwrap();
    edit(&mut manifest);
    last.1 = serde_json::to_vec(&manifest).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_archive_is_refused_and_nothing_is_created() {
    let source = TestApp::spawn().await;
    let c = company_with_data(&source).await;
    let work = source.dir.path().to_path_buf();
    let archive = export(&source, &c.id, &work.join("acme.silo.tar.zst"));
    let members = read_members(&archive);
    assert_eq!(members.first().unwrap().0, "company.db");
    assert_eq!(members.last().unwrap().0, "manifest.json");
    let upload = members
        .iter()
        .position(|m| m.0.starts_with("uploads/"))
        .unwrap();

    let mut cases: Vec<(&str, PathBuf, &str)> = Vec::new();
    let mut case = |name: &'static str, expect: &'static str, members: Members| {
        let path = work.join(format!("{name}.silo.tar.zst"));
        write_members(&members, &path);
        cases.push((name, path, expect));
    };

    // A byte of an uploaded file changed (the archive otherwise well formed).
    let mut changed = members.clone();
    changed[upload].1[0] ^= 0x20;
    case("changed-byte", "differs from the manifest", changed);
    // A member escaping the company directory, and one the manifest does not list.
    let mut escaping = members.clone();
    escaping.insert(
        1,
        (
            "../../primary.db".into(),
            b"x".to_vec(),
            tar::EntryType::Regular,
        ),
    );
    case("dot-dot", "escapes the company directory", escaping);
    let mut extra = members.clone();
    extra.insert(
        1,
        (
            "uploads/extra.txt".into(),
            b"x".to_vec(),
            tar::EntryType::Regular,
        ),
    );
    case("unlisted", "is not in the manifest", extra);
    let mut link = members.clone();
    link.insert(
        1,
        (
            "uploads/link.txt".into(),
            Vec::new(),
            tar::EntryType::Symlink,
        ),
    );
    case("symlink", "is not a regular file", link);
    let mut twice = members.clone();
    twice.insert(1, members[upload].clone());
    case("duplicate", "appears twice", twice);
    let mut no_manifest = members.clone();
    no_manifest.pop();
    case("no-manifest", "has no manifest.json", no_manifest);
    let mut future = members.clone();
    edit_manifest(&mut future, |m| m["format_version"] = json!(2));
    case("format-2", "format version 2", future);

    // A newer schema, consistently recorded (hashes and fingerprint redone).
    let mut newer = members.clone();
    let db_path = work.join("newer.db");
    std::fs::write(&db_path, &newer[0].1).unwrap();
    let fp = {
        let conn = rusqlite::Connection::open(&db_path).unwrap();
        conn.execute(
            "INSERT INTO silo_company_migrations (version, name, applied_on, checksum)
             VALUES (999, 'future', '2030-01-01T00:00:00Z', '1')",
            [],
        )
        .unwrap();
        fingerprint::fingerprint(&conn).unwrap()
    };
    newer[0].1 = std::fs::read(&db_path).unwrap();
    let (size, sha) = (newer[0].1.len(), hex::encode(Sha256::digest(&newer[0].1)));
    edit_manifest(&mut newer, |m| {
        m["schema_version"] = json!(999);
        m["fingerprint"] = serde_json::to_value(&fp).unwrap();
        m["files"][0]["size"] = json!(size);
        m["files"][0]["sha256"] = json!(sha);
    });
    case("newer-schema", "newer than this binary supports", newer);

    // A byte of the compressed stream itself changed: zstd's checksum or the tar framing
    // catches it.
    let mut raw = std::fs::read(&archive).unwrap();
    let middle = raw.len() / 2;
    raw[middle] ^= 0x01;
    let flipped = work.join("flipped.silo.tar.zst");
    std::fs::write(&flipped, raw).unwrap();
    // The frame checksum or the tar framing catches it, or the manifest's sha256s do.
    cases.push(("flipped", flipped, "the archive"));
    std::fs::write(work.join("not-an-archive"), b"hello").unwrap();
    cases.push((
        "garbage",
        work.join("not-an-archive"),
        "not zstd-compressed",
    ));

    let target = TestApp::spawn().await;
    let companies_dir = target.data_dir().join("companies");
    let listing = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = listing(&companies_dir);
    for (name, path, expect) in &cases {
        let run = silo(
            &target.data_dir(),
            &["company", "import", path.to_str().unwrap()],
        );
        assert_eq!(run.status.code(), Some(1), "{name}: {}", stderr(&run));
        assert!(
            stderr(&run).contains(expect),
            "{name}: wanted {expect:?} in {}",
            stderr(&run)
        );
        assert_eq!(listing(&companies_dir), before, "{name} left files behind");
    }
    // An archive over the size limit is refused from its headers.
    let run = silo(
        &target.data_dir(),
        &[
            "company",
            "import",
            archive.to_str().unwrap(),
            "--max-bytes",
            "4096",
        ],
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("unpacks to more than 4096 bytes"),
        "{}",
        stderr(&run)
    );
    assert_eq!(listing(&companies_dir), before);
    let list = target.get("/api/admin/companies", &target.root_token).await;
    assert_eq!(list.body["total"], 0, "{}", list.body);
    // And the untouched archive still imports.
    let run = silo(
        &target.data_dir(),
        &["company", "import", archive.to_str().unwrap()],
    );
    assert_eq!(run.status.code(), Some(0), "stderr: {}", stderr(&run));
}
