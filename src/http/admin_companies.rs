//! /api/admin/companies: the super admin creates, inspects, changes and deletes companies.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{ApiResult, Error};
use super::json::{ApiJson, ApiPath, ApiQuery};
use super::openapi::ErrorBody;
use super::validate::{self, PageQuery};
use crate::app::AppState;
use crate::identity::Actor;
use crate::ops;
use crate::ops::migrate::{CompanyReport, Status};
use crate::store::company::Listing;
use crate::store::db::migrations::{self, MigrationSet};
use crate::store::db::write_tx;
use crate::store::primary::audit;
use crate::store::primary::companies::{self, Company};
use crate::tenant::names::{CompanyName, resolve_inside};
use crate::tenant::provision::{self, NewCompany, ProvisionError, VECTORS_DIR};
use crate::tenant::stats::{self, DataStats};
use crate::tenant::{self, TenantCtx};

/// Permission: companies:manage (super admins; the group also requires the role).
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_companies, create_company))
        .routes(routes!(get_company, update_company, delete_company))
        .routes(routes!(migrate_company))
}

/// A company, whether its database is open now, and (from GET /api/admin/companies/{id}
/// only) its statistics.
#[derive(Serialize, ToSchema)]
pub struct CompanyResponse {
    #[serde(flatten)]
    pub company: Company,
    pub open: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = CompanyStats, required = false)]
    pub stats: Option<CompanyStats>,
}

/// The company's numbers. The data counts (documents, chunks, conversations, messages,
/// tokens, estimated_cost) are present only when its database could be opened; otherwise
/// `unavailable` says why.
#[derive(Serialize, Default, ToSchema)]
pub struct CompanyStats {
    pub users: u64,
    #[serde(flatten)]
    #[schema(value_type = DataCounts)]
    pub data: Option<DataStats>,
    pub db_bytes: u64,
    pub index_bytes: u64,
    pub schema_version: Option<i64>,
    pub pending_migrations: Vec<String>,
    pub open: bool,
    /// Why the data counts are missing, when the database could not be opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

// The schema of `CompanyStats::data` (the fields of `DataStats`, each absent when the
// database could not be opened); documentation only.
/// The company's data counts, present when its database could be opened.
#[derive(ToSchema)]
#[allow(dead_code)]
struct DataCounts {
    #[schema(required = false)]
    documents: u64,
    #[schema(required = false)]
    chunks: u64,
    #[schema(required = false)]
    conversations: u64,
    #[schema(required = false)]
    messages: u64,
    /// Chat and embedding tokens metered.
    #[schema(required = false)]
    tokens: u64,
    #[schema(required = false)]
    estimated_cost: f64,
}

async fn find_company(app: &AppState, id: String) -> ApiResult<Company> {
    app.read_primary(move |conn| Ok(companies::find(conn, &id)?))
        .await?
        .ok_or_else(|| Error::not_found("company"))
}

/// Every company, by creation.
#[utoipa::path(get, path = "/api/admin/companies", tag = "admin", params(PageQuery),
    responses((status = 200, body = Listing<CompanyResponse>),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_companies(
    State(app): State<AppState>,
    actor: Actor,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> ApiResult<Json<Listing<CompanyResponse>>> {
    actor.require("companies:manage")?;
    let page = page.page()?;
    let (items, total) = app
        .with_primary(move |conn| Ok(companies::list(conn, page.limit, page.offset)?))
        .await?;
    let items = items
        .into_iter()
        .map(|company| CompanyResponse {
            open: app.registry.is_open(company.id),
            company,
            stats: None,
        })
        .collect();
    Ok(Json(Listing::new(items, total, page)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompany {
    #[schema(pattern = "text:company-name", max_length = 100)]
    pub name: String,
    /// Derived from the name when absent.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,62}$")]
    pub slug: Option<String>,
    #[schema(pattern = "text:line", max_length = 100)]
    pub industry: Option<String>,
}

/// Creates a company and its database.
#[utoipa::path(post, path = "/api/admin/companies", tag = "admin", request_body = CreateCompany,
    responses((status = 201, body = CompanyResponse), (status = 400, body = ErrorBody),
              (status = 409, description = "the name or slug is taken", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiJson(body): ApiJson<CreateCompany>,
) -> ApiResult<(StatusCode, Json<CompanyResponse>)> {
    actor.require("companies:manage")?;
    let input = NewCompany {
        name: body.name,
        slug: body.slug,
        industry: body.industry,
    };
    let app2 = app.clone();
    let created = tokio::task::spawn_blocking(move || {
        provision::create_company(&app2.primary, &app2.data_dir, &input)
    })
    .await?;
    let company = match created {
        Ok(company) => company,
        Err(ProvisionError::Invalid(e)) => return Err(Error::invalid(e.field, e.message)),
        Err(ProvisionError::Conflict(m)) => return Err(Error::Conflict(m)),
        Err(ProvisionError::Failed(e)) => return Err(Error::internal(e)),
    };
    tracing::info!(company = %company.slug, by = %actor.email, "company created");
    app.audit(
        &actor,
        "company.create",
        company.uuid.clone(),
        serde_json::json!({"name": company.name, "slug": company.slug}),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(CompanyResponse {
            company,
            open: false,
            stats: None,
        }),
    ))
}

/// A company with its statistics.
#[utoipa::path(get, path = "/api/admin/companies/{id}", tag = "admin",
    params(("id" = String, Path, description = "company id or slug")),
    responses((status = 200, body = CompanyResponse), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CompanyResponse>> {
    actor.require("companies:manage")?;
    let company = find_company(&app, id).await?;
    let stats = company_stats(&app, &company).await?;
    Ok(Json(CompanyResponse {
        open: stats.open,
        company,
        stats: Some(stats),
    }))
}

async fn company_stats(app: &AppState, company: &Company) -> ApiResult<CompanyStats> {
    let company_id = company.id;
    let users: i64 = app
        .read_primary(move |conn| {
            Ok(conn.query_row(
                "SELECT COUNT(*) FROM users WHERE company_id = ?1",
                [company_id],
                |r| r.get(0),
            )?)
        })
        .await?;
    let mut stats = CompanyStats {
        users: users as u64,
        ..Default::default()
    };
    match app.registry.get(company.id).await {
        Ok(db) => {
            stats.schema_version = Some(db.schema_version());
            let ctx = TenantCtx::new(db, None);
            let data = tenant::context::scope(
                ctx,
                tenant::context::run(|conn| stats::data_stats(conn).map_err(Error::from)),
            )
            .await?;
            stats.data = Some(data);
            stats.open = true;
        }
        Err(e) => stats.unavailable = Some(e.to_string()),
    }
    let path = resolve_inside(&app.data_dir, &company.db_path)
        .map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
    let dir = path
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let version = stats.schema_version;
    let (db_bytes, index_bytes, version) = tokio::task::spawn_blocking(move || {
        let size = |suffix: &str| {
            std::fs::metadata(format!("{}{suffix}", path.display())).map_or(0, |m| m.len())
        };
        let version =
            version.or_else(|| migrations::file_version(&path, MigrationSet::Company).ok());
        (
            size("") + size("-wal") + size("-shm"),
            stats::dir_bytes(&dir.join(VECTORS_DIR)),
            version,
        )
    })
    .await?;
    stats.db_bytes = db_bytes;
    stats.index_bytes = index_bytes;
    stats.schema_version = version;
    stats.pending_migrations = version
        .map(|v| MigrationSet::Company.pending_after(v))
        .unwrap_or_default();
    Ok(stats)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCompany {
    #[schema(pattern = "text:company-name", max_length = 100)]
    pub name: Option<String>,
    /// null clears it.
    #[serde(default, deserialize_with = "super::validate::double_option")]
    #[schema(value_type = Option<String>)]
    #[schema(pattern = "text:line", max_length = 100)]
    pub industry: Option<Option<String>>,
    pub is_active: Option<bool>,
}

/// Renames a company, sets its industry, or (de)activates it.
#[utoipa::path(patch, path = "/api/admin/companies/{id}", tag = "admin",
    params(("id" = String, Path, description = "company id or slug")),
    request_body = UpdateCompany,
    responses((status = 200, body = CompanyResponse), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "the name is taken", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateCompany>,
) -> ApiResult<Json<CompanyResponse>> {
    actor.require("companies:manage")?;
    let company = find_company(&app, id).await?;
    let name = match &body.name {
        Some(raw) => Some(CompanyName::parse(raw).map_err(|e| Error::invalid(e.field, e.message))?),
        None => None,
    };
    let industry = body
        .industry
        .map(|i| validate::opt_text("industry", i.as_deref(), 100))
        .transpose()?;
    let (company_id, actor_id) = (company.id, actor.user_id);
    let updated = app
        .with_primary(move |conn| {
            // The change and its audit row commit together.
            let tx = write_tx(conn)?;
            let changed = companies::update(
                &tx,
                company_id,
                name.as_ref().map(CompanyName::as_str),
                industry.as_ref().map(|i| i.as_deref()),
                body.is_active,
            );
            match changed {
                Err(e) if e.is_unique_violation() => {
                    return Err(Error::Conflict(
                        "a company with this name already exists".into(),
                    ));
                }
                other => other?,
            };
            let updated =
                companies::get(&tx, company_id)?.ok_or_else(|| Error::not_found("company"))?;
            let detail = serde_json::json!({"name": updated.name, "industry": updated.industry,
                                            "is_active": updated.is_active});
            audit::record(&tx, actor_id, "company.update", &updated.uuid, &detail)?;
            tx.commit()?;
            Ok(updated)
        })
        .await?;
    app.principals.invalidate();
    Ok(Json(CompanyResponse {
        open: app.registry.is_open(updated.id),
        company: updated,
        stats: None,
    }))
}

/// Deletes a company, its users and its files.
#[utoipa::path(delete, path = "/api/admin/companies/{id}", tag = "admin",
    params(("id" = String, Path, description = "company id or slug")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    actor.require("companies:manage")?;
    let company = find_company(&app, id).await?;
    provision::delete_company(&app.registry, &app.primary, &app.data_dir, &company)
        .await
        .map_err(|e| match e {
            provision::DeleteError::Busy(busy) => Error::from(busy),
            provision::DeleteError::Failed(cause) => Error::internal(cause),
        })?;
    app.principals.invalidate();
    tracing::info!(company = %company.slug, by = %actor.email, "company deleted");
    app.audit(
        &actor,
        "company.delete",
        company.uuid.clone(),
        serde_json::json!({"name": company.name, "slug": company.slug}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs the company's pending migrations now (backed up first). While it runs, the company's
/// requests answer 503; a second migration of the same company at once answers 409.
#[utoipa::path(post, path = "/api/admin/companies/{id}/migrate", tag = "admin",
    params(("id" = String, Path, description = "company id or slug")),
    responses((status = 200, description = "migrated or already current", body = CompanyReport),
              (status = 403, description = "needs system:config", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 409, description = "already being migrated", body = ErrorBody),
              (status = 503, description = "the migration failed and was rolled back", body = ErrorBody)),
    security(("bearer" = [])))]
async fn migrate_company(
    State(app): State<AppState>,
    actor: Actor,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CompanyReport>> {
    actor.require("system:config")?;
    let company = find_company(&app, id).await?;
    let report = ops::migrate::migrate_one(&app, &company).await;
    let detail = serde_json::json!({"status": report.status.as_str(),
        "from": report.from_version, "to": report.to_version});
    app.audit(&actor, "company.migrate", company.uuid.clone(), detail)
        .await;
    match report.status {
        Status::Skipped => Err(Error::Conflict(format!(
            "company {} is already being migrated",
            company.slug
        ))),
        Status::Failed => {
            // The cause may name files and SQL: logged, not returned.
            tracing::error!(company = %company.slug, error = ?report.error, "company migration failed");
            Err(Error::Unavailable(format!(
                "the migration of company {} failed and was rolled back; it stays at schema \
                 version {}; the cause is in the server log",
                company.slug,
                report
                    .from_version
                    .map_or_else(|| "unknown".to_string(), |v| v.to_string())
            )))
        }
        _ => Ok(Json(report)),
    }
}
