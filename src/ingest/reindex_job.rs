//! The background `reindex` job: moves a company's chunks to the current embedder.
//!
//! Queued automatically when the company's vector index finds chunks it cannot hold (the
//! embedder changed): at start-up when the saved index names another embedder, or when the
//! index is loaded with stale chunks. It runs under the worker's permits like a document
//! job, in slices of at most [`SLICE`]: a slice always makes progress (at least one batch),
//! and one that runs out of time completes and queues a follow-up carrying its cursor
//! (`params: {"after", "total", "done"}`) behind the company's other pending jobs, so a
//! company with a million chunks neither holds a permit for hours nor blocks its own
//! uploads, and no slice scans what an earlier one did. Each batch is committed and then
//! added to the loaded index, so vector search fills in while the reindex runs; keyword
//! search is complete throughout. Each slice records one usage row (charged to `system`).
//!
//! When the last slice finishes, a saved index of the previous embedder is discarded, so
//! the next start does not queue the reindex again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::pipeline::{Outcome, PipelineError};
use crate::embed::Embedder;
use crate::embed::usage::SYSTEM_USER;
use crate::index::reembed::{self as reindex, BATCH, Charge, ReembedError};
use crate::index::{VECTORS_DIR, VectorIndex};
use crate::pricing::PriceTable;
use crate::store::company::jobs;
use crate::store::db::write_tx;
use crate::tenant::context;

/// Longest one reindex job runs before handing over to a follow-up job.
pub const SLICE: Duration = Duration::from_secs(30);

/// Where a reindex continues (the job's `params`).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Cursor {
    /// Chunks up to this id were handled by earlier slices.
    after: i64,
    /// Stale chunks when the reindex started.
    total: i64,
    /// Chunks handled so far (embedded or refused).
    done: i64,
}

/// Runs one slice of a reindex job inside the company's `TenantCtx` (blocking).
pub fn run_job(
    job: &jobs::Job,
    embedder: Option<&Arc<dyn Embedder>>,
    prices: &PriceTable,
    slice: Duration,
) -> Result<Option<Outcome>, PipelineError> {
    let result = match embedder {
        Some(e) => reembed(job, e.as_ref(), prices, slice),
        None => Err(PipelineError::Failed("no embedder is configured".into())),
    };
    result.map_err(|err| super::pipeline::settle_failure(job, err, "reindexing"))
}

fn reembed(
    job: &jobs::Job,
    embedder: &dyn Embedder,
    prices: &PriceTable,
    slice: Duration,
) -> Result<Option<Outcome>, PipelineError> {
    let started = Instant::now();
    let ctx = context::current()?;
    let mut cursor = match job.params.as_deref().map(serde_json::from_str::<Cursor>) {
        Some(Ok(c)) => c,
        _ => Cursor {
            total: context::with_conn(|c| {
                Ok::<_, PipelineError>(reindex::stale_count(c, embedder)?)
            })? as i64,
            ..Cursor::default()
        },
    };
    let (mut tokens, mut embedded, mut refused, mut finished) = (0i64, 0usize, 0usize, false);
    loop {
        let batch = context::with_conn(|c| {
            reindex::reembed_next(c, embedder, cursor.after, BATCH).map_err(|e| match e {
                ReembedError::Unavailable(why) => {
                    PipelineError::Failed(format!("the embedding service is unavailable: {why}"))
                }
                ReembedError::Sqlite(e) => PipelineError::from(e),
            })
        })?;
        let Some(batch) = batch else {
            finished = true;
            break;
        };
        crate::index::hooks::on_chunks_committed(&*ctx.db, embedder.id(), &batch.items);
        cursor.after = batch.last;
        cursor.done += (batch.items.len() + batch.refused.len()) as i64;
        tokens += batch.tokens;
        embedded += batch.items.len();
        refused += batch.refused.len();
        // Stop between batches when the worker's time limit failed the job meanwhile (its
        // follow-up would otherwise run beside this one) or the slice is used up.
        let running = context::with_conn(|c| {
            jobs::set_progress(
                c,
                job.row_id,
                cursor.done,
                cursor.total.max(cursor.done),
                "embedding",
            )?;
            Ok::<_, PipelineError>(jobs::is_running(c, job.row_id)?)
        })?;
        if !running {
            return Ok(None);
        }
        if started.elapsed() >= slice {
            break;
        }
    }
    let result = json!({
        "embedder": embedder.id(), "reembedded": embedded, "refused": refused,
        "tokens": tokens, "done": cursor.done, "total": cursor.total, "continued": !finished,
    })
    .to_string();
    let charge = Charge {
        prices,
        user_id: SYSTEM_USER,
    };
    context::with_conn(|c| {
        let tx = write_tx(c)?;
        reindex::record_usage(&tx, embedder, charge, tokens)?;
        if jobs::complete(&tx, job.row_id, embedded as i64, &result)? && !finished {
            let params = serde_json::to_string(&cursor).expect("a cursor serialises");
            jobs::enqueue_reindex(&tx, Some(&params))?;
        }
        tx.commit()?;
        Ok::<_, PipelineError>(())
    })?;
    let own_index_loaded = ctx
        .db
        .loaded_index()
        .is_some_and(|ix| ix.embedder_id() == embedder.id());
    if finished && !own_index_loaded {
        // A loaded index of this embedder is saved by maintenance; otherwise the saved one
        // may be the previous embedder's, which would queue this again at the next start.
        let dir = ctx.db.dir().join(VECTORS_DIR);
        if let Err(e) = VectorIndex::discard_other(&dir, embedder.id(), embedder.dimensions()) {
            tracing::warn!(error = %e, "could not discard the previous embedder's index");
        }
    }
    tracing::info!(job = %job.uuid, done = cursor.done, total = cursor.total, refused, finished,
                   "reindex slice done");
    Ok(Some(Outcome {
        chunks: embedded,
        tokens,
        embedded: true,
    }))
}
