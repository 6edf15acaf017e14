//! Companies, for the super admin: create (with its database), inspect, change, delete and
//! migrate. Each action needs `companies:manage` (migrating, `system:config`) and writes the
//! audit log.

use crate::app::AppState;
use crate::error::Error;
use crate::identity::Actor;
use crate::ops::migrate::{self, CompanyReport, Status};
use crate::store::company::Listing;
use crate::store::company::Page;
use crate::store::company::stats::{self, DataStats};
use crate::store::db::migrations::{self, MigrationSet};
use crate::store::db::write_tx;
use crate::store::primary::companies::{self, Company};
use crate::store::primary::{audit, users};
use crate::tenant::names::{CompanyName, resolve_inside};
use crate::tenant::provision::{self, NewCompany, ProvisionError, VECTORS_DIR};
use crate::tenant::{self, TenantCtx};

/// A company by public id or slug, or "company not found".
pub async fn find(app: &AppState, actor: &Actor, id: String) -> Result<Company, Error> {
    actor.require("companies:manage")?;
    app.read_primary(move |conn| Ok(companies::find(conn, &id)?))
        .await?
        .ok_or_else(|| Error::not_found("company"))
}

/// The current company (of the tenant scope) as its row says now, not the registry's
/// copy (a rename shows at once), with its database's schema version.
pub async fn current(app: &AppState) -> Result<(Company, i64), Error> {
    let ctx = tenant::context::current()?;
    let id = ctx.db.company().id;
    let company = app
        .read_primary(move |conn| Ok(companies::get(conn, id)?))
        .await?
        .ok_or_else(|| Error::not_found("company"))?;
    Ok((company, ctx.db.schema_version()))
}

/// Every company, by creation.
pub async fn list(app: &AppState, actor: &Actor, page: Page) -> Result<Listing<Company>, Error> {
    actor.require("companies:manage")?;
    let (items, total) = app
        .with_primary(move |conn| Ok(companies::list(conn, page.limit, page.offset)?))
        .await?;
    Ok(Listing::new(items, total, page))
}

/// Creates a company and its database.
pub async fn create(app: &AppState, actor: &Actor, input: NewCompany) -> Result<Company, Error> {
    actor.require("companies:manage")?;
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
        actor,
        "company.create",
        company.uuid.clone(),
        serde_json::json!({"name": company.name, "slug": company.slug}),
    )
    .await;
    Ok(company)
}

/// A company's numbers. The data counts are present only when its database could be
/// opened; otherwise `unavailable` says why.
#[derive(Debug, Default)]
pub struct Stats {
    pub users: u64,
    pub data: Option<DataStats>,
    /// Database, WAL and shared-memory files.
    pub db_bytes: u64,
    pub index_bytes: u64,
    pub schema_version: Option<i64>,
    pub pending_migrations: Vec<String>,
    pub open: bool,
    pub unavailable: Option<String>,
}

/// The numbers of `company` (opening its database if it can).
pub async fn stats(app: &AppState, actor: &Actor, company: &Company) -> Result<Stats, Error> {
    actor.require("companies:manage")?;
    let company_id = company.id;
    let users = app
        .read_primary(move |conn| Ok(users::count_in_company(conn, company_id)?))
        .await?;
    let mut stats = Stats {
        users,
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

/// What may change of a company, validated.
#[derive(Debug, Default)]
pub struct CompanyChanges {
    pub name: Option<CompanyName>,
    /// `Some(None)` clears it.
    pub industry: Option<Option<String>>,
    pub is_active: Option<bool>,
}

/// Renames a company, sets its industry, or (de)activates it; the change and its audit row
/// commit together.
pub async fn update(
    app: &AppState,
    actor: &Actor,
    company: &Company,
    changes: CompanyChanges,
) -> Result<Company, Error> {
    actor.require("companies:manage")?;
    let (company_id, actor_id) = (company.id, actor.user_id);
    let updated = app
        .with_primary(move |conn| {
            let tx = write_tx(conn)?;
            let changed = companies::update(
                &tx,
                company_id,
                changes.name.as_ref().map(CompanyName::as_str),
                changes.industry.as_ref().map(|i| i.as_deref()),
                changes.is_active,
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
    Ok(updated)
}

/// Deletes a company, its users and its files.
pub async fn delete(app: &AppState, actor: &Actor, company: Company) -> Result<(), Error> {
    actor.require("companies:manage")?;
    provision::delete_company(&app.registry, &app.primary, &app.data_dir, &company)
        .await
        .map_err(|e| match e {
            provision::DeleteError::Busy(busy) => Error::from(busy),
            provision::DeleteError::Failed(cause) => Error::internal(cause),
        })?;
    app.principals.invalidate();
    tracing::info!(company = %company.slug, by = %actor.email, "company deleted");
    app.audit(
        actor,
        "company.delete",
        company.uuid.clone(),
        serde_json::json!({"name": company.name, "slug": company.slug}),
    )
    .await;
    Ok(())
}

/// Runs the company's pending migrations now (backed up first). A migration of the same
/// company already running is a conflict; a failed one (rolled back) is reported as the
/// company being unavailable, its cause logged, not returned.
pub async fn migrate(
    app: &AppState,
    actor: &Actor,
    company: &Company,
) -> Result<CompanyReport, Error> {
    actor.require("system:config")?;
    let report = migrate::migrate_one(app, company).await;
    let detail = serde_json::json!({"status": report.status.as_str(),
        "from": report.from_version, "to": report.to_version});
    app.audit(actor, "company.migrate", company.uuid.clone(), detail)
        .await;
    match report.status {
        Status::Skipped => Err(Error::Conflict(format!(
            "company {} is already being migrated",
            company.slug
        ))),
        Status::Failed => {
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
        _ => Ok(report),
    }
}
