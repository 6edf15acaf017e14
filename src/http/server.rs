//! Serving the router on a listener, with a graceful, bounded shutdown.
//!
//! Connections are served with hyper directly (HTTP/1.1) rather than `axum::serve`, whose
//! graceful shutdown closes idle keep-alive connections at once: a client that had just sent
//! a request on one got a reset instead of an answer (measured: ~30 per SIGTERM under load).
//! Here, once shutdown begins, the listener closes (new connections are refused, so their
//! requests were never sent), every response carries `Connection: close`, a connection that
//! stays idle for [`IDLE_GRACE`] is closed, and requests in flight finish — up to the
//! deadline, after which what is left is cut.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::app::AppState;

/// How long a kept-alive connection may stay idle once shutdown has begun: a request its
/// client sends meanwhile is still answered.
pub const IDLE_GRACE: Duration = Duration::from_millis(500);

/// How a server stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every connection finished its requests and closed.
    Drained,
    /// Requests were still running at the deadline; their connections were dropped.
    DeadlinePassed,
}

/// Serves `app` (built by [`super::router`], or with the console by `web::router`) on
/// `listener` until `shutdown` resolves, then drains as the module doc says, for up to
/// `deadline`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadline: Duration,
) -> std::io::Result<Stopped> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let conn = connection(stream, peer, app.clone(), state.clone(), stop_rx.clone());
                    connections.spawn(conn);
                }
                // Out of descriptors, or a connection reset before it was accepted: go on.
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    drop(listener);
    state.draining.store(true, Ordering::Release);
    let _ = stop_tx.send(true);
    tracing::info!(
        connections = connections.len(),
        deadline_secs = deadline.as_secs(),
        "draining requests in flight"
    );
    let drained = tokio::time::timeout(deadline, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    match drained {
        Ok(()) => Ok(Stopped::Drained),
        Err(_) => {
            tracing::warn!(
                connections = connections.len(),
                "shutdown deadline passed with requests still running"
            );
            connections.abort_all();
            Ok(Stopped::DeadlinePassed)
        }
    }
}

/// Serves one connection until it closes, or until shutdown lets it go.
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    state: AppState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let service = tower::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let (app, state) = (app.clone(), state.clone());
        async move {
            let mut res = tower::ServiceExt::oneshot(app, req).await?;
            if state.draining.load(Ordering::Acquire) {
                res.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(res)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = stop.wait_for(|s| *s) => {}
    }
    // Draining: a request arriving now is still answered; an idle connection goes.
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = tokio::time::sleep(IDLE_GRACE) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
