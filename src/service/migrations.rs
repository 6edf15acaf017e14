//! Where each company's database stands against the company migrations of this binary.

use crate::app::AppState;
use crate::error::Error;
use crate::identity::Actor;
use crate::store::company::Page;
use crate::store::db::migrations::{self, MigrationSet};
use crate::store::primary::companies::{self, Company};
use crate::tenant::names::resolve_inside;

/// A company and its database's schema version.
pub struct CompanySchema {
    pub company: Company,
    /// The file's version, or why it could not be read.
    pub version: Result<i64, String>,
    /// The newest version this binary knows.
    pub latest: i64,
    /// The migrations the file still lacks (none when its version is unknown).
    pub pending: Vec<String>,
}

/// One page of companies with their schema versions, and how many companies there are;
/// needs system:config. Each company's file is read, not opened in the registry.
pub async fn company_versions(
    app: &AppState,
    actor: &Actor,
    page: Page,
) -> Result<(Vec<CompanySchema>, u64), Error> {
    actor.require("system:config")?;
    let data_dir = app.data_dir.clone();
    app.with_primary(move |conn| {
        let (list, total) = companies::list(conn, page.limit, page.offset)?;
        let latest = MigrationSet::Company.latest();
        let items = list
            .into_iter()
            .map(|company| {
                let version = resolve_inside(&data_dir, &company.db_path)
                    .map_err(|e| e.to_string())
                    .and_then(|p| {
                        migrations::file_version(&p, MigrationSet::Company)
                            .map_err(|e| e.to_string())
                    });
                let pending = version
                    .as_ref()
                    .map(|v| MigrationSet::Company.pending_after(*v))
                    .unwrap_or_default();
                CompanySchema {
                    company,
                    version,
                    latest,
                    pending,
                }
            })
            .collect();
        Ok((items, total))
    })
    .await
}
