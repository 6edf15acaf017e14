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
use crate::store::primary::users;
use crate::tenant::{self, TenantCtx};

fn unauthorized(message: &str) -> Error {
    Error::Unauthorized(message.to_string())
}

/// Authenticates the request from its bearer token.
async fn actor_of(app: &AppState, parts: &Parts) -> Result<Actor, Error> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer token"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be \"Bearer <token>\""))?;
    let claims = app
        .keys
        .verify(token)
        .ok_or_else(|| unauthorized("invalid or expired token"))?;
    let loaded = match app.principals.get(&claims.sub, &claims.sid) {
        Some(loaded) => loaded,
        None => {
            let generation = app.principals.generation();
            let (sub, sid) = (claims.sub.clone(), claims.sid.clone());
            let principal = app
                .read_primary(move |conn| Ok(users::principal(conn, &sub, &sid)?))
                .await?
                .ok_or_else(|| unauthorized("invalid or expired token"))?;
            app.principals
                .insert(&claims.sub, &claims.sid, generation, principal)
        }
    };
    let principal = &loaded.principal;
    if !principal.is_active {
        return Err(unauthorized("this account is deactivated"));
    }
    // Logout, a password change or "end all sessions" ended this token's session.
    if !principal.session_live {
        return Err(unauthorized("this session has ended; log in again"));
    }
    // A token minted for another company (the user was moved) is no longer valid.
    if principal.company_uuid.as_deref() != claims.company.as_deref() {
        return Err(unauthorized("invalid or expired token"));
    }
    if principal.company_usable == Some(false) {
        return Err(Error::company_inactive());
    }
    Ok(Actor {
        user_id: principal.id,
        user_uuid: principal.uuid.clone(),
        email: principal.email.clone(),
        role: principal.role.clone(),
        company_id: principal.company_id,
        company_uuid: principal.company_uuid.clone(),
        session: claims.sid,
        permissions: loaded.permissions.clone(),
    })
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
    let Some(company_id) = actor.company_id else {
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
