//! Saved reports. Everyone with reports:read sees the company's reports; saving one needs
//! reports:generate, and changing or deleting one is for its author and company admins.

use rusqlite::Connection;

use crate::error::Error;
use crate::identity::Actor;
use crate::store::company::reports::{self, NewReport, Report, ReportPatch};
use crate::store::company::{Listing, Page, new_uuid};
use crate::store::db::write_tx;
use crate::tenant::context;

/// The report `id`, or not found.
fn found(conn: &Connection, id: &str) -> Result<Report, Error> {
    reports::get_by_uuid(conn, id)?.ok_or_else(|| Error::not_found("report"))
}

/// Saves a report authored by the actor.
pub async fn create(actor: Actor, new: NewReport) -> Result<Report, Error> {
    actor.require("reports:generate")?;
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        let uuid = new_uuid();
        reports::insert(&tx, &uuid, &actor.user_uuid, &new)?;
        let r = reports::get_by_uuid(&tx, &uuid)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("inserted report vanished")))?;
        tx.commit()?;
        Ok::<_, Error>(r)
    })
    .await
}

/// A page of the company's reports (of `report_type` only, when given), newest first.
pub async fn list(
    actor: Actor,
    report_type: Option<String>,
    page: Page,
) -> Result<Listing<Report>, Error> {
    actor.require("reports:read")?;
    context::run(move |conn| {
        let (items, total) = reports::list(conn, report_type.as_deref(), page)?;
        Ok::<_, Error>(Listing::new(items, total, page))
    })
    .await
}

/// The report `id`.
pub async fn get(actor: Actor, id: String) -> Result<Report, Error> {
    actor.require("reports:read")?;
    context::read(move |conn| found(conn, &id)).await
}

/// Changes the report `id` (its author's or, for company admins, any).
pub async fn update(actor: Actor, id: String, patch: ReportPatch) -> Result<Report, Error> {
    actor.require("reports:generate")?;
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        let r = found(&tx, &id)?;
        actor.require_owner(&r.created_by, "the author", "this report")?;
        reports::update(&tx, r.row_id, &patch)?;
        let r = found(&tx, &id)?;
        tx.commit()?;
        Ok::<_, Error>(r)
    })
    .await
}
