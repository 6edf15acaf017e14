//! The `processing_jobs` table (seed 003: one table for every kind of background job).
//!
//! Life of a job: `pending` → claimed by a worker (`processing`, attempts + 1, started_at)
//! → `completed` | `failed`. A job left `processing` by a process that died is found by
//! [`recover_interrupted`] at the next start and queued again, or failed once it has been
//! interrupted too often, so no job stays `processing` forever.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Viewer;
use crate::store::db::now;

/// The job type of document ingestion.
pub const DOCUMENT_PROCESSING: &str = "document_processing";
/// The job type of re-embedding a company's chunks for the current embedder.
pub const REINDEX: &str = "reindex";

/// How many times a job may be started before an interruption fails it for good: a file
/// that crashes the process every time must not loop forever.
pub const MAX_ATTEMPTS: i64 = 3;

/// Every status a job can have.
pub const STATUSES: &[&str] = &["pending", "processing", "completed", "failed"];

/// A row of `processing_jobs` (with its document's public id).
#[derive(Clone, Debug)]
pub struct Job {
    pub row_id: i64,
    pub uuid: String,
    pub job_type: String,
    pub document_row_id: Option<i64>,
    /// Public id of the document the job works on.
    pub document_id: Option<String>,
    pub status: String,
    pub total_items: i64,
    pub processed_items: i64,
    /// Fraction done, 0.0 to 1.0.
    pub progress: f64,
    pub current_step: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub updated_at: String,
    /// User id of whoever queued it (None for jobs the system starts).
    pub created_by: Option<String>,
    /// The job's input (JSON), e.g. where a reindex continues.
    pub params: Option<String>,
    /// Times the job was put back after a failure of the server (a full disk, a failing
    /// database), not of its input.
    pub retries: i64,
    /// A pending job waiting to retry is not run before this time.
    pub run_after: Option<String>,
}

const COLUMNS: &str = "j.id, j.uuid, j.job_type, j.document_id, d.uuid, j.status, j.total_items, \
    j.processed_items, j.progress, j.current_step, j.error, j.attempts, j.created_at, \
    j.started_at, j.completed_at, j.updated_at, j.created_by, j.params, j.retries, j.run_after";

impl Job {
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Job {
            row_id: row.get(0)?,
            uuid: row.get(1)?,
            job_type: row.get(2)?,
            document_row_id: row.get(3)?,
            document_id: row.get(4)?,
            status: row.get(5)?,
            total_items: row.get(6)?,
            processed_items: row.get(7)?,
            progress: row.get(8)?,
            current_step: row.get(9)?,
            error: row.get(10)?,
            attempts: row.get(11)?,
            created_at: row.get(12)?,
            started_at: row.get(13)?,
            completed_at: row.get(14)?,
            updated_at: row.get(15)?,
            created_by: row.get(16)?,
            params: row.get(17)?,
            retries: row.get(18)?,
            run_after: row.get(19)?,
        })
    }
}

/// Queues a job; returns its rowid.
pub fn insert(
    conn: &Connection,
    uuid: &str,
    job_type: &str,
    document_id: Option<i64>,
    created_by: Option<&str>,
    params: Option<&str>,
) -> rusqlite::Result<i64> {
    let ts = now();
    conn.prepare_cached(
        "INSERT INTO processing_jobs (uuid, job_type, document_id, status, created_by, params,
             created_at, updated_at)
         VALUES (?1, ?2, ?3, 'pending', ?4, ?5, ?6, ?6)",
    )?
    .execute(params![uuid, job_type, document_id, created_by, params, ts])?;
    Ok(conn.last_insert_rowid())
}

/// A job by rowid.
pub fn get(conn: &Connection, row_id: i64) -> rusqlite::Result<Option<Job>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM processing_jobs j LEFT JOIN documents d ON d.id = j.document_id
         WHERE j.id = ?1"
    );
    conn.prepare_cached(&sql)?
        .query_row([row_id], Job::from_row)
        .optional()
}

/// A job by public id, if `viewer` may see it: its creator and admins may; a document's job
/// is also visible to whoever may see the document.
pub fn get_visible(
    conn: &Connection,
    viewer: &Viewer<'_>,
    uuid: &str,
) -> rusqlite::Result<Option<Job>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM processing_jobs j LEFT JOIN documents d ON d.id = j.document_id
         WHERE j.uuid = ?1 AND (j.created_by = ?3 OR {}) AND (d.id IS NULL OR d.deleted_at IS NULL)",
        super::document_visible("d", "?2", "?3")
    );
    conn.prepare_cached(&sql)?
        .query_row(
            params![uuid, viewer.is_admin, viewer.user_uuid],
            Job::from_row,
        )
        .optional()
}

/// The jobs `viewer` may see (as [`get_visible`]), newest first, optionally of one type and
/// status; with the total count.
pub fn list_visible(
    conn: &Connection,
    viewer: &Viewer<'_>,
    job_type: Option<&str>,
    status: Option<&str>,
    page: super::Page,
) -> rusqlite::Result<(Vec<Job>, u64)> {
    let filter = format!(
        "FROM processing_jobs j LEFT JOIN documents d ON d.id = j.document_id
         WHERE (j.created_by = ?2 OR {}) AND (d.id IS NULL OR d.deleted_at IS NULL)
           AND (?3 IS NULL OR j.job_type = ?3) AND (?4 IS NULL OR j.status = ?4)",
        super::document_visible("d", "?1", "?2")
    );
    let args = params![viewer.is_admin, viewer.user_uuid, job_type, status];
    let total: i64 = conn
        .prepare_cached(&format!("SELECT COUNT(*) {filter}"))?
        .query_row(args, |r| r.get(0))?;
    let items = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} {filter} ORDER BY j.created_at DESC, j.id DESC LIMIT ?5 OFFSET ?6"
        ))?
        .query_map(
            params![
                viewer.is_admin,
                viewer.user_uuid,
                job_type,
                status,
                page.limit,
                page.offset
            ],
            Job::from_row,
        )?
        .collect::<Result<_, _>>()?;
    Ok((items, total as u64))
}

/// The latest job of a document (shown with the document).
pub fn latest_for_document(conn: &Connection, document_id: i64) -> rusqlite::Result<Option<Job>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM processing_jobs j LEFT JOIN documents d ON d.id = j.document_id
         WHERE j.document_id = ?1 ORDER BY j.id DESC LIMIT 1"
    );
    conn.prepare_cached(&sql)?
        .query_row([document_id], Job::from_row)
        .optional()
}

/// Claims the oldest pending job: marks it `processing` and counts the attempt, atomically
/// (one UPDATE ... RETURNING, so two workers can never claim the same job).
pub fn claim_next(conn: &Connection) -> rusqlite::Result<Option<Job>> {
    let ts = now();
    let claimed: Option<i64> = conn
        .prepare_cached(
            "UPDATE processing_jobs
             SET status = 'processing', attempts = attempts + 1, started_at = ?1,
                 completed_at = NULL, error = NULL, run_after = NULL, updated_at = ?1
             WHERE id = (SELECT id FROM processing_jobs WHERE status = 'pending'
                           AND (run_after IS NULL OR run_after <= ?1)
                         ORDER BY created_at, id LIMIT 1)
             RETURNING id",
        )?
        .query_row([&ts], |r| r.get(0))
        .optional()?;
    match claimed {
        Some(id) => get(conn, id),
        None => Ok(None),
    }
}

/// After a reindex job failed (an embedding service down), no new one is queued
/// automatically for this long.
pub const REINDEX_BACKOFF: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// Queues a reindex job with `params` (where to continue; None to start over) unless one is
/// pending or running, or one failed less than [`REINDEX_BACKOFF`] ago. True if it queued
/// one. Call inside a write transaction (the check and the insert must not be split).
pub fn enqueue_reindex(conn: &Connection, params: Option<&str>) -> rusqlite::Result<bool> {
    let since = crate::store::db::timestamp(chrono::Utc::now() - REINDEX_BACKOFF);
    let blocked: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM processing_jobs WHERE job_type = ?1
                 AND (status IN ('pending', 'processing')
                      OR (status = 'failed' AND completed_at > ?2)))",
        )?
        .query_row(params![REINDEX, since], |r| r.get(0))?;
    if blocked {
        return Ok(false);
    }
    insert(conn, &super::new_uuid(), REINDEX, None, None, params)?;
    Ok(true)
}

/// Whether the job is still `processing` (not failed by the worker's time limit meanwhile).
pub fn is_running(conn: &Connection, row_id: i64) -> rusqlite::Result<bool> {
    conn.prepare_cached("SELECT status = 'processing' FROM processing_jobs WHERE id = ?1")?
        .query_row([row_id], |r| r.get(0))
        .optional()
        .map(|r| r.unwrap_or(false))
}

/// Whether any job waits to be claimed now (not counting jobs waiting to retry later).
pub fn has_pending(conn: &Connection) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM processing_jobs WHERE status = 'pending'
             AND (run_after IS NULL OR run_after <= ?1))",
    )?
    .query_row([now()], |r| r.get(0))
}

/// When the earliest job waiting to retry becomes due, if one waits.
pub fn next_retry(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached(
        "SELECT MIN(run_after) FROM processing_jobs WHERE status = 'pending' AND run_after > ?1",
    )?
    .query_row([now()], |r| r.get(0))
}

/// Puts a running job back in the queue, not to be run before `run_after`, after a failure
/// of the server rather than of the job's input (a full disk, a locked or failing
/// database): its `retries` goes up, the attempt is not counted, and its document waits
/// with it. False when the job is no longer `processing`. Call inside a write transaction.
pub fn defer(conn: &Connection, row_id: i64, run_after: &str, why: &str) -> rusqlite::Result<bool> {
    let deferred: Option<Option<i64>> = conn
        .prepare_cached(
            "UPDATE processing_jobs SET status = 'pending', run_after = ?2, retries = retries + 1,
                 attempts = max(attempts - 1, 0), current_step = ?3, updated_at = ?4
             WHERE id = ?1 AND status = 'processing'
             RETURNING document_id",
        )?
        .query_row(
            params![row_id, run_after, format!("waiting to retry: {why}"), now()],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(Some(document)) = deferred {
        super::documents::mark_pending(conn, document)?;
    }
    Ok(deferred.is_some())
}

/// Records progress: `processed` of `total` items, and the step being worked on.
pub fn set_progress(
    conn: &Connection,
    row_id: i64,
    processed: i64,
    total: i64,
    step: &str,
) -> rusqlite::Result<()> {
    let progress = if total > 0 {
        (processed as f64 / total as f64).clamp(0.0, 1.0)
    } else {
        0.0
    };
    conn.prepare_cached(
        "UPDATE processing_jobs SET processed_items = ?2, total_items = ?3, progress = ?4,
             current_step = ?5, updated_at = ?6
         WHERE id = ?1 AND status = 'processing'",
    )?
    .execute(params![
        row_id,
        processed.max(0),
        total.max(0),
        progress,
        step,
        now()
    ])?;
    Ok(())
}

/// Marks a running job completed with a JSON result. False when the job is no longer
/// `processing` (failed by a timeout meanwhile, or gone): the caller must then store nothing.
pub fn complete(
    conn: &Connection,
    row_id: i64,
    items: i64,
    result: &str,
) -> rusqlite::Result<bool> {
    let ts = now();
    Ok(conn.execute(
        "UPDATE processing_jobs SET status = 'completed', processed_items = ?2, total_items = ?2,
             progress = 1.0, current_step = 'done', result = ?3, error = NULL,
             completed_at = ?4, updated_at = ?4
         WHERE id = ?1 AND status = 'processing'",
        params![row_id, items, result, ts],
    )? > 0)
}

/// Marks a running job failed with a message for the user, and its document (if any) with
/// it; false when the job is no longer `processing` (it keeps the verdict it was given).
/// Call inside a write transaction so both change together.
pub fn fail(conn: &Connection, row_id: i64, error: &str) -> rusqlite::Result<bool> {
    let ts = now();
    let failed: Option<Option<i64>> = conn
        .prepare_cached(
            "UPDATE processing_jobs SET status = 'failed', error = ?2, current_step = 'failed',
                 completed_at = ?3, updated_at = ?3
             WHERE id = ?1 AND status = 'processing'
             RETURNING document_id",
        )?
        .query_row(params![row_id, error, ts], |r| r.get(0))
        .optional()?;
    if let Some(Some(document)) = failed {
        super::documents::mark_failed(conn, document, error)?;
    }
    Ok(failed.is_some())
}

/// What [`recover_interrupted`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    pub requeued: usize,
    pub failed: usize,
}

/// Jobs left `processing` by an earlier process (started before `boot`, the start time of
/// this one) go back to `pending` to run again, or fail when they have already been started
/// [`MAX_ATTEMPTS`] times. Their documents follow. Run inside a write transaction.
pub fn recover_interrupted(conn: &Connection, boot: &str) -> rusqlite::Result<Recovered> {
    let ts = now();
    let failed_docs: Vec<Option<i64>> = conn
        .prepare(
            "UPDATE processing_jobs SET status = 'failed', current_step = 'failed',
                 error = 'processing was interrupted ' || attempts || ' times (the server stopped while it ran); giving up',
                 completed_at = ?2, updated_at = ?2
             WHERE status = 'processing' AND (started_at IS NULL OR started_at < ?1) AND attempts >= ?3
             RETURNING document_id",
        )?
        .query_map(params![boot, ts, MAX_ATTEMPTS], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for doc in failed_docs.iter().flatten() {
        let why = "processing was interrupted repeatedly; upload the file again";
        super::documents::mark_failed(conn, *doc, why)?;
    }
    let requeued_docs: Vec<Option<i64>> = conn
        .prepare(
            "UPDATE processing_jobs SET status = 'pending', current_step = 'requeued after restart',
                 updated_at = ?2
             WHERE status = 'processing' AND (started_at IS NULL OR started_at < ?1)
             RETURNING document_id",
        )?
        .query_map(params![boot, ts], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for doc in requeued_docs.iter().flatten() {
        super::documents::mark_pending(conn, *doc)?;
    }
    Ok(Recovered {
        requeued: requeued_docs.len(),
        failed: failed_docs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::company::{documents, testdb};

    #[test]
    fn claim_progress_complete() {
        let db = testdb::open();
        let c = &db.conn;
        let doc = documents::insert(c, &documents::tests::new_doc("u", "user", "t")).unwrap();
        insert(c, "job-1", DOCUMENT_PROCESSING, Some(doc), Some("u"), None).unwrap();
        // A second live job for the same document is refused by the partial unique index.
        assert!(insert(c, "job-2", DOCUMENT_PROCESSING, Some(doc), Some("u"), None).is_err());
        assert!(has_pending(c).unwrap());
        let job = claim_next(c).unwrap().unwrap();
        assert_eq!((job.status.as_str(), job.attempts), ("processing", 1));
        assert!(claim_next(c).unwrap().is_none());
        set_progress(c, job.row_id, 3, 4, "chunking").unwrap();
        let j = get(c, job.row_id).unwrap().unwrap();
        assert_eq!((j.processed_items, j.total_items, j.progress), (3, 4, 0.75));
        complete(c, job.row_id, 4, "{}").unwrap();
        let j = get(c, job.row_id).unwrap().unwrap();
        assert_eq!((j.status.as_str(), j.progress), ("completed", 1.0));
        assert_eq!(
            j.document_id.as_deref(),
            Some(j.document_id.as_deref().unwrap())
        );
    }

    #[test]
    fn visibility_follows_the_document() {
        let db = testdb::open();
        let c = &db.conn;
        let doc = documents::insert(c, &documents::tests::new_doc("alice", "user", "t")).unwrap();
        insert(
            c,
            "job-1",
            DOCUMENT_PROCESSING,
            Some(doc),
            Some("alice"),
            None,
        )
        .unwrap();
        let bob = Viewer {
            user_uuid: "bob",
            is_admin: false,
        };
        let alice = Viewer {
            user_uuid: "alice",
            is_admin: false,
        };
        let admin = Viewer {
            user_uuid: "x",
            is_admin: true,
        };
        assert!(get_visible(c, &bob, "job-1").unwrap().is_none());
        assert!(get_visible(c, &alice, "job-1").unwrap().is_some());
        assert!(get_visible(c, &admin, "job-1").unwrap().is_some());
    }

    #[test]
    fn interrupted_jobs_are_requeued_then_failed() {
        let db = testdb::open();
        let c = &db.conn;
        let doc = documents::insert(c, &documents::tests::new_doc("u", "user", "t")).unwrap();
        let id = insert(c, "job-1", DOCUMENT_PROCESSING, Some(doc), None, None).unwrap();
        claim_next(c).unwrap().unwrap();
        documents::mark_processing(c, doc).unwrap();
        // Started by this very process: left alone.
        let r = recover_interrupted(c, "2000-01-01T00:00:00.000Z").unwrap();
        assert_eq!(r, Recovered::default());
        let boot = "2999-01-01T00:00:00.000Z";
        for attempt in 1..MAX_ATTEMPTS {
            assert_eq!(
                recover_interrupted(c, boot).unwrap().requeued,
                1,
                "attempt {attempt}"
            );
            assert_eq!(documents::get(c, doc).unwrap().unwrap().status, "pending");
            claim_next(c).unwrap().unwrap();
        }
        assert_eq!(
            recover_interrupted(c, boot).unwrap(),
            Recovered {
                requeued: 0,
                failed: 1
            }
        );
        let j = get(c, id).unwrap().unwrap();
        assert_eq!(j.status, "failed");
        assert!(j.error.unwrap().contains("interrupted 3 times"));
        assert_eq!(documents::get(c, doc).unwrap().unwrap().status, "failed");
    }
}
