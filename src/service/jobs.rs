//! Background jobs of the company (document processing, reindexing) and their progress,
//! read with documents:read. Admins see every job; others the jobs they started and those
//! of documents they may see.

use crate::error::Error;
use crate::identity::Actor;
use crate::store::company::jobs::{self, Job};
use crate::store::company::{Listing, Page};
use crate::tenant::context;

/// A page of the jobs the actor may see (of `job_type` and in `status` only, when given),
/// newest first.
pub async fn list(
    actor: Actor,
    job_type: Option<String>,
    status: Option<String>,
    page: Page,
) -> Result<Listing<Job>, Error> {
    actor.require("documents:read")?;
    context::read(move |conn| {
        let viewer = actor.viewer();
        let (items, total) =
            jobs::list_visible(conn, &viewer, job_type.as_deref(), status.as_deref(), page)?;
        Ok::<_, Error>(Listing::new(items, total, page))
    })
    .await
}

/// The job `id`, if the actor may see it.
pub async fn get(actor: Actor, id: String) -> Result<Job, Error> {
    actor.require("documents:read")?;
    context::read(move |conn| {
        jobs::get_visible(conn, &actor.viewer(), &id)?.ok_or_else(|| Error::not_found("job"))
    })
    .await
}
