//! Documents: upload (stored, then processed by a background job), metadata, listing,
//! chunks and deletion.
//!
//! Scope rule: `user` documents are visible to their uploader and company admins only,
//! `company` documents to every user of the company; a document one may not see is
//! reported absent exactly like one that does not exist. Changing or deleting a document is
//! for its uploader and company admins (others who can see it are refused).

use crate::app::App;
use crate::error::Error;
use crate::identity::{Actor, Denied};
use crate::ingest::extract::{self, DetectError};
use crate::ingest::uploads::StagedFile;
use crate::store::company::chunks::{self, Chunk};
use crate::store::company::documents::{
    self, Document, DocumentFilter, DocumentPatch, NewDocument,
};
use crate::store::company::jobs::{self, Job};
use crate::store::company::{Listing, Page, new_uuid};
use crate::store::db::write_tx;
use crate::tenant::context;
use crate::tenant::provision::UPLOADS_DIR;

/// The scopes a document may have.
pub const SCOPES: &[&str] = &["company", "user"];

/// Whether `actor` may upload: checked before the body is read, and again by [`upload`].
pub fn may_upload(actor: &Actor) -> Result<(), Denied> {
    actor.require("documents:create")
}

/// An upload's metadata, validated.
#[derive(Debug, Default)]
pub struct UploadMeta {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub scope: String,
}

/// A stored upload and the job that will process it.
#[derive(Debug)]
pub struct Uploaded {
    pub document: Document,
    pub job_id: String,
}

/// Stores `file` (received into the current company's `uploads/`) as a document of
/// `actor`'s and queues it for processing. The type is decided by the name and confirmed by
/// the content; nothing is left behind when any step fails.
pub async fn upload(
    app: &App,
    actor: &Actor,
    file: StagedFile,
    meta: UploadMeta,
) -> Result<Uploaded, Error> {
    may_upload(actor)?;
    let ctx = context::current()?;
    let (path, name) = (file.path.clone(), file.filename.clone());
    let kind = tokio::task::spawn_blocking(move || {
        // Read as little as the check needs: a header, a zip directory, or text in blocks.
        let mut file = std::io::BufReader::new(std::fs::File::open(&path)?);
        extract::detect_in(&name, &mut file)
    })
    .await?
    .map_err(Error::internal)?
    .map_err(|e| match e {
        DetectError::UnsupportedExtension => Error::UnsupportedMediaType(e.to_string()),
        DetectError::ContentMismatch(_) => {
            Error::UnsupportedMediaType(format!("{e}: the content does not match the file name"))
        }
    })?;

    let uuid = new_uuid();
    let rel_path = format!("{UPLOADS_DIR}/{uuid}.{}", kind.as_str());
    let new = NewDocument {
        uuid: uuid.clone(),
        filename: file.filename.clone(),
        file_path: rel_path.clone(),
        file_type: kind.as_str().into(),
        mime_type: kind.mime().into(),
        file_size: file.size as i64,
        sha256: file.sha256.clone(),
        title: meta.title,
        description: meta.description,
        category: meta.category,
        tags: meta.tags,
        scope: meta.scope,
        uploaded_by: actor.user_uuid.clone(),
    };
    file.persist(&ctx.db.dir().join(&rel_path))
        .await
        .map_err(Error::internal)?;
    let job_id = new_uuid();
    let (job, user) = (job_id.clone(), actor.user_uuid.clone());
    let stored = context::run(move |conn| {
        let tx = write_tx(conn)?;
        let doc_id = documents::insert(&tx, &new)?;
        jobs::insert(
            &tx,
            &job,
            jobs::DOCUMENT_PROCESSING,
            Some(doc_id),
            Some(&user),
            None,
        )?;
        let doc = documents::get(&tx, doc_id)?
            .ok_or_else(|| Error::internal(anyhow::anyhow!("inserted document vanished")))?;
        tx.commit()?;
        Ok::<_, Error>(doc)
    })
    .await;
    let document = match stored {
        Ok(doc) => doc,
        Err(e) => {
            // No row points at the file: remove it.
            let _ = tokio::fs::remove_file(ctx.db.dir().join(&rel_path)).await;
            return Err(e);
        }
    };
    app.ingest.notify(ctx.db.company().id);
    Ok(Uploaded { document, job_id })
}

/// The documents `actor` may see, newest first.
pub async fn list(
    actor: &Actor,
    filter: DocumentFilter,
    page: Page,
) -> Result<Listing<Document>, Error> {
    actor.require("documents:read")?;
    let actor = actor.clone();
    context::run(move |conn| {
        let (items, total) = documents::list(conn, &actor.viewer(), &filter, page)?;
        Ok(Listing::new(items, total, page))
    })
    .await
}

/// Loads a document the actor may see, or "document not found".
fn visible(conn: &rusqlite::Connection, actor: &Actor, id: &str) -> Result<Document, Error> {
    documents::get_visible(conn, &actor.viewer(), id)?.ok_or_else(|| Error::not_found("document"))
}

/// A document with its latest processing job.
pub async fn get(actor: &Actor, id: String) -> Result<(Document, Option<Job>), Error> {
    actor.require("documents:read")?;
    let actor = actor.clone();
    context::read(move |conn| {
        let document = visible(conn, &actor, &id)?;
        let job = jobs::latest_for_document(conn, document.row_id)?;
        Ok((document, job))
    })
    .await
}

/// Changes a document's metadata (its uploader or a company admin).
pub async fn update(actor: &Actor, id: String, patch: DocumentPatch) -> Result<Document, Error> {
    actor.require("documents:update")?;
    let actor = actor.clone();
    context::run(move |conn| {
        let tx = write_tx(conn)?;
        let doc = visible(&tx, &actor, &id)?;
        actor.require_owner(&doc.uploaded_by, "the uploader", "this document")?;
        documents::update_metadata(&tx, doc.row_id, &patch)?;
        let doc = documents::get(&tx, doc.row_id)?.ok_or_else(|| Error::not_found("document"))?;
        tx.commit()?;
        Ok(doc)
    })
    .await
}

/// A document's chunks in reading order.
pub async fn chunks(actor: &Actor, id: String, page: Page) -> Result<Listing<Chunk>, Error> {
    actor.require("documents:read")?;
    let actor = actor.clone();
    context::run(move |conn| {
        let doc = visible(conn, &actor, &id)?;
        let (items, total) = chunks::list_for_document(conn, doc.row_id, page)?;
        Ok(Listing::new(items, total, page))
    })
    .await
}

/// Waits until documents `ids` (the actor's to see) are processed, checking every 100 ms;
/// returns how many failed. Unavailable after `timeout`.
pub async fn wait_processed(
    actor: &Actor,
    ids: &[String],
    timeout: std::time::Duration,
) -> Result<usize, Error> {
    let started = std::time::Instant::now();
    loop {
        let mut pending = 0;
        let mut failed = 0;
        for id in ids {
            let (doc, _) = get(actor, id.clone()).await?;
            match doc.status.as_str() {
                "completed" => {}
                "failed" => failed += 1,
                _ => pending += 1,
            }
        }
        if pending == 0 {
            return Ok(failed);
        }
        if started.elapsed() > timeout {
            return Err(Error::Unavailable(format!(
                "{pending} documents were still being processed after {} s",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
