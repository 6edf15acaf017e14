//! The task-local tenant context. Middleware sets it around a request's handler; company
//! repositories get a connection only through the functions here, which fail with
//! [`TenantError::NoScope`] outside a scope — never a silent fallback to primary.db.
//!
//! Task-locals do not cross `spawn_blocking`, `tokio::spawn` or a streaming body: every
//! helper here captures the `Arc<TenantCtx>` first and re-enters the scope on the other side.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use super::{TenantDb, TenantError};
use crate::db::Conn;
use crate::error::ApiError;

/// Who is acting, as loaded from primary.db for this request.
#[derive(Clone, Debug)]
pub struct Actor {
    pub user_id: i64,
    pub user_uuid: String,
    pub email: String,
    pub role: String,
    /// Internal and public ids of the user's company; None for super admins.
    pub company_id: Option<i64>,
    pub company_uuid: Option<String>,
    /// The refresh-token family of the login this request's token belongs to.
    pub session: String,
    pub permissions: Arc<HashSet<String>>,
}

impl Actor {
    /// Ok when the actor holds `permission`, else a 403 naming it.
    pub fn require(&self, permission: &str) -> Result<(), ApiError> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this requires the {permission} permission"
            )))
        }
    }

    /// Ok when the actor created the row (`owner` is its creator's user id) or is a company
    /// admin, else a 403: "only {creator} or a company admin may change {what}".
    pub fn require_owner(&self, owner: &str, creator: &str, what: &str) -> Result<(), ApiError> {
        if self.is_company_admin() || owner == self.user_uuid {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "only {creator} or a company admin may change {what}"
            )))
        }
    }

    pub fn is_super_admin(&self) -> bool {
        self.role == "super_admin"
    }

    /// Company admins see every document of their company, whatever its scope.
    pub fn is_company_admin(&self) -> bool {
        self.role == "admin"
    }
}

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
