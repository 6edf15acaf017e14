//! The background `reindex` job: moves a company's chunks to the current embedder.
//!
//! Queued automatically when the company's vector index finds chunks it cannot hold (the
//! embedder changed, or vectors from before chunks were labelled) — at start-up when the
//! index manifest names another embedder, or when the index is loaded. It runs under the
//! worker's permits like a document job, in slices of [`SLICE`]: a slice that runs out of
//! time completes and queues the next one behind the company's other pending jobs, so a
//! company with a million chunks neither holds a permit for hours nor blocks its own
//! uploads. Each batch is committed (vectors and usage row) and then added to the loaded
//! index, so vector search fills in while the reindex runs; keyword search is complete
//! throughout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::index_hooks;
use super::pipeline::{Outcome, PipelineError};
use crate::company::jobs;
use crate::db::write_tx;
use crate::embed::Embedder;
use crate::embed::usage::SYSTEM_USER;
use crate::pricing::PriceTable;
use crate::search::reindex::{self, BATCH, Charge};
use crate::tenant::context;

/// Longest one reindex job runs before handing over to a follow-up job.
pub const SLICE: Duration = Duration::from_secs(30);

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
    if let Err(err) = &result {
        let message = match err {
            PipelineError::Failed(m) => m.clone(),
            PipelineError::Internal(e) => {
                tracing::error!(job = %job.uuid, error = ?e, "reindex failed");
                "internal error while reindexing".into()
            }
        };
        context::with_conn(|c| Ok::<_, PipelineError>(jobs::fail(c, job.row_id, &message)?))?;
    }
    result
}

fn reembed(
    job: &jobs::Job,
    embedder: &dyn Embedder,
    prices: &PriceTable,
    slice: Duration,
) -> Result<Option<Outcome>, PipelineError> {
    let started = Instant::now();
    let ctx = context::current()?;
    let adopted = context::with_conn(|c| {
        let tx = write_tx(c)?;
        let ids = reindex::adopt_unlabelled(&tx, ctx.db.dir(), embedder)?;
        tx.commit()?;
        Ok::<_, PipelineError>(ids)
    })?;
    index_hooks::on_chunks_committed(&ctx.db, embedder.id(), &adopted);
    let total = context::with_conn(|c| {
        let total = reindex::stale_count(c, embedder)? as i64;
        jobs::set_progress(c, job.row_id, 0, total, "embedding")?;
        Ok::<_, PipelineError>(total)
    })?;
    let charge = Charge {
        prices,
        user_id: SYSTEM_USER,
    };
    let (mut after, mut done, mut tokens) = (0i64, 0i64, 0i64);
    let finished = loop {
        if started.elapsed() >= slice {
            break false;
        }
        let batch = context::with_conn(|c| {
            reindex::reembed_next(c, embedder, after, BATCH, charge).map_err(|e| {
                match e.downcast::<crate::embed::EmbedError>() {
                    Ok(embed) => PipelineError::Failed(embed.to_string()),
                    Err(other) => PipelineError::Internal(other),
                }
            })
        })?;
        let Some(batch) = batch else {
            break true;
        };
        index_hooks::on_chunks_committed(&ctx.db, embedder.id(), &batch.ids);
        after = *batch.ids.last().expect("a batch is never empty");
        done += batch.ids.len() as i64;
        tokens += batch.tokens;
        // Progress is informative: a failed update must not fail the job.
        let _ = context::with_conn(|c| {
            Ok::<_, PipelineError>(jobs::set_progress(
                c,
                job.row_id,
                done,
                total.max(done),
                "embedding",
            )?)
        });
    };
    let result = json!({
        "embedder": embedder.id(), "adopted": adopted.len(), "reembedded": done,
        "tokens": tokens, "continued": !finished,
    })
    .to_string();
    context::with_conn(|c| {
        let tx = write_tx(c)?;
        jobs::complete(&tx, job.row_id, done, &result)?;
        if !finished {
            jobs::enqueue_reindex(&tx)?;
        }
        tx.commit()?;
        Ok::<_, PipelineError>(())
    })?;
    tracing::info!(job = %job.uuid, adopted = adopted.len(), reembedded = done, finished,
                   "reindex slice done");
    Ok(Some(Outcome {
        chunks: done as usize,
        tokens,
        embedded: true,
    }))
}
