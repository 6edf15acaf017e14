//! The request pipeline: bearer token → user, role and company rows from primary.db (both
//! active) → [`Actor`]; for company-data routes, also the company's `TenantDb` and the
//! task-local `TenantCtx` the handler runs in. Rows are read on every request, so a
//! deactivation or role change takes effect on the very next one.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

use crate::app::AppState;
use crate::error::Error;
use crate::identity::Actor;
use crate::tenant::{self, TenantCtx};

/// Authenticates the request from its bearer token.
async fn actor_of(app: &AppState, parts: &Parts) -> Result<Actor, Error> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| Error::unauthorized("missing Authorization: Bearer token"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Error::unauthorized("the Authorization header must be \"Bearer <token>\"")
        })?;
    crate::service::sessions::authenticate(app, token).await
}

/// Middleware for routes on the primary database: any authenticated user.
pub async fn authenticate(
    State(app): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, Error> {
    let (mut parts, body) = req.into_parts();
    let actor = actor_of(&app, &parts).await?;
    parts.extensions.insert(actor);
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// Middleware for company-data routes: a company user, whose handler runs inside the
/// company's `TenantCtx`. Super admins work on the primary database only: 403 here.
pub async fn enter_company(
    State(app): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, Error> {
    let (mut parts, body) = req.into_parts();
    let actor = actor_of(&app, &parts).await?;
    // The library's registry id is no company's: a user can never be "in" it.
    let Some(company_id) = actor
        .company_id
        .filter(|id| *id != crate::tenant::library::LIBRARY_ID)
    else {
        return Err(Error::Forbidden(
            "company data is reached by company users; super admins use /api/admin".into(),
        ));
    };
    if let Some(company) = &actor.company_uuid {
        tracing::Span::current().record("company", company.as_str());
    }
    let db = app.registry.get(company_id).await?;
    // A damaged database serves reads while they work; writes never go on.
    if db.is_damaged() && !parts.method.is_safe() {
        return Err(Error::CompanyDamaged);
    }
    // A body still arriving when the company starts closing is cut, so closing waits for
    // handlers, not for clients.
    let body = super::body::cut_on_close(body, db.closing());
    let ctx = TenantCtx::new(db, Some(actor.clone()));
    parts.extensions.insert(actor);
    Ok(tenant::context::scope(ctx, next.run(Request::from_parts(parts, body))).await)
}

/// Middleware for the library's routes, inside `require_super_admin` (/api/admin/library: a
/// super admin, who works there as the librarian) or `enter_company` (/api/library: a company
/// user, as a reader). The handler runs in the library's `TenantCtx`, with the actor it is
/// given there in place of the caller's.
pub async fn enter_library(
    State(app): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, Error> {
    use crate::service::library;
    let actor =
        req.extensions().get::<Actor>().cloned().ok_or_else(|| {
            Error::internal(anyhow::anyhow!("library route without authentication"))
        })?;
    let ctx = if actor.is_super_admin() {
        library::librarian_ctx(&app, &actor).await?
    } else {
        library::reader_ctx(&app, &actor, true)
            .await?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("the library was not created")))?
    };
    if ctx.db.is_damaged() && !req.method().is_safe() {
        return Err(Error::CompanyDamaged);
    }
    let acting = ctx
        .actor
        .clone()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("a library context without its actor")))?;
    req.extensions_mut().insert(acting);
    Ok(tenant::context::scope(ctx, next.run(req)).await)
}

/// Middleware for /api/admin: super admins only.
pub async fn require_super_admin(req: Request, next: Next) -> Result<Response, Error> {
    match req.extensions().get::<Actor>() {
        Some(actor) if actor.is_super_admin() => Ok(next.run(req).await),
        Some(_) => Err(Error::Forbidden(
            "this requires the super_admin role".into(),
        )),
        None => Err(Error::internal(anyhow::anyhow!(
            "admin route without authentication"
        ))),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Actor>().cloned().ok_or_else(|| {
            Error::internal(anyhow::anyhow!(
                "route reads the actor but is not authenticated"
            ))
        })
    }
}
