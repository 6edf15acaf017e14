//! The ingestion worker: runs queued `processing_jobs` in the background, bounded.
//!
//! - Jobs live in each company's database (the queue is durable); the worker only keeps a
//!   set of companies it is draining. [`IngestWorker::notify`] (called after an upload
//!   commits) starts draining a company unless that is already happening.
//! - Each job holds one permit of a semaphore sized to the cores while it runs, so however
//!   many companies upload at once, at most `concurrency` documents are parsed at a time, and
//!   companies take turns (a permit per job, not per company).
//! - A job runs on the blocking pool inside the company's `TenantCtx`, like a request.
//! - At start, [`IngestWorker::start_recovery`] walks every company in the background (a
//!   page at a time, a few companies at once) to queue again the jobs a previous process
//!   left `processing`, and to drain the ones still `pending`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashSet;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{pipeline, reindex_job, uploads};
use crate::embed::{Embedder, lexical};
use crate::index::{VECTORS_DIR, manifest::Manifest};
use crate::pricing::PriceTable;
use crate::store::company::jobs;
use crate::store::db::{Pool, now, write_tx};
use crate::store::primary::companies;
use crate::tenant::provision::UPLOADS_DIR;
use crate::tenant::{TenantCtx, TenantError, TenantRegistry, context};

/// Longest a job may run. A parser stuck on a hostile file (an endless loop cannot be
/// interrupted on a blocking thread) then fails its job and gives its permit back, so the
/// worker keeps serving everyone else; the stuck thread's late result is discarded.
pub const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// How many companies the start-up recovery examines at once.
const RECOVERY_CONCURRENCY: usize = 4;
/// Temporary upload files older than this were left by a crash (an upload in progress
/// writes to its file continuously).
const STALE_UPLOAD_AGE: std::time::Duration = std::time::Duration::from_secs(3600);
/// Companies read from primary.db per page during recovery.
const RECOVERY_PAGE: u32 = 500;

/// Handle to the worker; cheap to clone.
#[derive(Clone)]
pub struct IngestWorker {
    inner: Arc<Inner>,
}

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// Jobs running at once across all companies.
    pub concurrency: usize,
    /// Longest a job may run before it is failed and its permit given back.
    pub job_timeout: Duration,
    /// Prices of the embedding calls' usage rows.
    pub prices: PriceTable,
    /// Queue a reindex when a company's chunks are not the embedder's (see
    /// `reindex_job`). Off when the embedder is only a fallback for a missing model, so a
    /// misplaced model directory does not overwrite good vectors.
    pub auto_reindex: bool,
    /// Longest slice of a reindex job.
    pub reindex_slice: Duration,
    /// First wait before a job that failed for the server's sake (a full disk, a failing
    /// database) runs again; it doubles with each retry, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: IngestWorker::default_concurrency(),
            job_timeout: DEFAULT_JOB_TIMEOUT,
            prices: PriceTable::default(),
            auto_reindex: true,
            reindex_slice: reindex_job::SLICE,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
        }
    }
}

struct Inner {
    registry: Arc<TenantRegistry>,
    embedder: Option<Arc<dyn Embedder>>,
    permits: Arc<Semaphore>,
    options: WorkerOptions,
    /// Companies with a drain task running.
    draining: DashSet<i64>,
    /// When this process started: jobs `processing` since before then were interrupted.
    boot: String,
    stats: IngestStats,
}

/// Counters for /metrics.
#[derive(Default, Debug)]
pub struct IngestStats {
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    /// Runs ended by a failure of the server and queued again.
    pub retried: AtomicU64,
    pub chunks: AtomicU64,
}

impl IngestWorker {
    /// A worker embedding with `embedder` (None: chunks are stored without vectors).
    /// Needs no runtime until used.
    pub fn new(
        registry: Arc<TenantRegistry>,
        embedder: Option<Arc<dyn Embedder>>,
        options: WorkerOptions,
    ) -> Self {
        IngestWorker {
            inner: Arc::new(Inner {
                registry,
                embedder,
                permits: Arc::new(Semaphore::new(options.concurrency.max(1))),
                options,
                draining: DashSet::new(),
                boot: now(),
                stats: IngestStats::default(),
            }),
        }
    }

    /// One job per core: parsing and chunking are CPU-bound.
    pub fn default_concurrency() -> usize {
        crate::machine::cores().min(8)
    }

    /// Company `company_id` has new pending jobs: drain them unless already draining.
    pub fn notify(&self, company_id: i64) {
        self.inner.notify(company_id);
    }

    /// Whether stale chunks of `embedder_id` should be re-embedded in the background: the
    /// worker embeds with that embedder and automatic reindexing is on.
    pub fn reindexes_for(&self, embedder_id: &str) -> bool {
        self.inner.options.auto_reindex
            && self
                .inner
                .embedder
                .as_ref()
                .is_some_and(|e| e.id() == embedder_id)
    }

    /// The registry the worker opens companies from.
    pub fn registry(&self) -> &Arc<TenantRegistry> {
        &self.inner.registry
    }

    /// Jobs completed and failed, and chunks stored, since start.
    pub fn stats(&self) -> &IngestStats {
        &self.inner.stats
    }

    /// Companies whose jobs are being processed now.
    pub fn draining_count(&self) -> usize {
        self.inner.draining.len()
    }

    /// Whether any company is being drained (tests wait on this).
    pub fn is_idle(&self) -> bool {
        self.inner.draining.is_empty()
    }

    /// Starts the background recovery of every company (see the module doc).
    pub fn start_recovery(&self, primary: Pool) -> tokio::task::JoinHandle<RecoveryReport> {
        let worker = self.clone();
        tokio::spawn(async move { worker.recover_all(primary).await })
    }

    /// Recovers one company: interrupted jobs are queued again (or failed after too many
    /// attempts), and pending work is drained.
    pub async fn recover_company(&self, company_id: i64) -> Result<jobs::Recovered, TenantError> {
        let db = self.inner.registry.get(company_id).await?;
        let uploads = db.dir().join(UPLOADS_DIR);
        tokio::task::spawn_blocking(move || {
            uploads::remove_stale_temp_files(&uploads, STALE_UPLOAD_AGE)
        })
        .await?;
        let embedder_changed = self.embedder_changed(db.dir()).await?;
        let ctx = TenantCtx::new(db, None);
        let boot = self.inner.boot.clone();
        let (recovered, pending) = context::scope(
            ctx,
            context::run(move |conn| {
                let tx = write_tx(conn)?;
                let recovered = jobs::recover_interrupted(&tx, &boot)?;
                if embedder_changed && jobs::enqueue_reindex(&tx, None)? {
                    tracing::info!("the embedder changed: reindex queued");
                }
                let pending = jobs::has_pending(&tx)?;
                let retry = jobs::next_retry(&tx)?;
                tx.commit()?;
                Ok::<_, TenantError>((recovered, (pending, retry)))
            }),
        )
        .await?;
        let (pending, retry) = pending;
        if pending {
            self.notify(company_id);
        }
        // Jobs waiting to retry when the previous process stopped: wake when they are due.
        if let Some(due) = retry.as_deref().and_then(until) {
            self.inner.wake_after(company_id, due);
        }
        Ok(recovered)
    }

    /// Whether the company's saved index was built by another embedder than the worker's
    /// and may be replaced: always with automatic reindexing on, and without it only when
    /// it is an earlier version of the lexical embedder (an upgrade replaces nothing better).
    async fn embedder_changed(&self, company_dir: &std::path::Path) -> Result<bool, TenantError> {
        let Some(embedder) = self.inner.embedder.clone() else {
            return Ok(false);
        };
        let auto = self.inner.options.auto_reindex;
        let dir = company_dir.join(VECTORS_DIR);
        let manifest = tokio::task::spawn_blocking(move || Manifest::read(&dir)).await?;
        Ok(manifest.ok().flatten().is_some_and(|m| {
            let changed = m.embedder_id != embedder.id() || m.dimensions != embedder.dimensions();
            changed && (auto || lexical::is_older_version(&m.embedder_id))
        }))
    }

    async fn recover_all(&self, primary: Pool) -> RecoveryReport {
        let mut report = RecoveryReport::default();
        let mut offset = 0;
        loop {
            let p = primary.clone();
            let page = tokio::task::spawn_blocking(move || {
                let conn = p.get()?;
                Ok::<_, anyhow::Error>(companies::list(&conn, RECOVERY_PAGE, offset)?.0)
            })
            .await;
            let page = match page {
                Ok(Ok(page)) => page,
                Ok(Err(e)) => {
                    tracing::error!(error = ?e, "job recovery: listing companies failed");
                    break;
                }
                Err(e) => {
                    tracing::error!(error = ?e, "job recovery: listing companies panicked");
                    break;
                }
            };
            if page.is_empty() {
                break;
            }
            offset += page.len() as u32;
            let mut set = JoinSet::new();
            for company in page.into_iter().filter(|c| c.is_active) {
                while set.len() >= RECOVERY_CONCURRENCY {
                    report.add(set.join_next().await);
                }
                let worker = self.clone();
                set.spawn(async move { (company.id, worker.recover_company(company.id).await) });
            }
            while let Some(done) = set.join_next().await {
                report.add(Some(done));
            }
        }
        if crate::tenant::library::exists(self.inner.registry.data_dir()) {
            let library = crate::tenant::library::LIBRARY_ID;
            report.add(Some(Ok((library, self.recover_company(library).await))));
        }
        tracing::info!(?report, "job recovery finished");
        report
    }
}

/// One company's recovery: its id and what was done (or why not).
type CompanyRecovery = (i64, Result<jobs::Recovered, TenantError>);

/// What the start-up recovery did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub companies: usize,
    pub requeued: usize,
    pub failed: usize,
    pub errors: usize,
}

impl RecoveryReport {
    fn add(&mut self, done: Option<Result<CompanyRecovery, tokio::task::JoinError>>) {
        match done {
            Some(Ok((_, Ok(r)))) => {
                self.companies += 1;
                self.requeued += r.requeued;
                self.failed += r.failed;
            }
            Some(Ok((id, Err(e)))) => {
                self.errors += 1;
                tracing::warn!(company_id = id, error = %e, "job recovery failed for a company");
            }
            Some(Err(e)) => {
                self.errors += 1;
                tracing::error!(error = ?e, "job recovery task panicked");
            }
            None => {}
        }
    }
}

/// How long from now until the stored time `at` (None if it is not in the future).
fn until(at: &str) -> Option<Duration> {
    let at = chrono::DateTime::parse_from_rfc3339(at).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

impl Inner {
    fn notify(self: &Arc<Self>, company_id: i64) {
        if self.draining.insert(company_id) {
            let inner = self.clone();
            tokio::spawn(async move { inner.drain(company_id).await });
        }
    }

    /// Drains company `id` again after `delay`.
    fn wake_after(self: &Arc<Self>, id: i64, delay: Duration) {
        let inner = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            inner.notify(id);
        });
    }

    /// The wait before the `retries`-th retry: `retry_base` doubled each time, capped.
    fn backoff(&self, retries: i64) -> Duration {
        let factor = 1u32 << retries.clamp(0, 16);
        self.options
            .retry_base
            .saturating_mul(factor)
            .min(self.options.retry_max)
    }

    /// Puts job `job_row` of company `id` back in the queue after a failure of the server,
    /// to run again after [`Inner::backoff`]. While even that cannot be written (the disk
    /// still full), the worker keeps the job and tries again with the same backoff: a job is
    /// never left `processing` with no one working on it, and no restart is needed once the
    /// server recovers. Stops if the company or the job is gone.
    fn retry_later(self: &Arc<Self>, id: i64, job_row: i64, retries: i64, why: String) {
        self.stats.retried.fetch_add(1, Ordering::Relaxed);
        let inner = self.clone();
        tokio::spawn(async move {
            let delay = inner.backoff(retries);
            let mut attempt = retries;
            loop {
                match inner.defer(id, job_row, delay, &why).await {
                    Ok(_) => break,
                    Err(TenantError::NotFound) => return,
                    Err(e) => {
                        tracing::warn!(company_id = id, error = %e, "cannot queue a job again yet");
                        attempt += 1;
                        tokio::time::sleep(inner.backoff(attempt)).await;
                    }
                }
            }
            tokio::time::sleep(delay).await;
            inner.notify(id);
        });
    }

    async fn defer(
        &self,
        id: i64,
        job_row: i64,
        delay: Duration,
        why: &str,
    ) -> Result<bool, TenantError> {
        let db = self.registry.get(id).await?;
        let run_after = crate::store::db::timestamp(
            chrono::Utc::now() + chrono::TimeDelta::from_std(delay).unwrap_or_default(),
        );
        let why = why.to_string();
        context::scope(
            TenantCtx::new(db, None),
            context::run(move |c| {
                let tx = write_tx(c)?;
                let deferred = jobs::defer(&tx, job_row, &run_after, &why)?;
                tx.commit()?;
                Ok(deferred)
            }),
        )
        .await
    }

    /// Runs company `id`'s pending jobs one after another until none is left.
    async fn drain(self: Arc<Self>, id: i64) {
        loop {
            match self.run_next(id).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    // Claiming failed (the company closed, its disk full): try again later
                    // rather than at once, which would spin.
                    tracing::warn!(company_id = id, error = %e, "ingestion worker: company unavailable");
                    self.draining.remove(&id);
                    if !matches!(e, TenantError::NotFound) {
                        self.wake_after(id, self.options.retry_base);
                    }
                    return;
                }
            }
            self.draining.remove(&id);
            // A job queued between the last claim and the removal above would otherwise
            // wait for the next upload: look once more, and take the company back if so.
            let again = self.has_pending(id).await.unwrap_or_default();
            if !(again && self.draining.insert(id)) {
                return;
            }
        }
    }

    async fn has_pending(&self, id: i64) -> Result<bool, TenantError> {
        let db = self.registry.get(id).await?;
        context::scope(
            TenantCtx::new(db, None),
            context::run(|c| Ok(jobs::has_pending(c)?)),
        )
        .await
    }

    /// Claims and runs one job; false when there was none.
    async fn run_next(self: &Arc<Self>, id: i64) -> Result<bool, TenantError> {
        // Held by the blocking task itself (below): if the job times out, its thread keeps
        // its slot until the parser really returns, so stuck jobs cannot pile up past the cap.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("semaphore never closed");
        let db = self.registry.get(id).await?;
        let ctx = TenantCtx::new(db, None);
        let Some(job) = context::scope(
            ctx.clone(),
            context::run(|c| Ok::<_, TenantError>(jobs::claim_next(c)?)),
        )
        .await?
        else {
            return Ok(false);
        };
        let embedder = self.embedder.clone();
        let (prices, slice) = (self.options.prices.clone(), self.options.reindex_slice);
        let span =
            tracing::info_span!("ingest_job", company = %ctx.db.company().slug, job = %job.uuid);
        let job_uuid = job.uuid.clone();
        let job_type = job.job_type.clone();
        let job_row = job.row_id;
        let job_retries = job.retries;
        let handle = tokio::task::spawn_blocking({
            let ctx = ctx.clone();
            move || {
                let _permit = permit;
                let _enter = span.enter();
                context::sync_scope(ctx, || match job.job_type.as_str() {
                    jobs::REINDEX => reindex_job::run_job(&job, embedder.as_ref(), &prices, slice),
                    _ => pipeline::run_job(&job, embedder.as_ref(), &prices),
                })
            }
        });
        let handle = match tokio::time::timeout(self.options.job_timeout, handle).await {
            Ok(finished) => finished,
            Err(_) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                let limit = self.options.job_timeout.as_secs();
                let msg = if job_type == jobs::REINDEX {
                    format!("reindexing took longer than {limit} s and was stopped")
                } else {
                    format!(
                        "processing took longer than {limit} s and was stopped; the file may be \
                         too large or malformed"
                    )
                };
                tracing::error!(job = %job_uuid, job_type, "job timed out");
                fail_job(ctx, job_row, msg, &job_uuid).await;
                return Ok(true);
            }
        };
        match handle {
            Ok(Ok(Some(outcome))) => {
                self.stats.completed.fetch_add(1, Ordering::Relaxed);
                self.stats
                    .chunks
                    .fetch_add(outcome.chunks as u64, Ordering::Relaxed);
                tracing::info!(job = %job_uuid, chunks = outcome.chunks, "job finished")
            }
            Ok(Ok(None)) => tracing::info!(job = %job_uuid, "document deleted while processing"),
            Ok(Err(pipeline::PipelineError::Retry(cause))) => {
                let why = cause.to_string();
                tracing::info!(job = %job_uuid, reason = %why, retries = job_retries, "job will run again");
                self.retry_later(id, job_row, job_retries, why);
            }
            Ok(Err(pipeline::PipelineError::Failed(msg))) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::info!(job = %job_uuid, reason = %msg, "document processing failed")
            }
            Ok(Err(_)) => {
                // Internal errors were logged, with their cause, where they happened.
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
            }
            Err(join) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                // A panic outside the parsers (which catch their own): still fail the job so
                // it does not stay `processing`.
                tracing::error!(job = %job_uuid, error = ?join, "job panicked");
                let msg = "internal error while processing the document".to_string();
                fail_job(ctx, job_row, msg, &job_uuid).await;
            }
        }
        Ok(true)
    }
}

/// Fails a job (and its document) whose run ended without recording it (time limit, panic),
/// so it does not stay `processing`.
async fn fail_job(ctx: Arc<TenantCtx>, job_row: i64, msg: String, job_uuid: &str) {
    let failed = context::scope(
        ctx,
        context::run(move |c| {
            let tx = write_tx(c)?;
            jobs::fail(&tx, job_row, &msg)?;
            tx.commit()?;
            Ok::<_, TenantError>(())
        }),
    )
    .await;
    if let Err(e) = failed {
        tracing::error!(job = %job_uuid, error = %e, "could not record the job's failure");
    }
}
