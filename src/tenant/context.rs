//! The task-local tenant context. Middleware sets it around a request's handler; company
//! repositories get a connection only through the functions here, which fail with
//! [`TenantError::NoScope`] outside a scope — never a silent fallback to primary.db.
//!
//! Task-locals do not cross `spawn_blocking`, `tokio::spawn` or a streaming body: every
//! helper here captures the `Arc<TenantCtx>` first and re-enters the scope on the other side.

use std::future::Future;
use std::sync::Arc;

use super::{TenantDb, TenantError};
use crate::identity::Actor;
use crate::store::db::Conn;

/// The company (and user) a piece of work belongs to.
#[derive(Debug)]
pub struct TenantCtx {
    pub db: Arc<TenantDb>,
    /// None for work no user started (background jobs, operator tools).
    pub actor: Option<Actor>,
}

tokio::task_local! {
    static CURRENT: Arc<TenantCtx>;
}

impl TenantCtx {
    pub fn new(db: Arc<TenantDb>, actor: Option<Actor>) -> Arc<Self> {
        Arc::new(TenantCtx { db, actor })
    }
}

/// Runs `fut` with `ctx` as the current tenant.
pub async fn scope<F: Future>(ctx: Arc<TenantCtx>, fut: F) -> F::Output {
    CURRENT.scope(ctx, fut).await
}

/// Runs `f` synchronously with `ctx` as the current tenant (for blocking threads).
pub fn sync_scope<R>(ctx: Arc<TenantCtx>, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(ctx, f)
}

/// The current tenant context, or [`TenantError::NoScope`].
pub fn current() -> Result<Arc<TenantCtx>, TenantError> {
    CURRENT
        .try_with(Arc::clone)
        .map_err(|_| TenantError::NoScope)
}

/// Runs `f` on the blocking pool with a connection to the current company; the context is
/// carried across, so code inside may call [`with_conn`] or [`current`] again.
pub async fn run<T, E, F>(f: F) -> Result<T, E>
where
    F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<TenantError> + Send + 'static,
{
    let ctx = current()?;
    let handle = tokio::task::spawn_blocking(move || {
        let db = ctx.db.clone();
        sync_scope(ctx, || {
            let mut conn = db.conn()?;
            f(&mut conn)
        })
    });
    handle.await.map_err(|e| E::from(TenantError::Join(e)))?
}

/// Like [`run`] for short reads by key: when a connection is free right now the read runs
/// inline (a few microseconds, cheaper than a hop to the blocking pool); otherwise it goes
/// to the blocking pool rather than wait on an async thread.
pub async fn read<T, E, F>(f: F) -> Result<T, E>
where
    F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<TenantError> + Send + 'static,
{
    let ctx = current()?;
    match ctx.db.try_conn() {
        Some(mut conn) => f(&mut conn),
        None => run(f).await,
    }
}

/// Calls `f` with a connection to the current company on this (blocking) thread.
pub fn with_conn<T, E>(f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
where
    E: From<TenantError>,
{
    let ctx = current()?;
    let mut conn = ctx.db.conn()?;
    f(&mut conn)
}

/// `tokio::task::spawn_blocking` that carries the current tenant context into the closure.
pub fn spawn_blocking<R, F>(f: F) -> Result<tokio::task::JoinHandle<R>, TenantError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let ctx = current()?;
    Ok(tokio::task::spawn_blocking(move || sync_scope(ctx, f)))
}

/// `tokio::spawn` that carries the current tenant context into the task.
pub fn spawn<F>(fut: F) -> Result<tokio::task::JoinHandle<F::Output>, TenantError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let ctx = current()?;
    Ok(tokio::spawn(scope(ctx, fut)))
}
