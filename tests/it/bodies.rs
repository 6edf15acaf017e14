//! Request bodies cannot pin memory or a company: a multipart stream without its framing is
//! cut at 64 KiB, a body that stops arriving is refused after the read timeout, and closing a
//! company (delete) cuts requests still reading their body instead of waiting for them.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode, header};
use http_body::Frame;

use crate::helpers::{self, TestApp};

/// A body that sends `chunk` over and over (counting the bytes taken from it), then, past
/// `hang_after` bytes, never sends anything again and never ends.
struct Drip {
    chunk: Bytes,
    taken: Arc<AtomicUsize>,
    hang_after: usize,
}

impl http_body::Body for Drip {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.taken.load(Ordering::SeqCst) >= self.hang_after {
            return Poll::Pending;
        }
        self.taken.fetch_add(self.chunk.len(), Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(self.chunk.clone()))))
    }
}

fn drip(chunk: &[u8], hang_after: usize) -> (Body, Arc<AtomicUsize>) {
    let taken = Arc::new(AtomicUsize::new(0));
    let body = Body::new(Drip {
        chunk: Bytes::copy_from_slice(chunk),
        taken: taken.clone(),
        hang_after,
    });
    (body, taken)
}

fn request(path: &str, token: &str, content_type: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_stream_without_framing_is_cut_at_64_kib() {
    let test = TestApp::spawn().await;
    let acme = helpers::company(&test, "Acme").await;
    let boundary = "multipart/form-data; boundary=XYZ";
    // No boundary ever: the parser would buffer the whole body looking for one.
    let (body, taken) = drip(&[b'a'; 8192], usize::MAX);
    let reply = test
        .send(request("/api/documents", &acme.analyst, boundary, body))
        .await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::BAD_REQUEST, "bad_request"),
        "{}",
        reply.body
    );
    assert_eq!(
        reply.message(),
        "malformed multipart body: no boundary or end of part headers within 65536 bytes"
    );
    let read = taken.load(Ordering::SeqCst);
    assert!(read < 256 * 1024, "read {read} bytes of an endless body");
    // A part header that never ends.
    let mut start =
        b"--XYZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nX-Pad: "
            .to_vec();
    start.extend_from_slice(&[b'b'; 4096]);
    let (body, taken) = drip(&start, usize::MAX);
    let reply = test
        .send(request("/api/documents", &acme.analyst, boundary, body))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.message().contains("within 65536 bytes"));
    assert!(taken.load(Ordering::SeqCst) < 256 * 1024);
    // Nothing was stored: no document, no leftover temporary file.
    let list = test.get("/api/documents", &acme.analyst).await;
    assert_eq!(list.body["total"], 0, "{}", list.body);
    let uploads = test.data_dir().join("companies/acme/uploads");
    let left = std::fs::read_dir(&uploads).map_or(0, |d| d.count());
    assert_eq!(left, 0, "files left in {}", uploads.display());
    // A large, well-framed upload still goes through.
    let big = "word ".repeat(60_000);
    let reply = helpers::upload_parts(
        &test,
        &acme.analyst,
        &[("file", Some("big.txt"), big.as_bytes())],
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_refused_after_the_read_timeout() {
    let test = TestApp::spawn_with(|o| o.body_read_timeout = Duration::from_millis(300)).await;
    let acme = helpers::company(&test, "Acme").await;
    for (path, content_type) in [
        ("/api/reports", "application/json"),
        ("/api/documents", "multipart/form-data; boundary=XYZ"),
        ("/api/auth/login", "application/json"),
    ] {
        // One byte of a body, then silence.
        let (body, _) = drip(b"{", 1);
        let started = Instant::now();
        let reply = test
            .send(request(path, &acme.analyst, content_type, body))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            "{path}: {}",
            reply.body
        );
        assert_eq!(reply.message(), "the request body was not received in time");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_company_cuts_requests_still_reading_their_body() {
    let test = Arc::new(TestApp::spawn().await);
    let acme = helpers::company(&test, "Acme").await;
    let other = helpers::company(&test, "Other").await;
    // Company Acme: a JSON body that never finishes (the read timeout is 30 s).
    let (body, _) = drip(b"{\"title\": ", 10);
    let hanging = {
        let (test, token) = (test.clone(), acme.analyst.clone());
        tokio::spawn(async move {
            test.send(request("/api/reports", &token, "application/json", body))
                .await
        })
    };
    // Another company's slow body is not touched by Acme's deletion.
    let (other_body, _) = drip(b"{\"title\": ", 10);
    let other_hanging = {
        let (test, token) = (test.clone(), other.analyst.clone());
        tokio::spawn(async move {
            test.send(request(
                "/api/reports",
                &token,
                "application/json",
                other_body,
            ))
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let deleted = test
        .delete(
            &format!("/api/admin/companies/{}", acme.id),
            &test.root_token,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "deletion waited {:?} for a client",
        started.elapsed()
    );
    let cut = hanging.await.unwrap();
    assert_eq!(
        (cut.status, cut.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        "{}",
        cut.body
    );
    assert!(!test.data_dir().join("companies/acme").exists());
    assert!(
        !other_hanging.is_finished(),
        "the other company's request was cut"
    );
    other_hanging.abort();
    let list = test.get("/api/reports", &other.analyst).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
}
