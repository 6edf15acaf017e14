//! The trash, for documents, conversations and saved reports. Deleting moves an item to the
//! trash: hidden at once from every list, get and search (its chunks become tombstones in
//! the vector index), restorable by its owner or a company admin (a conversation by its
//! owner only) for the retention period, then purged by [`spawn_sweep`] with everything
//! that hangs off it: chunks, jobs, messages, index entries, the stored file. A company
//! admin may delete permanently at once (`permanent`), live or trashed. Usage rows are
//! never purged: they are the bill.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use crate::app::AppState;
use crate::error::Error;
use crate::identity::{Actor, Denied};
use crate::index::hooks;
use crate::store::company::trash::{self, Kind, Trashed};
use crate::store::company::{Listing, Page, chunks, conversations, documents, reports};
use crate::store::db::write_tx;
use crate::store::primary::companies;
use crate::tenant::{TenantCtx, TenantDb, context, library};

/// How many due items one pass purges per kind and company before moving on.
const PURGE_BATCH: u32 = 100;

/// The permission deleting (and so restoring) an item of `kind` needs.
fn permission(kind: Kind) -> &'static str {
    match kind {
        Kind::Document => "documents:delete",
        Kind::Conversation => "chat:use",
        Kind::Report => "reports:generate",
    }
}

fn not_found(kind: Kind) -> Error {
    Error::not_found(kind.as_str())
}

/// What a purge leaves to do after its commit.
#[derive(Default)]
struct Purged {
    file: Option<String>,
    chunk_ids: Vec<i64>,
}

/// Moves the actor's item `id` to the trash, or with `permanent` (company admins only)
/// purges it now, whether live or already in the trash.
pub async fn delete(actor: &Actor, kind: Kind, id: String, permanent: bool) -> Result<(), Error> {
    actor.require(permission(kind))?;
    if permanent && !actor.is_company_admin() {
        return Err(Denied(
            "only a company admin may delete permanently; without permanent=true the item goes \
             to the trash"
                .into(),
        )
        .into());
    }
    let actor = actor.clone();
    let (trashed, purged) = context::run(move |conn| {
        let tx = write_tx(conn)?;
        let row_id = match live(&tx, &actor, kind, &id)? {
            Some(row_id) if !permanent => {
                trash::move_to_trash(&tx, kind, row_id, &actor.user_uuid)?;
                tx.commit()?;
                let document = (kind == Kind::Document).then_some(row_id);
                return Ok::<_, Error>((document, Purged::default()));
            }
            Some(row_id) => row_id,
            None if permanent => {
                trash::find(&tx, &actor.viewer(), kind, &id)?
                    .ok_or_else(|| not_found(kind))?
                    .row_id
            }
            None => return Err(not_found(kind)),
        };
        let purged = purge_rows(&tx, kind, row_id)?;
        tx.commit()?;
        Ok((None, purged))
    })
    .await?;
    let db = context::current()?.db.clone();
    if let Some(document) = trashed {
        // Takes the index's write lock, which a dump in progress can hold up: not here.
        let home = db.clone();
        tokio::task::spawn_blocking(move || hooks::on_trash_changed(&*home, document)).await?;
    }
    after_purge(db, purged).await
}

/// Takes the actor's item `id` out of the trash (its owner, or a company admin for
/// documents and reports); a document is searchable again at once. A live item is a
/// conflict (it is not in the trash), one the actor cannot see is not found.
pub async fn restore(actor: &Actor, kind: Kind, id: String) -> Result<(), Error> {
    actor.require(permission(kind))?;
    let actor = actor.clone();
    let row_id = context::run(move |conn| {
        let tx = write_tx(conn)?;
        let Some(item) = trash::find(&tx, &actor.viewer(), kind, &id)? else {
            // Live, and the actor's to restore: it exists, it is just not in the trash.
            if live(&tx, &actor, kind, &id)?.is_some() {
                return Err(Error::Conflict(format!(
                    "this {} is not in the trash",
                    kind.as_str()
                )));
            }
            return Err(not_found(kind));
        };
        trash::restore(&tx, kind, item.row_id)?;
        tx.commit()?;
        Ok::<_, Error>(item.row_id)
    })
    .await?;
    if kind == Kind::Document {
        let db = context::current()?.db.clone();
        tokio::task::spawn_blocking(move || hooks::on_trash_changed(&*db, row_id)).await?;
    }
    Ok(())
}

/// What the actor may restore, most recently deleted first.
pub async fn list(actor: &Actor, page: Page) -> Result<Listing<Trashed>, Error> {
    let actor = actor.clone();
    context::read(move |conn| {
        let (items, total) = trash::list(conn, &actor.viewer(), page)?;
        Ok::<_, Error>(Listing::new(items, total, page))
    })
    .await
}

/// The row id of the actor's live item `id`, checking they may delete it.
fn live(conn: &Connection, actor: &Actor, kind: Kind, id: &str) -> Result<Option<i64>, Error> {
    Ok(match kind {
        Kind::Document => match documents::get_visible(conn, &actor.viewer(), id)? {
            Some(doc) => {
                actor.require_owner(&doc.uploaded_by, "the uploader", "this document")?;
                Some(doc.row_id)
            }
            None => None,
        },
        Kind::Conversation => {
            conversations::get_owned(conn, &actor.user_uuid, id)?.map(|c| c.row_id)
        }
        Kind::Report => match reports::get_by_uuid(conn, id)? {
            Some(r) => {
                actor.require_owner(&r.created_by, "the author", "this report")?;
                Some(r.row_id)
            }
            None => None,
        },
    })
}

/// Deletes the rows of an item: a document's chunks (and their keyword index rows, by
/// trigger) and jobs go by cascade, a conversation's messages too; usage rows stay, their
/// links set NULL.
fn purge_rows(conn: &Connection, kind: Kind, row_id: i64) -> Result<Purged, Error> {
    let mut purged = Purged::default();
    match kind {
        Kind::Document => {
            purged.file = documents::get(conn, row_id)?.map(|d| d.file_path);
            purged.chunk_ids = chunks::ids_for_document(conn, row_id)?;
            documents::delete(conn, row_id)?;
        }
        Kind::Conversation => {
            conversations::delete(conn, row_id)?;
        }
        Kind::Report => {
            reports::delete(conn, row_id)?;
        }
    }
    Ok(purged)
}

/// After the commit of a purge: the row is gone, so the file and index entries are
/// unreachable; a failure here leaves garbage, never a dangling row.
async fn after_purge(db: Arc<TenantDb>, purged: Purged) -> Result<(), Error> {
    if let Some(file) = purged.file
        && let Err(e) = tokio::fs::remove_file(db.dir().join(&file)).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(error = %e, "could not remove a purged document's file");
    }
    if !purged.chunk_ids.is_empty() {
        let ids = purged.chunk_ids;
        tokio::task::spawn_blocking(move || hooks::on_chunks_removed(&*db, &ids)).await?;
    }
    Ok(())
}

/// Purges what has been in the trash longer than the retention, in every company and the
/// library. Returns
/// how many items went. A company that cannot be opened (closed for maintenance, damaged)
/// is skipped until the next pass.
pub async fn purge_due(app: &AppState) -> usize {
    let cutoff = chrono::Utc::now()
        - chrono::Duration::from_std(app.workspace.trash_retention)
            .unwrap_or(chrono::Duration::MAX);
    let cutoff = crate::store::db::timestamp(cutoff);
    let all = match app.read_primary(|conn| Ok(companies::all(conn)?)).await {
        // The library's trash too, while there is a library.
        Ok(mut all) => {
            if library::exists(&app.data_dir) {
                all.push(library::row());
            }
            all
        }
        Err(e) => {
            tracing::warn!(error = %e, "trash sweep: could not list companies");
            return 0;
        }
    };
    let mut total = 0;
    for company in all {
        let db = match app.registry.get(company.id).await {
            Ok(db) if !db.is_damaged() => db,
            _ => continue,
        };
        let ctx = TenantCtx::new(db.clone(), None);
        match context::scope(ctx, purge_company(db, cutoff.clone())).await {
            Ok(n) => total += n,
            Err(e) => tracing::warn!(company = %company.slug, error = %e, "trash sweep failed"),
        }
    }
    total
}

async fn purge_company(db: Arc<TenantDb>, cutoff: String) -> Result<usize, Error> {
    let mut done = 0;
    for kind in Kind::ALL {
        loop {
            let cut = cutoff.clone();
            let batch = context::read(move |conn| {
                Ok::<_, Error>(trash::due(conn, kind, &cut, PURGE_BATCH)?)
            })
            .await?;
            if batch.is_empty() {
                break;
            }
            let n = batch.len();
            for item in batch {
                let cut = cutoff.clone();
                let purged = context::run(move |conn| {
                    let tx = write_tx(conn)?;
                    // Restored since it was found due: kept.
                    if !trash::still_due(&tx, kind, item.row_id, &cut)? {
                        return Ok::<_, Error>(None);
                    }
                    let purged = purge_rows(&tx, kind, item.row_id)?;
                    tx.commit()?;
                    Ok(Some(purged))
                })
                .await?;
                if let Some(purged) = purged {
                    after_purge(db.clone(), purged).await?;
                }
            }
            done += n;
            if n < PURGE_BATCH as usize {
                break;
            }
        }
    }
    if done > 0 {
        tracing::info!(company = %db.company().slug, purged = done, "trash purged");
    }
    Ok(done)
}

/// Runs [`purge_due`] every `every`, the first pass one period after start.
pub fn spawn_sweep(app: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            purge_due(&app).await;
        }
    })
}
