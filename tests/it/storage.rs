//! Storage failures heal without a restart: a full disk answers 507 and strands no work
//! (accepted uploads complete once space returns), and logging to a full disk never costs a
//! client its answer.

use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use silo::embed::{EmbedError, Embedder, LexicalEmbedder};

use crate::helpers::{self, TestApp};

/// The lexical embedder behind a gate: embedding waits until the test opens it.
struct Gated {
    open: Mutex<bool>,
    turn: Condvar,
}

impl Gated {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.turn.notify_all();
    }
}

impl Embedder for Gated {
    fn id(&self) -> &str {
        LexicalEmbedder.id()
    }
    fn dimensions(&self) -> usize {
        LexicalEmbedder.dimensions()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.turn.wait(open).unwrap();
        }
        drop(open);
        LexicalEmbedder.embed(texts)
    }
}

/// A tmpfs of `mib` MiB mounted on a directory; unmounted on drop.
struct SmallDisk {
    dir: Option<tempfile::TempDir>,
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(mib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallDisk {
            dir: Some(dir),
            path,
        })
    }

    /// Writes a filler file until the file system is full.
    fn fill(&self) {
        let mut f = std::fs::File::create(self.path.join("filler")).unwrap();
        for size in [1 << 20, 4096, 1] {
            let block = vec![0u8; size];
            while f.write_all(&block).is_ok() {}
        }
    }

    fn free(&self) {
        std::fs::remove_file(self.path.join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
        drop(self.dir.take());
    }
}

/// A text of about `bytes` bytes whose every paragraph carries `word`.
fn document(word: &str, bytes: usize) -> String {
    let para =
        format!("The {word} ledger lists shipments, invoices and the people who signed for them. ");
    para.repeat(bytes / para.len() + 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_and_accepted_uploads_complete_once_space_returns() {
    let Some(disk) = SmallDisk::mount(48) else {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs root); the disk-full test did not run"
        );
        return;
    };
    let gate = Arc::new(Gated {
        open: Mutex::new(false),
        turn: Condvar::new(),
    });
    let dir = tempfile::TempDir::new_in(&disk.path).unwrap();
    let test = TestApp::spawn_in(
        dir,
        |o| {
            o.workspace.job_retry_base = Duration::from_millis(100);
            o.workspace.job_retry_max = Duration::from_millis(800);
            o.min_free_bytes = 1 << 20;
        },
        gate.clone(),
    )
    .await;
    let acme = helpers::company(&test, "Acme").await;
    // Accepted while there is space; processing waits at the gate.
    let words = ["zirconium", "quokka", "fjordline"];
    let mut jobs = Vec::new();
    for word in words {
        let text = document(word, 512 * 1024);
        let reply = helpers::upload(
            &test,
            &acme.analyst,
            &format!("{word}.txt"),
            text.as_bytes(),
            "company",
        )
        .await;
        jobs.push(reply["job_id"].as_str().unwrap().to_string());
    }
    disk.fill();
    // Full: an upload answers 507 and leaves nothing; reads go on; readiness says why.
    let full = helpers::upload_parts(
        &test,
        &acme.analyst,
        &[(
            "file",
            Some("more.txt"),
            document("extra", 256 * 1024).as_bytes(),
        )],
    )
    .await;
    assert_eq!(
        (full.status, full.code()),
        (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
        "{}",
        full.body
    );
    let listed = test.get("/api/documents", &acme.analyst).await;
    assert_eq!(
        (listed.status, listed.body["total"].as_i64()),
        (StatusCode::OK, Some(3))
    );
    let ready = test.get("/readyz", "-").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.message().contains("free disk space"),
        "{}",
        ready.message()
    );
    // Processing meets the full disk: nothing fails for good, nothing is half-written.
    gate.open();
    tokio::time::sleep(Duration::from_secs(2)).await;
    for job in &jobs {
        let reply = test.get(&format!("/api/jobs/{job}"), &acme.analyst).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let status = reply.body["status"].as_str().unwrap();
        assert!(
            status == "pending" || status == "processing",
            "job {job} is {status} on a full disk: {}",
            reply.body
        );
    }
    // Space returns: every accepted upload completes, without a restart.
    disk.free();
    let started = Instant::now();
    for job in &jobs {
        loop {
            let reply = test.get(&format!("/api/jobs/{job}"), &acme.analyst).await;
            match reply.body["status"].as_str() {
                Some("completed") => break,
                Some("failed") => panic!("job failed: {}", reply.body),
                _ if started.elapsed() > Duration::from_secs(30) => {
                    panic!("job not done 30 s after space returned: {}", reply.body)
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    for word in words {
        let found = test
            .post(
                "/api/search",
                &acme.analyst,
                json!({"query": word, "mode": "keyword", "k": 5}),
            )
            .await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        let titles: Vec<&str> = found.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["document_title"].as_str())
            .collect();
        assert!(
            titles.iter().all(|t| t.starts_with(word)) && !titles.is_empty(),
            "{word}: {titles:?}"
        );
    }
    let retried = test
        .app
        .ingest
        .stats()
        .retried
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        retried >= 1,
        "no job was retried: the disk was never full for them"
    );
    let after = helpers::upload(
        &test,
        &acme.analyst,
        "later.txt",
        b"written after space came back",
        "company",
    )
    .await;
    assert!(after["job_id"].is_string());
    assert_eq!(test.get("/readyz", "-").await.status, StatusCode::OK);
}

/// A free loopback port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 request; the status code and body, or None without an answer.
fn http(port: u16, request: &str) -> Option<(u16, String)> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Some((status, body))
}

#[test]
fn logging_to_a_full_disk_never_costs_a_client_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_silo"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("SILO_DATA_DIR", dir.path().join("data"))
        .env("SILO_ADMIN_PASSWORD", "admin-password-1")
        .env("SILO_EMBEDDER", "lexical")
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::null())
        .stderr(full)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut health = None;
    while health.is_none() && started.elapsed() < Duration::from_secs(30) {
        health = http(
            port,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let body = r#"{"email":"admin@localhost","password":"admin-password-1"}"#;
    let login = http(
        port,
        &format!(
            "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    let metrics = http(
        port,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(health.map(|h| h.0), Some(200));
    let (status, body) = login.expect("no answer to the login");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("access_token"));
    let (_, metrics) = metrics.expect("no answer to /metrics");
    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("silo_log_writes_dropped_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the dropped-log counter is exported");
    assert!(dropped > 0, "nothing was logged to the full device?");
}
