//! Graceful shutdown over real TCP: a request in flight when the shutdown begins is
//! answered; /readyz says the server is going away; a request that outlives the deadline
//! does not hold the process.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use silo::http::server::{Stopped, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::TestApp;

struct Running {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<Stopped>>,
}

/// A fresh application with one company and an analyst's token.
async fn with_analyst() -> (TestApp, String) {
    let test = TestApp::spawn().await;
    let cid = test.create_company("Acme").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, token) = test.create_user(&cid, "analyst").await;
    (test, token)
}

async fn start(test: &TestApp, deadline: Duration) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        test.app.clone(),
        silo::http::router(test.app.clone()),
        async move {
            let _ = stopped.await;
        },
        deadline,
    ));
    Running { addr, stop, server }
}

/// Sends a POST's head and the first `sent` bytes of `body`; returns the open stream.
async fn begin_post(addr: std::net::SocketAddr, token: &str, body: &str, sent: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/reports HTTP/1.1\r\nHost: silo\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..sent]).await.unwrap();
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_at_shutdown_is_answered() {
    let (test, token) = with_analyst().await;
    let running = start(&test, Duration::from_secs(10)).await;
    let body =
        json!({"title": "Q3", "report_type": "summary", "report_data": {"a": 1}}).to_string();
    let mut stream = begin_post(running.addr, &token, &body, 10).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    running.stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Going away: readiness says so while the request is still being received.
    let ready = test.get("/readyz", "-").await;
    assert_eq!(
        (ready.status, ready.message()),
        (StatusCode::SERVICE_UNAVAILABLE, "not ready: shutting down")
    );
    assert!(
        !running.server.is_finished(),
        "stopped with a request in flight"
    );
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(
        answer.to_lowercase().contains("connection: close"),
        "{answer}"
    );
    let stopped = tokio::time::timeout(Duration::from_secs(5), running.server)
        .await
        .expect("the server did not stop once drained")
        .unwrap()
        .unwrap();
    assert_eq!(stopped, Stopped::Drained);
    // The report was stored: the answer was not a lie.
    let list = test.get("/api/reports", &token).await;
    assert_eq!(list.body["total"], 1, "{}", list.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_outliving_the_deadline_does_not_hold_the_shutdown() {
    let (test, token) = with_analyst().await;
    let running = start(&test, Duration::from_millis(500)).await;
    // A body that stops halfway (the read timeout is 30 s, the deadline 0.5 s).
    let _stream = begin_post(running.addr, &token, "{\"title\": \"never finished\"}", 5).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let began = Instant::now();
    running.stop.send(()).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(5), running.server)
        .await
        .expect("the deadline was not kept")
        .unwrap()
        .unwrap();
    assert_eq!(stopped, Stopped::DeadlinePassed);
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
}

/// A request a client sends on its open keep-alive connection just after shutdown began is
/// answered (with `Connection: close`), not reset: the client cannot know a reset request
/// was not processed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_on_a_kept_alive_connection_during_shutdown_is_answered() {
    let (test, token) = with_analyst().await;
    let running = start(&test, Duration::from_secs(10)).await;
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    let get =
        format!("GET /api/company HTTP/1.1\r\nHost: silo\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(get.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = stream.read(&mut buf).await.unwrap();
    let first = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(!first.to_lowercase().contains("connection: close"));
    // Shutdown begins while the connection is idle; the client sends its next request.
    running.stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream.write_all(get.as_bytes()).await.unwrap();
    let mut second = String::new();
    stream.read_to_string(&mut second).await.unwrap();
    assert!(
        second.starts_with("HTTP/1.1 200"),
        "reset instead of answered: {second:?}"
    );
    assert!(
        second.to_lowercase().contains("connection: close"),
        "{second}"
    );
    // New connections are refused: their requests were never sent.
    assert!(TcpStream::connect(running.addr).await.is_err());
    let stopped = tokio::time::timeout(Duration::from_secs(5), running.server)
        .await
        .expect("the server did not stop")
        .unwrap()
        .unwrap();
    assert_eq!(stopped, Stopped::Drained);
}
