//! Background jobs as the API shows them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::store::company::jobs;

/// A job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Job {
    pub id: String,
    pub job_type: String,
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
    /// Times the job was put back after a failure of the server (a full disk, a failing
    /// database), not of its input.
    pub retries: i64,
    /// A pending job waiting to retry is not run before this time.
    pub run_after: Option<String>,
}

impl From<jobs::Job> for Job {
    fn from(j: jobs::Job) -> Self {
        Job {
            id: j.uuid,
            job_type: j.job_type,
            document_id: j.document_id,
            status: j.status,
            total_items: j.total_items,
            processed_items: j.processed_items,
            progress: j.progress,
            current_step: j.current_step,
            error: j.error,
            attempts: j.attempts,
            created_at: j.created_at,
            started_at: j.started_at,
            completed_at: j.completed_at,
            updated_at: j.updated_at,
            retries: j.retries,
            run_after: j.run_after,
        }
    }
}
