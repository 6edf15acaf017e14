//! The background scrub: every company's database is checked with `PRAGMA quick_check`
//! once per period, one company at a time and spread evenly over the period, so the reads
//! it adds stay bounded (one database's pages at a time, a pause between databases).
//!
//! Each check is recorded on the company's row (`integrity_checked_at`). A failed check
//! marks the company damaged — recorded with an audit row, and on its open handle, so
//! writes are refused at once (503 `company_damaged`) — until `silo restore` puts a good
//! copy back.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::app::App;
use crate::store::db::integrity::{self, Depth};
use crate::store::primary::companies::{self, Company};
use crate::tenant::names::resolve_inside;

/// Companies read from primary.db per page.
const PAGE: u32 = 500;

/// Checks `company`'s database now and records the result; the damage found, if any.
/// Blocking.
pub fn check_company(app: &App, company: &Company) -> anyhow::Result<Option<String>> {
    let path = resolve_inside(&app.data_dir, &company.db_path).map_err(|e| anyhow::anyhow!(e))?;
    let finding = match super::open_existing(&path, super::DEFAULT_BUSY_TIMEOUT) {
        Ok(conn) => integrity::check(&conn, Depth::Quick).err(),
        Err(e) if integrity::is_corrupt(&e) => Some(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    let stats = &app.scrub;
    match &finding {
        None => {
            stats.ok.fetch_add(1, Ordering::Relaxed);
            companies::record_check(&*app.primary.get()?, company.id, None)?;
        }
        Some(what) => {
            stats.damaged.fetch_add(1, Ordering::Relaxed);
            match app.registry.if_open(company.id) {
                // Marks the open handle (writes stop now) and records the finding; if it
                // was marked already, only the check's time is new.
                Some(db) if db.is_damaged() => {
                    companies::record_check(&*app.primary.get()?, company.id, None)?;
                }
                Some(db) => db.mark_damaged(what, "the scrub"),
                None => {
                    let mut conn = app.primary.get()?;
                    companies::report_damage(
                        &mut conn,
                        company.id,
                        &company.uuid,
                        what,
                        "the scrub",
                    )?;
                    tracing::error!(company = %company.slug, damage = %what, "scrub: company database damaged");
                }
            }
        }
    }
    Ok(finding)
}

/// Checks every company once, pausing `pace` between two; how many were found damaged.
pub async fn pass(app: &Arc<App>, pace: Duration) -> anyhow::Result<usize> {
    let mut damaged = 0;
    let mut offset = 0;
    loop {
        let a = app.clone();
        let page = tokio::task::spawn_blocking(move || {
            Ok::<_, anyhow::Error>(companies::list(&*a.primary.get()?, PAGE, offset)?.0)
        })
        .await??;
        if page.is_empty() {
            return Ok(damaged);
        }
        offset += page.len() as u32;
        for company in page {
            let a = app.clone();
            let slug = company.slug.clone();
            match tokio::task::spawn_blocking(move || check_company(&a, &company)).await? {
                Ok(Some(_)) => damaged += 1,
                Ok(None) => {}
                Err(e) => tracing::warn!(company = %slug, error = %e, "scrub: could not check"),
            }
            tokio::time::sleep(pace).await;
        }
    }
}

/// Runs [`pass`] forever, each spread over `period`.
pub fn spawn(app: Arc<App>, period: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let a = app.clone();
            let count = tokio::task::spawn_blocking(move || {
                Ok::<_, anyhow::Error>(companies::list(&*a.primary.get()?, 1, 0)?.1)
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r)
            .unwrap_or(0);
            let pace = period / (count.max(1) as u32);
            // The first check waits one pace too: a restart does not start with a burst.
            tokio::time::sleep(pace).await;
            match pass(&app, pace).await {
                Ok(0) => tracing::info!(companies = count, "scrub pass finished: all good"),
                Ok(n) => tracing::error!(
                    companies = count,
                    damaged = n,
                    "scrub pass found damaged companies"
                ),
                Err(e) => tracing::warn!(error = %e, "scrub pass stopped"),
            }
            if count == 0 {
                tokio::time::sleep(period).await;
            }
        }
    })
}
