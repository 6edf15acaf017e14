//! Logging in and out of the console: the login form with its double-submit token, the
//! login through `service::sessions` (its rate limit applies; only super admins get a console
//! session), and logout, which ends the API session the console session holds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::pages::{refused, render, said};
use super::session::{
    Console, LOGIN_COOKIE, SESSION_COOKIE, client_address, cookie_value, same_token, set_cookie,
};
use crate::app::AppState;
use crate::error::Error;
use crate::identity::console_sessions::{ConsoleSession, random_token};
use crate::service::sessions;

#[derive(Template)]
#[template(path = "console/login.html")]
struct Login {
    csrf: String,
    email: String,
    error: Option<String>,
}

/// The login form, with a fresh double-submit token in a cookie and in the form.
fn login_form(headers: &HeaderMap, email: String, error: Option<Error>) -> Response {
    let csrf = random_token();
    let page = Login {
        csrf: csrf.clone(),
        email,
        error: error.as_ref().map(said),
    };
    let mut res = render(&page, error.as_ref());
    res.headers_mut().append(
        SET_COOKIE,
        set_cookie(headers, LOGIN_COOKIE, Some(&csrf), "/admin/login"),
    );
    res
}

pub async fn login_page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let logged_in = cookie_value(&headers, SESSION_COOKIE)
        .is_some_and(|id| app.console_sessions.get(&id).is_some());
    if logged_in {
        return Redirect::to("/admin").into_response();
    }
    login_form(&headers, String::new(), None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// Logs in through `service::sessions::login` (its rate limit applies); only super admins
/// get a console session (anyone else's new API session is ended at once).
pub async fn login(
    State(app): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie_value(&headers, LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_token(&form.csrf, &expected) {
        let err =
            Error::Forbidden("The login form was stale or not this console's; try again.".into());
        return login_form(&headers, form.email, Some(err));
    }
    let address = client_address(connect.as_ref().map(|c| &c.0));
    let session = match sessions::login(&app, &form.email, form.password, &address).await {
        Ok(s) => s,
        Err(e) => return login_form(&headers, form.email, Some(e)),
    };
    let actor = match sessions::authenticate(&app, &session.access_token).await {
        Ok(actor) => actor,
        Err(e) => return login_form(&headers, form.email, Some(e)),
    };
    if !actor.is_super_admin() {
        let _ = sessions::logout(&app, &actor, session.refresh_token).await;
        return refused(
            Error::Forbidden("The console is for super admins; this account uses the API.".into()),
            "Not for this account",
        );
    }
    app.audit(
        &actor,
        "console.login",
        actor.user_uuid.clone(),
        serde_json::json!({}),
    )
    .await;
    let id = app.console_sessions.create(ConsoleSession {
        access_token: session.access_token,
        access_expires: Instant::now() + Duration::from_secs(session.expires_in),
        refresh_token: session.refresh_token,
        csrf: random_token(),
        last_seen: Instant::now(),
    });
    let mut res = Redirect::to("/admin").into_response();
    let h = res.headers_mut();
    h.append(
        SET_COOKIE,
        set_cookie(&headers, SESSION_COOKIE, Some(&id), "/admin"),
    );
    h.append(
        SET_COOKIE,
        set_cookie(&headers, LOGIN_COOKIE, None, "/admin/login"),
    );
    res
}

/// Ends the console session and the API session it holds.
pub async fn logout(
    State(app): State<AppState>,
    Extension(console): Extension<Console>,
    headers: HeaderMap,
) -> Response {
    if let Some(session) = app.console_sessions.remove(&console.session_id) {
        let _ = sessions::logout(&app, &console.actor, session.refresh_token).await;
    }
    let mut res = Redirect::to("/admin/login").into_response();
    res.headers_mut().append(
        SET_COOKIE,
        set_cookie(&headers, SESSION_COOKIE, None, "/admin"),
    );
    res
}
