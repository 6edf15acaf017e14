//! The operator fixtures: a data directory with companies, V1 company databases, running the
//! real `silo` binary against it, hashing files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use rusqlite::Connection;
use sha2::{Digest, Sha256};
use silo::app::App;
use silo::app::AppOptions;
use silo::store::db::migrations::{self, MigrationSet};
use silo::store::primary::companies::Company;
use silo::tenant::provision::{self, NewCompany};

/// A fresh data directory with its primary database.
pub struct TestData {
    pub dir: tempfile::TempDir,
    pub app: Option<App>,
}

impl TestData {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let app = App::open(&dir.path().join("data"), AppOptions::default()).expect("app");
        TestData {
            dir,
            app: Some(app),
        }
    }

    pub fn app(&self) -> &App {
        self.app.as_ref().expect("app still open")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.app
            .as_ref()
            .map(|a| a.data_dir.clone())
            .unwrap_or_else(|| self.dir.path().join("data").canonicalize().unwrap())
    }

    /// Closes every connection this process holds, so the files are quiet.
    pub fn close_app(&mut self) {
        self.app = None;
    }

    /// A provisioned company, current with this binary.
    pub fn company(&self, name: &str) -> Company {
        let app = self.app();
        provision::create_company(
            &app.primary,
            &app.data_dir,
            &NewCompany {
                name: name.into(),
                ..NewCompany::default()
            },
        )
        .expect("create company")
    }

    /// A provisioned company whose database is a V1 fixture with rows in it.
    pub fn v1_company(&self, name: &str) -> Company {
        let company = self.company(name);
        let path = self.db_path(&company);
        write_v1_fixture(&path);
        company
    }

    pub fn db_path(&self, company: &Company) -> PathBuf {
        self.data_dir().join(&company.db_path)
    }

    /// Runs the real binary against this data directory.
    pub fn silo(&self, args: &[&str]) -> Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_silo"))
            .args(args)
            .env("SILO_DATA_DIR", self.data_dir())
            .env("RUST_LOG", "warn")
            .output()
            .expect("running silo")
    }
}

/// Replaces `path` with a company database migrated to V1 only (by refinery itself, as an
/// old binary would have), holding a document, two chunks (one embedded), a conversation,
/// a message and a usage row.
pub fn write_v1_fixture(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    MigrationSet::Company
        .runner()
        .set_target(refinery::Target::Version(1))
        .run(&mut conn)
        .unwrap();
    assert_eq!(
        migrations::current_version(&conn, MigrationSet::Company).unwrap(),
        1
    );
    let embedding: Vec<u8> = [0.5f32, -0.25, 1.0]
        .iter()
        .flat_map(|f| f.to_le_bytes())
        .collect();
    conn.execute_batch(
        "INSERT INTO documents (id, uuid, filename, file_path, uploaded_by, title)
             VALUES (1, 'doc-1', 'a.txt', 'uploads/a.txt', 'user-1', 'Annual report');
         INSERT INTO document_chunks (uuid, document_id, content, chunk_index)
             VALUES ('chunk-2', 1, 'second chunk about wind power', 1);
         INSERT INTO conversations (id, uuid, user_id, title) VALUES (1, 'conv-1', 'user-1', 'Q');
         INSERT INTO messages (uuid, conversation_id, role, content)
             VALUES ('msg-1', 1, 'user', 'hello');
         INSERT INTO token_usage (uuid, user_id, provider, model, operation_type,
                                  prompt_tokens, completion_tokens, total_tokens)
             VALUES ('use-1', 'user-1', 'openai', 'gpt', 'chat', 10, 5, 15);",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO document_chunks (uuid, document_id, content, chunk_index, embedding)
         VALUES ('chunk-1', 1, 'first chunk about solar panels', 0, ?1)",
        [embedding],
    )
    .unwrap();
}

/// Row counts of the fixture's tables.
pub fn fixture_counts(conn: &Connection) -> Vec<i64> {
    [
        "documents",
        "document_chunks",
        "conversations",
        "messages",
        "token_usage",
    ]
    .iter()
    .map(|t| {
        conn.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    })
    .collect()
}

pub fn version_of(path: &Path) -> i64 {
    let conn = Connection::open(path).unwrap();
    migrations::current_version(&conn, MigrationSet::Company).unwrap()
}

pub fn has_column(conn: &Connection, table: &str, column: &str) -> bool {
    conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .any(|c| c.unwrap() == column)
}

pub fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// sha256 of every file under `dir`, by relative path.
pub fn hash_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, sha256_file(&path));
            }
        }
    }
    out
}

pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The company schema version this binary migrates to.
pub fn latest() -> i64 {
    silo::store::db::migrations::MigrationSet::Company.latest()
}
