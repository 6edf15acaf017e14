//! Serving the router on a listener, with a graceful, bounded shutdown.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::app::AppState;

/// How a server stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every connection finished its requests and closed.
    Drained,
    /// Requests were still running at the deadline; their connections were dropped.
    DeadlinePassed,
}

/// Serves the API on `listener` until `shutdown` resolves, then drains: /readyz answers
/// 503, no new connection is accepted, idle keep-alive connections close, and requests in
/// flight finish (answered with `Connection: close`) for up to `deadline`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadline: Duration,
) -> std::io::Result<Stopped> {
    let (began_tx, mut began) = tokio::sync::watch::channel(false);
    let draining = state.clone();
    let signal = async move {
        shutdown.await;
        draining.draining.store(true, Ordering::Release);
        let _ = began_tx.send(true);
    };
    let service = super::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service)
        .with_graceful_shutdown(signal)
        .into_future();
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => return result.map(|_| Stopped::Drained),
        _ = began.wait_for(|b| *b) => {}
    }
    tracing::info!(
        deadline_secs = deadline.as_secs(),
        "draining requests in flight"
    );
    match tokio::time::timeout(deadline, server).await {
        Ok(result) => result.map(|_| Stopped::Drained),
        Err(_) => {
            tracing::warn!("shutdown deadline passed with requests still running");
            Ok(Stopped::DeadlinePassed)
        }
    }
}
