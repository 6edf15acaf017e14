//! The console's pages: login and logout, the overview, the companies (list, create, one
//! company: its numbers, activate/deactivate, delete with the slug typed). Every action
//! calls the same service as the JSON API (and so writes the same audit rows).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::format::{age, bytes};
use super::session::Console;
use crate::app::AppState;
use crate::error::Error;
use crate::service::companies::{self as company_service, CompanyChanges};
use crate::service::installation;
use crate::store::primary::companies::{After, Order};
use crate::tenant::provision::NewCompany;

/// Companies on one page of the list.
const PAGE_SIZE: u32 = 50;

/// What every page behind the gate shows in its frame.
pub struct Frame {
    pub title: &'static str,
    pub nav: &'static str,
    pub who: String,
    pub csrf: String,
}

impl Frame {
    fn new(console: &Console, title: &'static str, nav: &'static str) -> Frame {
        Frame {
            title,
            nav,
            who: console.actor.email.clone(),
            csrf: console.csrf.clone(),
        }
    }
}

/// A template rendered into an HTML response with the status of `error` (or 200).
pub(super) fn render(t: &impl Template, error: Option<&Error>) -> Response {
    match t.render() {
        Ok(html) => match error {
            Some(e) => (crate::http::error::status(e), Html(html)).into_response(),
            None => Html(html).into_response(),
        },
        Err(e) => {
            tracing::error!(error = %e, "a console template failed to render");
            crate::http::error::status(&Error::internal(e)).into_response()
        }
    }
}

/// What a person is told about `err` (a 5xx keeps its cause for the log).
pub(super) fn said(err: &Error) -> String {
    match err {
        Error::Internal(cause) => {
            tracing::error!(error = ?cause, "console request failed");
            "Something went wrong on the server; the cause is in its log.".into()
        }
        other => other.to_string(),
    }
}

#[derive(Template)]
#[template(path = "console/refused.html")]
struct Refused<'a> {
    heading: &'a str,
    message: String,
}

/// A page that refuses: `heading` and the error's message, with its status.
pub fn refused(err: Error, heading: &str) -> Response {
    let page = Refused {
        heading,
        message: said(&err),
    };
    render(&page, Some(&err))
}

/// An error as a page.
pub fn error_page(err: Error) -> Response {
    let heading = match &err {
        Error::NotFound(_) => "Not found",
        Error::Forbidden(_) => "Not allowed",
        Error::Unavailable(_) => "Unavailable",
        _ => "Error",
    };
    refused(err, heading)
}

// ---- overview ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    page: Frame,
    o: installation::Overview,
    storage: String,
    storage_age: String,
    backup_age: String,
    backup_label: String,
}

pub async fn overview(
    State(app): State<AppState>,
    Extension(console): Extension<Console>,
) -> Response {
    let o = match installation::overview(&app, &console.actor).await {
        Ok(o) => o,
        Err(e) => return error_page(e),
    };
    let (backup_age, backup_label) = match &o.newest_backup {
        Some((name, a)) => (age(*a), format!("since the newest backup ({name})")),
        None => ("none".into(), "backups under the data directory".into()),
    };
    let page = OverviewPage {
        page: Frame::new(&console, "Overview", "overview"),
        storage: bytes(o.storage_bytes),
        storage_age: age(o.storage_age),
        backup_age,
        backup_label,
        o,
    };
    render(&page, None)
}

// ---- companies --------------------------------------------------------------------------

/// A row of the companies list.
pub struct Row {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub active: bool,
    pub users: u64,
    pub db_size: String,
    pub created: String,
}

/// A page of rows and the links around it.
pub struct RowsPage {
    pub rows: Vec<Row>,
    pub total: u64,
    pub next: Option<String>,
    pub first_page: Option<String>,
}

#[derive(Template)]
#[template(path = "console/companies.html")]
struct CompaniesPage {
    page: Frame,
    list: RowsPage,
    q: String,
    sort: &'static str,
    error: Option<String>,
    form_name: String,
    form_slug: String,
}

#[derive(Template)]
#[template(path = "console/company_rows.html")]
struct CompanyRows {
    list: RowsPage,
    q: String,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    sort: Option<String>,
    after_name: Option<String>,
    after_id: Option<i64>,
}

fn query_link(q: &str, sort: &str, after: Option<&After>) -> String {
    let mut pairs = vec![("q", q.to_string()), ("sort", sort.to_string())];
    if let Some(a) = after {
        pairs.push(("after_name", a.name.clone()));
        pairs.push(("after_id", a.id.to_string()));
    }
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    format!("/admin/companies?{query}")
}

async fn rows(
    app: &AppState,
    console: &Console,
    query: &ListQuery,
) -> Result<(RowsPage, String, &'static str), Error> {
    let q = query.q.as_deref().map(str::trim).unwrap_or("").to_string();
    if q.chars().count() > 100 {
        return Err(Error::invalid("q", "must be at most 100 characters"));
    }
    let (order, sort) = match query.sort.as_deref() {
        None | Some("") | Some("name") => (Order::Name, "name"),
        Some("newest") => (Order::Newest, "newest"),
        Some(_) => return Err(Error::invalid("sort", "must be name or newest")),
    };
    let after = match (&query.after_name, query.after_id) {
        (Some(name), Some(id)) => Some(After {
            name: name.clone(),
            id,
        }),
        (None, None) => None,
        _ => return Err(Error::invalid("after", "give both after_name and after_id")),
    };
    let deeper = after.is_some();
    let found = installation::browse(
        app,
        &console.actor,
        (!q.is_empty()).then(|| q.clone()),
        order,
        after,
        PAGE_SIZE,
    )
    .await?;
    let dir = app.data_dir.clone();
    let sized: Vec<(crate::store::primary::companies::Browsed, u64)> =
        tokio::task::spawn_blocking(move || {
            found
                .items
                .into_iter()
                .map(|b| {
                    let path = dir.join(&b.company.db_path);
                    let size = |s: &str| {
                        std::fs::metadata(format!("{}{s}", path.display())).map_or(0, |m| m.len())
                    };
                    let total = size("") + size("-wal");
                    (b, total)
                })
                .collect()
        })
        .await?;
    let rows = sized
        .into_iter()
        .map(|(b, size)| Row {
            id: b.company.uuid,
            name: b.company.name,
            slug: b.company.slug,
            active: b.company.is_active,
            users: b.users,
            db_size: bytes(size),
            created: b.company.created_at.chars().take(10).collect(),
        })
        .collect();
    let page = RowsPage {
        rows,
        total: found.total,
        next: found.next.as_ref().map(|a| query_link(&q, sort, Some(a))),
        first_page: deeper.then(|| query_link(&q, sort, None)),
    };
    Ok((page, q, sort))
}

/// The companies list; an htmx request (search, sort, next page) gets only its rows.
pub async fn companies(
    State(app): State<AppState>,
    Extension(console): Extension<Console>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Response {
    let (list, q, sort) = match rows(&app, &console, &query).await {
        Ok(found) => found,
        Err(e) => return error_page(e),
    };
    if headers.contains_key("hx-request") {
        return render(&CompanyRows { list, q }, None);
    }
    let page = CompaniesPage {
        page: Frame::new(&console, "Companies", "companies"),
        list,
        q,
        sort,
        error: None,
        form_name: String::new(),
        form_slug: String::new(),
    };
    render(&page, None)
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    industry: String,
}

/// Creates a company (the service of POST /api/admin/companies), then shows it.
pub async fn create_company(
    State(app): State<AppState>,
    Extension(console): Extension<Console>,
    Form(form): Form<CreateForm>,
) -> Response {
    let optional = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let input = NewCompany {
        name: form.name.clone(),
        slug: optional(&form.slug),
        industry: optional(&form.industry),
    };
    match company_service::create(&app, &console.actor, input).await {
        Ok(company) => Redirect::to(&format!("/admin/companies/{}", company.uuid)).into_response(),
        Err(err) => {
            let (list, q, sort) = match rows(&app, &console, &ListQuery::default()).await {
                Ok(found) => found,
                Err(e) => return error_page(e),
            };
            let page = CompaniesPage {
                page: Frame::new(&console, "Companies", "companies"),
                list,
                q,
                sort,
                error: Some(said(&err)),
                form_name: form.name,
                form_slug: form.slug,
            };
            render(&page, Some(&err))
        }
    }
}

/// One company as its page shows it.
pub struct CompanyView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub industry: String,
    pub active: bool,
    pub created: String,
    pub users: u64,
    pub documents: String,
    pub db_size: String,
    pub index_size: String,
    pub schema: String,
    pub unavailable: Option<String>,
}

#[derive(Template)]
#[template(path = "console/company.html")]
struct CompanyPage {
    page: Frame,
    c: CompanyView,
    error: Option<String>,
    notice: Option<String>,
}

async fn company_page(
    app: &AppState,
    console: &Console,
    id: String,
    error: Option<Error>,
    notice: Option<String>,
) -> Response {
    let company = match company_service::find(app, &console.actor, id).await {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    let stats = match company_service::stats(app, &console.actor, &company).await {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    let c = CompanyView {
        id: company.uuid,
        name: company.name,
        slug: company.slug,
        industry: company.industry.unwrap_or_else(|| "—".into()),
        active: company.is_active,
        created: company.created_at,
        users: stats.users,
        documents: stats
            .data
            .as_ref()
            .map_or_else(|| "—".into(), |d| d.documents.to_string()),
        db_size: bytes(stats.db_bytes),
        index_size: bytes(stats.index_bytes),
        schema: match stats.schema_version {
            Some(v) if stats.pending_migrations.is_empty() => format!("{v} (current)"),
            Some(v) => format!("{v} ({} pending)", stats.pending_migrations.len()),
            None => "unknown".into(),
        },
        unavailable: stats.unavailable,
    };
    let page = CompanyPage {
        page: Frame::new(console, "Company", "companies"),
        c,
        error: error.as_ref().map(said),
        notice,
    };
    render(&page, error.as_ref())
}

pub async fn company(
    State(app): State<AppState>,
    Extension(console): Extension<Console>,
    Path(id): Path<String>,
) -> Response {
    company_page(&app, &console, id, None, None).await
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    active: String,
}

/// Activates or deactivates a company (the service of PATCH /api/admin/companies/{id}).
pub async fn set_active(
    State(app): State<AppState>,
    Extension(console): Extension<Console>,
    Path(id): Path<String>,
    Form(form): Form<ActiveForm>,
) -> Response {
    let active = match form.active.as_str() {
        "true" => true,
        "false" => false,
        _ => {
            let err = Error::invalid("active", "must be true or false");
            return company_page(&app, &console, id, Some(err), None).await;
        }
    };
    let outcome = async {
        let company = company_service::find(&app, &console.actor, id.clone()).await?;
        let changes = CompanyChanges {
            is_active: Some(active),
            ..CompanyChanges::default()
        };
        company_service::update(&app, &console.actor, &company, changes).await
    }
    .await;
    match outcome {
        Ok(c) => {
            let notice = format!(
                "{} is {}.",
                c.name,
                if active { "active" } else { "deactivated" }
            );
            company_page(&app, &console, id, None, Some(notice)).await
        }
        Err(e) => company_page(&app, &console, id, Some(e), None).await,
    }
}

#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    confirm: String,
}

/// Deletes a company once its slug is typed (the service of DELETE /api/admin/companies/{id}).
pub async fn delete_company(
    State(app): State<AppState>,
    Extension(console): Extension<Console>,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Response {
    let company = match company_service::find(&app, &console.actor, id.clone()).await {
        Ok(c) => c,
        Err(e) => return error_page(e),
    };
    if form.confirm.trim() != company.slug {
        let err = Error::invalid(
            "confirm",
            format!(
                "type the slug {} exactly to delete the company",
                company.slug
            ),
        );
        return company_page(&app, &console, id, Some(err), None).await;
    }
    match company_service::delete(&app, &console.actor, company).await {
        Ok(()) => Redirect::to("/admin/companies").into_response(),
        Err(e) => company_page(&app, &console, id, Some(e), None).await,
    }
}
