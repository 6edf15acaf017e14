//! The console's gate: the session cookie → the console session → the API session it holds
//! (refreshed when its access token is about to expire) → an `Actor`, who must be a super
//! admin; and the CSRF check of every state-changing request (the session's token, from the
//! `X-CSRF-Token` header htmx sends or the `csrf` field of a form). A request that fails a
//! check changes nothing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};

use super::pages::refused;
use crate::app::AppState;
use crate::error::Error;
use crate::identity::Actor;
use crate::identity::console_sessions::ConsoleSession;
use crate::service::sessions;

/// The session cookie.
pub const SESSION_COOKIE: &str = "silo_console";
/// The login form's double-submit cookie (login CSRF).
pub const LOGIN_COOKIE: &str = "silo_console_login";
/// Largest form body the gate reads to find the CSRF field.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// An access token this close to expiry is refreshed first.
const REFRESH_AHEAD: Duration = Duration::from_secs(30);

/// Who is using the console, for the handlers behind the gate.
#[derive(Clone, Debug)]
pub struct Console {
    pub actor: Actor,
    pub session_id: String,
    pub csrf: String,
}

/// The value of cookie `name`, if the request has it.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// Whether the request reached the server over TLS (as a proxy in front of it says).
fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure over TLS; `None` clears it.
pub fn set_cookie(
    headers: &HeaderMap,
    name: &'static str,
    value: Option<&str>,
    path: &'static str,
) -> HeaderValue {
    let mut c = Cookie::build((name, value.unwrap_or("").to_string()))
        .path(path)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(over_tls(headers));
    if value.is_none() {
        c = c.max_age(cookie::time::Duration::ZERO);
    }
    HeaderValue::from_str(&c.build().to_string()).expect("cookie values are hex or empty")
}

/// Equal in constant time (the CSRF token is a secret).
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The client address the login limiter counts attempts by.
pub fn client_address(connect: Option<&ConnectInfo<SocketAddr>>) -> String {
    connect.map_or_else(|| "local".to_string(), |c| c.0.ip().to_string())
}

/// To the login page, the session cookie cleared.
fn to_login(headers: &HeaderMap) -> Response {
    let mut res = Redirect::to("/admin/login").into_response();
    res.headers_mut().append(
        SET_COOKIE,
        set_cookie(headers, SESSION_COOKIE, None, "/admin"),
    );
    res
}

/// The session behind `id`, its access token refreshed if it is about to expire; `None`
/// when it has ended (logged out, expired, its refresh token's family revoked).
async fn live_session(app: &AppState, id: &str) -> Option<ConsoleSession> {
    let mut session = app.console_sessions.get(id)?;
    if session.access_expires <= Instant::now() + REFRESH_AHEAD {
        match sessions::refresh(app, session.refresh_token.clone()).await {
            Ok(fresh) => {
                let expires = Instant::now() + Duration::from_secs(fresh.expires_in);
                app.console_sessions.update_tokens(
                    id,
                    fresh.access_token.clone(),
                    expires,
                    fresh.refresh_token.clone(),
                );
                session.access_token = fresh.access_token;
                session.refresh_token = fresh.refresh_token;
            }
            Err(_) => {
                app.console_sessions.remove(id);
                return None;
            }
        }
    }
    Some(session)
}

/// The middleware in front of every console page but the login page.
pub async fn gate(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let headers = req.headers().clone();
    let Some(id) = cookie_value(&headers, SESSION_COOKIE) else {
        return to_login(&headers);
    };
    let Some(session) = live_session(&app, &id).await else {
        return to_login(&headers);
    };
    let actor = match sessions::authenticate(&app, &session.access_token).await {
        Ok(actor) => actor,
        Err(Error::Unauthorized(_)) => {
            app.console_sessions.remove(&id);
            return to_login(&headers);
        }
        Err(e) => return super::pages::error_page(e),
    };
    if !actor.is_super_admin() {
        return refused(
            Error::Forbidden("The console is for super admins.".into()),
            "Not for this account",
        );
    }
    let req = if req.method() == Method::GET || req.method() == Method::HEAD {
        req
    } else {
        match checked(req, &session.csrf).await {
            Ok(req) => req,
            Err(res) => return res,
        }
    };
    let console = Console {
        actor,
        session_id: id,
        csrf: session.csrf,
    };
    let mut req = req;
    req.extensions_mut().insert(console);
    next.run(req).await
}

/// `req` if it carries the session's CSRF token (header or form field), else the refusal.
/// The body is read (up to [`MAX_FORM_BYTES`]) and put back for the handler.
async fn checked(req: Request, csrf: &str) -> Result<Request, Response> {
    let stale = || {
        refused(
            Error::Forbidden(
                "This request did not come from a page of this console session (its CSRF \
                 token is missing or wrong). Nothing was changed; reload the page and try again."
                    .into(),
            ),
            "Request refused",
        )
    };
    if let Some(token) = req.headers().get("x-csrf-token") {
        return match token.to_str() {
            Ok(t) if same_token(t, csrf) => Ok(req),
            _ => Err(stale()),
        };
    }
    let is_form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(stale());
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            super::pages::error_page(Error::PayloadTooLarge(format!(
                "a console form is at most {MAX_FORM_BYTES} bytes"
            )))
        })?;
    let fields: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&bytes).map_err(|_| stale())?;
    match fields.iter().find(|(k, _)| k == "csrf") {
        Some((_, token)) if same_token(token, csrf) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(stale()),
    }
}

/// Security headers of every console response: a Content-Security-Policy without inline
/// scripts or styles, no framing, no caching, no referrer, no sniffing.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.entry("cache-control")
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
