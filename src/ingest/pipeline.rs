//! The document pipeline, run by the worker for one claimed `document_processing` job:
//! read the stored file → extract text → chunk → embed in batches (when an embedder is
//! configured) → one write transaction inserting every chunk (FTS rows by trigger, the
//! embeddings beside them, the embedding calls' `token_usage` row) and marking document
//! and job completed → vector index hook.
//!
//! A failure at any step (unparseable file, missing file, embedder error) marks the job and
//! the document failed with a message for the user; since chunks are only written in the
//! final transaction, a failed or interrupted run leaves no partial chunks behind. A re-run
//! (after a restart) deletes any chunks of the document first, so it is idempotent.
//!
//! Runs on a blocking thread inside the company's `TenantCtx` (see `worker`).

use std::path::{Component, Path};
use std::sync::Arc;

use serde_json::json;

use super::chunk::{self, Piece};
use super::extract::{self, FileKind};
use crate::embed::Embedder;
use crate::embed::usage::usage_row;
use crate::index::hooks;
use crate::pricing::PriceTable;
use crate::store::company::chunks::{self, NewChunk};
use crate::store::company::{documents, jobs, usage};
use crate::store::db::write_tx;
use crate::tenant::{TenantError, context};

/// Chunks embedded per call: big enough to amortise a model call, small enough that a
/// local model on two cores answers within a second and progress moves visibly.
pub const EMBED_BATCH: usize = 16;

/// What went wrong in a run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The user's file or configuration is at fault: the message is shown to the user.
    #[error("{0}")]
    Failed(String),
    /// Storage failed; logged, and the user sees a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
    /// The server failed, not the input (a full disk, a locked or failing database): the
    /// job was left running for the worker to put back in the queue with a delay.
    #[error("{0}")]
    Retry(anyhow::Error),
}

/// Ends a job whose run failed with `err`: a failure of the input (or a bug) fails the job
/// and its document with a message for the user; a failure of the server is returned as
/// [`PipelineError::Retry`] without recording anything, for the worker to run it again
/// later. `what` names the work for the log and the generic message.
pub fn settle_failure(job: &jobs::Job, err: PipelineError, what: &str) -> PipelineError {
    let message = match &err {
        PipelineError::Failed(m) => m.clone(),
        PipelineError::Internal(e) if crate::store::db::is_transient(e.as_ref()) => {
            tracing::warn!(job = %job.uuid, error = %e, "{what} hit a server failure; it will be retried");
            let PipelineError::Internal(e) = err else {
                unreachable!()
            };
            return PipelineError::Retry(e);
        }
        PipelineError::Internal(e) => {
            if let (true, Ok(ctx)) = (
                crate::store::db::integrity::is_corrupt(e.as_ref()),
                context::current(),
            ) {
                ctx.db
                    .clone()
                    .suspect_corruption(e.to_string(), "a background job");
            }
            tracing::error!(job = %job.uuid, error = ?e, "{what} failed");
            format!("internal error while {what}; the cause has been logged")
        }
        PipelineError::Retry(_) => return err,
    };
    // A job already ended (timed out) keeps the verdict it was given. If even this write
    // fails for the server's sake, the worker retries the job.
    match fail(job.row_id, &message) {
        Ok(()) => err,
        Err(PipelineError::Internal(e)) if crate::store::db::is_transient(e.as_ref()) => {
            PipelineError::Retry(e)
        }
        Err(other) => other,
    }
}

impl From<rusqlite::Error> for PipelineError {
    fn from(e: rusqlite::Error) -> Self {
        PipelineError::Internal(e.into())
    }
}

impl From<TenantError> for PipelineError {
    fn from(e: TenantError) -> Self {
        PipelineError::Internal(e.into())
    }
}

/// What a completed run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub chunks: usize,
    pub tokens: i64,
    pub embedded: bool,
}

/// Runs job `job` to its end: completed, failed, or nothing when its document was deleted
/// meanwhile. Errors of recording the end itself are returned for the worker to log; the
/// job then stays `processing` until the next start's recovery queues it again.
pub fn run_job(
    job: &jobs::Job,
    embedder: Option<&Arc<dyn Embedder>>,
    prices: &PriceTable,
) -> Result<Option<Outcome>, PipelineError> {
    let Some(doc_id) = job.document_row_id else {
        let msg = "job has no document";
        fail(job.row_id, msg)?;
        return Err(PipelineError::Failed(msg.into()));
    };
    process(job, doc_id, embedder, prices)
        .map_err(|err| settle_failure(job, err, "processing the document"))
}

fn process(
    job: &jobs::Job,
    doc_id: i64,
    embedder: Option<&Arc<dyn Embedder>>,
    prices: &PriceTable,
) -> Result<Option<Outcome>, PipelineError> {
    let ctx = context::current()?;
    let doc = context::with_conn(|c| {
        let tx = write_tx(c)?;
        let doc = documents::get(&tx, doc_id)?;
        if doc.is_some() {
            documents::mark_processing(&tx, doc_id)?;
            jobs::set_progress(&tx, job.row_id, 0, 0, "extracting")?;
        }
        tx.commit()?;
        Ok::<_, PipelineError>(doc)
    })?;
    let Some(doc) = doc else {
        return Ok(None); // Deleted meanwhile: its job went with it.
    };

    let bytes = read_stored_file(ctx.db.dir(), &doc.file_path)?;
    let kind = doc
        .file_type
        .as_deref()
        .and_then(FileKind::parse)
        .ok_or_else(|| PipelineError::Failed("unsupported file type".into()))?;
    let sections =
        extract::extract(kind, &bytes).map_err(|e| PipelineError::Failed(e.to_string()))?;
    drop(bytes);
    let pieces = chunk::chunk_sections(&sections);
    drop(sections);
    let total = pieces.len() as i64;
    let step = if embedder.is_some() {
        "embedding"
    } else {
        "storing chunks"
    };
    context::with_conn(|c| {
        Ok::<_, PipelineError>(jobs::set_progress(c, job.row_id, 0, total, step)?)
    })?;

    let embeddings = match embedder {
        Some(e) => Some(embed_all(e.as_ref(), &pieces, |done| {
            // Progress is informative: a failed update must not fail the job.
            let _ = context::with_conn(|c| {
                Ok::<_, PipelineError>(jobs::set_progress(c, job.row_id, done, total, "embedding")?)
            });
        })?),
        None => None,
    };

    let rows: Vec<NewChunk> = pieces
        .into_iter()
        .enumerate()
        .map(|(i, Piece { text, page })| NewChunk {
            token_count: crate::text::estimate_tokens(&text),
            content: text,
            chunk_index: i as i64,
            page_number: page.map(i64::from),
            section: None,
            embedding: embeddings.as_ref().map(|e| chunks::encode_embedding(&e[i])),
            embedding_model: embedder.map(|e| e.id().to_string()),
        })
        .collect();
    let tokens: i64 = rows.iter().map(|r| r.token_count).sum();
    // The embedding calls, charged to whoever uploaded the document.
    let usage_row = match (embedder, &embeddings) {
        (Some(e), Some(_)) if tokens > 0 => {
            let user = job.created_by.as_deref().unwrap_or(&doc.uploaded_by);
            Some(usage_row(e.as_ref(), prices, user, tokens))
        }
        _ => None,
    };
    let result = json!({
        "chunks": rows.len(), "tokens": tokens, "embedded": embeddings.is_some(),
        "embedder": embedder.map(|e| e.id().to_string()),
    })
    .to_string();
    let committed = context::with_conn(|c| {
        let tx = write_tx(c)?;
        // The job may have been failed by the worker's timeout, or the document deleted,
        // while we worked: then store nothing. (Checked under the write lock, so nothing
        // changes between this check and the commit.)
        let running = jobs::get(&tx, job.row_id)?.is_some_and(|j| j.status == "processing");
        if !running || documents::get(&tx, doc_id)?.is_none() {
            return Ok::<_, PipelineError>(None);
        }
        // Trashed meanwhile: its chunks are stored (a restore brings it back whole) but
        // stay out of the vector index, like every trashed document's.
        let trashed = crate::store::company::trash::is_trashed(&tx, doc_id)?;
        let removed = chunks::delete_for_document(&tx, doc_id)?;
        let ids = chunks::insert_many(&tx, doc_id, &rows)?;
        documents::mark_completed(&tx, doc_id, rows.len() as i64, tokens)?;
        jobs::complete(&tx, job.row_id, rows.len() as i64, &result)?;
        if let Some(row) = &usage_row {
            usage::insert(&tx, row)?;
        }
        tx.commit()?;
        Ok(Some((removed, ids, trashed)))
    })?;
    let Some((removed, ids, trashed)) = committed else {
        return Ok(None);
    };
    // ── Vector index hooks: after commit, never failing the job (see index::hooks). ──
    if !removed.is_empty() {
        hooks::on_chunks_removed(&*ctx.db, &removed);
    }
    let chunks = ids.len();
    if let (Some(e), Some(vectors), false) = (embedder, embeddings, trashed) {
        // `insert_many` returns the rowids in the order of `rows`, which is theirs.
        let items: Vec<(i64, Vec<f32>)> = ids.into_iter().zip(vectors).collect();
        hooks::on_chunks_committed(&*ctx.db, e.id(), &items);
    }
    Ok(Some(Outcome {
        chunks,
        tokens,
        embedded: embedder.is_some(),
    }))
}

/// Fails job `row_id` (and its document) with `message`, in the current company.
pub fn fail(row_id: i64, message: &str) -> Result<(), PipelineError> {
    context::with_conn(|c| {
        let tx = write_tx(c)?;
        jobs::fail(&tx, row_id, message)?;
        tx.commit()?;
        Ok(())
    })
}

/// Reads a document's stored file. The path is relative to the company directory and was
/// made by the upload handler; it is still checked to stay inside that directory.
fn read_stored_file(dir: &Path, rel: &str) -> Result<Vec<u8>, PipelineError> {
    let rel = Path::new(rel);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(PipelineError::Internal(anyhow::anyhow!(
            "refusing stored path {}",
            rel.display()
        )));
    }
    std::fs::read(dir.join(rel)).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            PipelineError::Failed("the uploaded file is missing from storage".into())
        }
        _ => PipelineError::Internal(anyhow::Error::new(e).context("reading the uploaded file")),
    })
}

/// Embeds every piece in batches with [`crate::embed::embed_checked`]: a misbehaving
/// embedder fails the job instead of storing bad vectors.
fn embed_all(
    embedder: &dyn Embedder,
    pieces: &[Piece],
    mut progress: impl FnMut(i64),
) -> Result<Vec<Vec<f32>>, PipelineError> {
    let mut out = Vec::with_capacity(pieces.len());
    for batch in pieces.chunks(EMBED_BATCH) {
        let texts: Vec<&str> = batch.iter().map(|p| p.text.as_str()).collect();
        let vectors = crate::embed::embed_checked(embedder, &texts)
            .map_err(|e| PipelineError::Failed(e.to_string()))?;
        out.extend(vectors);
        progress(out.len() as i64);
    }
    Ok(out)
}
