//! The super-admin web console at /admin: server-rendered pages (askama templates in
//! `templates/console/`, escaped by default) with htmx for partial updates, all files built
//! into the binary. The pages call the services the JSON API calls; sessions and CSRF are
//! in [`session`].
//!
//! - [`session`]: the session cookie, the gate in front of every page, CSRF, security headers.
//! - [`login`]: logging in and out.
//! - [`pages`]: the other pages and their templates.
//! - [`assets`]: the static files.
//! - [`format`]: numbers as the pages show them.

pub mod assets;
pub mod format;
pub mod login;
pub mod pages;
pub mod session;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use crate::app::AppState;

/// The whole HTTP surface: the API (`http::router`'s routes and layers) and the console.
pub fn router(state: AppState) -> Router {
    crate::http::router_with(state.clone(), console(state))
}

/// The console's routes.
fn console(state: AppState) -> Router<AppState> {
    let gated = Router::new()
        .route("/admin", get(pages::overview))
        .route("/admin/logout", post(login::logout))
        .route(
            "/admin/companies",
            get(pages::companies).post(pages::create_company),
        )
        .route("/admin/companies/{id}", get(pages::company))
        .route("/admin/companies/{id}/active", post(pages::set_active))
        .route("/admin/companies/{id}/delete", post(pages::delete_company))
        .route_layer(middleware::from_fn_with_state(state, session::gate));
    Router::new()
        .route("/admin/login", get(login::login_page).post(login::login))
        .route("/admin/static/{name}", get(assets::asset))
        .merge(gated)
        .layer(middleware::from_fn(session::security_headers))
}
