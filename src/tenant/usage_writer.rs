//! Group commit for usage rows. Every model call records a row, so under load many small
//! write transactions of one company queue on SQLite's single write lock (and its busy
//! handler sleeps between retries). Instead, each company with recent usage gets one writer
//! task: concurrent records are put on its queue, and the writer inserts whatever has
//! arrived in one `BEGIN IMMEDIATE` transaction, then answers each caller with its row id.
//!
//! A writer holds the company open (its `TenantCtx`) only while busy: after `idle` without
//! work it stops, and the next record starts a new one. A batch that fails is retried row by
//! row, so one bad row never fails its neighbours.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::{mpsc, oneshot};

use super::{TenantCtx, TenantError, context};
use crate::store::company::usage::{self, NewUsage};
use crate::store::db::{Conn, write_tx};

/// Writers started for one row before it is given up (each replaces one that stopped).
const MAX_WRITER_STARTS: u32 = 8;

/// Why a batched insert failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// The database stayed locked or its pool exhausted: overload, the client may retry.
    #[error("the company database is busy")]
    Busy,
    /// The disk is full: nothing was stored.
    #[error("the disk is full")]
    Full,
    #[error("storing the usage row failed: {0}")]
    Failed(String),
}

impl WriteError {
    /// A failure shared by every row of a batch (errors themselves are not `Clone`).
    fn of_sqlite(e: &rusqlite::Error) -> Self {
        if crate::store::db::is_busy(e) {
            WriteError::Busy
        } else if crate::store::db::is_storage_full(e) {
            WriteError::Full
        } else {
            WriteError::Failed(e.to_string())
        }
    }

    fn of_tenant(e: &TenantError) -> Self {
        match e {
            TenantError::Db(crate::store::db::DbError::Pool(_)) => WriteError::Busy,
            TenantError::Db(crate::store::db::DbError::Sqlite(s)) => WriteError::of_sqlite(s),
            other => WriteError::Failed(other.to_string()),
        }
    }
}

type RowResult = Result<i64, WriteError>;

struct Pending {
    row: NewUsage,
    done: oneshot::Sender<RowResult>,
}

type Queues = DashMap<i64, mpsc::Sender<Pending>>;

/// The per-company usage writers.
pub struct UsageWriter {
    queues: Arc<Queues>,
    max_batch: usize,
    idle: Duration,
    stats: Arc<WriterStats>,
}

/// Counters for /metrics: rows / batches is the mean batch size.
#[derive(Default, Debug)]
pub struct WriterStats {
    pub batches: AtomicU64,
    pub rows: AtomicU64,
}

impl Default for UsageWriter {
    fn default() -> Self {
        UsageWriter::new(512, Duration::from_secs(2))
    }
}

impl UsageWriter {
    pub fn new(max_batch: usize, idle: Duration) -> Self {
        UsageWriter {
            queues: Arc::new(DashMap::new()),
            max_batch: max_batch.max(1),
            idle,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Inserts `row` into the current company's `token_usage`; returns its rowid once the
    /// transaction holding it has committed.
    pub async fn insert(&self, row: NewUsage) -> Result<i64, WriteError> {
        let ctx = context::current()?;
        let company = ctx.db.company().id;
        let (done, answer) = oneshot::channel();
        let mut pending = Pending { row, done };
        // A writer that stopped (idle) is replaced; one that stops at once every time (its
        // task dropped unrun: the runtime is shutting down) must not make this spin.
        let mut attempts = 0;
        loop {
            let queue = self
                .queues
                .entry(company)
                .or_insert_with(|| self.spawn_writer(company, ctx.clone()))
                .clone();
            match queue.send(pending).await {
                Ok(()) => break,
                Err(mpsc::error::SendError(p)) => {
                    self.queues
                        .remove_if(&company, |_, q| q.same_channel(&queue));
                    pending = p;
                    attempts += 1;
                    if attempts >= MAX_WRITER_STARTS {
                        return Err(WriteError::Failed(
                            "the usage writer could not start (shutting down?)".into(),
                        ));
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
        answer
            .await
            .unwrap_or_else(|_| Err(WriteError::Failed("the usage writer stopped".into())))
    }

    fn spawn_writer(&self, company: i64, ctx: Arc<TenantCtx>) -> mpsc::Sender<Pending> {
        let (tx, mut rx) = mpsc::channel::<Pending>(self.max_batch * 2);
        let (queues, me, max_batch, idle) =
            (self.queues.clone(), tx.clone(), self.max_batch, self.idle);
        let stats = self.stats.clone();
        tokio::spawn(async move {
            loop {
                let first = match tokio::time::timeout(idle, rx.recv()).await {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    Err(_) => {
                        // Idle: refuse new sends (callers start a new writer), then write
                        // what slipped in before the close.
                        rx.close();
                        let mut rest = Vec::new();
                        while let Ok(p) = rx.try_recv() {
                            rest.push(p);
                        }
                        if !rest.is_empty() {
                            write_batch(&ctx, rest).await;
                        }
                        break;
                    }
                };
                let mut batch = Vec::with_capacity(max_batch.min(64));
                batch.push(first);
                // Each commit writes every page it touched to the WAL (a table leaf, an index
                // leaf per index, a rollup page), so a batch of one costs about as much as a
                // batch of fifty. Let the handlers already running enqueue their rows first:
                // yield while new rows keep arriving (a few µs each), then write them all.
                let mut idle_yields = 0;
                while batch.len() < max_batch && idle_yields < 2 {
                    let before = batch.len();
                    while batch.len() < max_batch {
                        match rx.try_recv() {
                            Ok(p) => batch.push(p),
                            Err(_) => break,
                        }
                    }
                    idle_yields = if batch.len() == before {
                        idle_yields + 1
                    } else {
                        0
                    };
                    tokio::task::yield_now().await;
                }
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.rows.fetch_add(batch.len() as u64, Ordering::Relaxed);
                write_batch(&ctx, batch).await;
            }
            queues.remove_if(&company, |_, q| q.same_channel(&me));
        });
        tx
    }
}

async fn write_batch(ctx: &Arc<TenantCtx>, batch: Vec<Pending>) {
    let (rows, answers): (Vec<NewUsage>, Vec<_>) =
        batch.into_iter().map(|p| (p.row, p.done)).unzip();
    let ctx2 = ctx.clone();
    let written = tokio::task::spawn_blocking(move || {
        context::sync_scope(ctx2, || context::with_conn(|conn| insert_all(conn, &rows)))
    })
    .await;
    let results: Vec<RowResult> = match written {
        Ok(Ok(results)) => results,
        Ok(Err(e)) => answers
            .iter()
            .map(|_| Err(WriteError::of_tenant(&e)))
            .collect(),
        Err(e) => answers
            .iter()
            .map(|_| Err(WriteError::Failed(format!("usage writer panicked: {e}"))))
            .collect(),
    };
    for (answer, result) in answers.into_iter().zip(results) {
        // The caller may have gone away (client disconnected): the row is stored anyway.
        let _ = answer.send(result);
    }
}

/// Inserts every row in one transaction; if that fails, each row in its own.
fn insert_all(conn: &mut Conn, rows: &[NewUsage]) -> Result<Vec<RowResult>, TenantError> {
    let all = (|| {
        let tx = write_tx(conn)?;
        let ids = rows
            .iter()
            .map(|r| usage::insert(&tx, r))
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit()?;
        Ok::<_, rusqlite::Error>(ids)
    })();
    match all {
        Ok(ids) => Ok(ids.into_iter().map(Ok).collect()),
        Err(e) if rows.len() == 1 => Ok(vec![Err(WriteError::of_sqlite(&e))]),
        Err(e) => {
            tracing::warn!(error = %e, rows = rows.len(), "usage batch failed; retrying row by row");
            Ok(rows
                .iter()
                .map(|r| {
                    let tx = write_tx(conn)?;
                    let id = usage::insert(&tx, r)?;
                    tx.commit()?;
                    Ok(id)
                })
                .map(|r: rusqlite::Result<i64>| r.map_err(|e| WriteError::of_sqlite(&e)))
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_database_is_an_overload_not_an_internal_error() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert!(matches!(WriteError::of_sqlite(&busy), WriteError::Busy));
        let pool = TenantError::Db(crate::store::db::DbError::Sqlite(busy));
        assert!(matches!(WriteError::of_tenant(&pool), WriteError::Busy));
        let broken = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            None,
        );
        assert!(matches!(
            WriteError::of_sqlite(&broken),
            WriteError::Failed(_)
        ));
    }
}
