//! `App`: the state every handler and command shares (config, primary pool, tenant
//! registry), and the bootstrap that makes a data directory ready on first use (its first
//! super admin is made by `service::accounts`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::embed::Embedder;
use crate::error::Error;
use crate::identity::principals::PrincipalCache;
use crate::identity::ratelimit::{LoginLimiter, RateLimitOptions};
use crate::identity::secret;
use crate::identity::tokens::JwtKeys;
use crate::ingest::{IngestWorker, WorkerOptions};
use crate::pricing::PriceTable;
use crate::store::db::DbError;
use crate::store::db::migrations::{self, MigrationSet, SchemaState};
use crate::store::db::pool::{self, Conn, Pool, PoolOptions};
use crate::tenant::provision::{self, COMPANIES_DIR};
use crate::tenant::usage_writer::UsageWriter;
use crate::tenant::{RegistryOptions, TenantRegistry};

/// Shared application state. Cheap to clone (`Arc`).
pub type AppState = Arc<App>;

pub struct App {
    pub data_dir: PathBuf,
    pub primary: Pool,
    pub registry: Arc<TenantRegistry>,
    pub keys: JwtKeys,
    pub login_limiter: LoginLimiter,
    /// Bounds how often a company admin may be told "this email is taken" (20 an hour):
    /// emails are unique across the installation, so each such answer says the address is
    /// registered somewhere; the bound keeps that from becoming a directory of addresses.
    pub email_probes: LoginLimiter,
    /// Who each token's user is, for up to `AppOptions::principal_ttl`.
    pub principals: PrincipalCache,
    /// Bounds concurrent argon2 work: each hash holds 19 MiB and a core for ~18 ms, and on a
    /// small machine unbounded hashing stalls every other request.
    pub hashing: crate::identity::hasher::Hasher,
    /// Limits and prices of the company workspace API (documents, usage).
    pub workspace: WorkspaceOptions,
    /// The embedder ingestion uses; None stores chunks without embeddings (keyword search
    /// only) until the semantic-search work provides one.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Background document processing; `start_recovery` must be called once serving.
    pub ingest: IngestWorker,
    /// Group commit of usage records, one writer per busy company.
    pub usage_writer: UsageWriter,
    /// Bounds semantic searches embedding their query at once (one per core): a burst
    /// queues here, without holding threads, instead of running dozens of model inferences
    /// side by side on the blocking pool.
    pub query_embeddings: tokio::sync::Semaphore,
    /// Longest a request body may go without sending a byte before it is refused with 408.
    pub body_read_timeout: Duration,
    /// What the background integrity scrub found since start.
    pub scrub: ScrubStats,
    /// Set once shutdown begins: /readyz answers 503 while requests in flight finish.
    pub draining: std::sync::atomic::AtomicBool,
    /// Below this many free bytes on the data directory's file system /readyz answers 503.
    pub min_free_bytes: u64,
    /// The Prometheus registry /metrics renders (see `http::metrics`).
    pub metrics: metrics_exporter_prometheus::PrometheusRecorder,
    /// The web console's sessions (see `identity::console_sessions`).
    pub console_sessions: crate::identity::console_sessions::ConsoleSessions,
    /// The last walk of the data directory's sizes: when, and the bytes found.
    pub storage_bytes: std::sync::Mutex<Option<(std::time::Instant, u64)>>,
}

/// What the background integrity scrub found since start (for /metrics).
#[derive(Default, Debug)]
pub struct ScrubStats {
    pub ok: std::sync::atomic::AtomicU64,
    pub damaged: std::sync::atomic::AtomicU64,
}

/// Settings of the company workspace API.
#[derive(Clone, Debug)]
pub struct WorkspaceOptions {
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: u64,
    /// Documents processed at once across all companies.
    pub ingest_concurrency: usize,
    pub prices: PriceTable,
    /// How long a company's usage writer waits for more work before it stops.
    pub usage_batch_idle: Duration,
    /// Longest a document job may run before it is failed.
    pub ingest_job_timeout: Duration,
    /// Re-embed a company's chunks in the background when they are not the embedder's.
    pub auto_reindex: bool,
    /// First and longest wait before a job that failed for the server's sake runs again.
    pub job_retry_base: Duration,
    pub job_retry_max: Duration,
    /// How long a deleted document, conversation or report stays restorable.
    pub trash_retention: Duration,
}

impl WorkspaceOptions {
    fn worker(&self) -> WorkerOptions {
        WorkerOptions {
            concurrency: self.ingest_concurrency,
            job_timeout: self.ingest_job_timeout,
            prices: self.prices.clone(),
            auto_reindex: self.auto_reindex,
            // A slice ends well before the job time limit could fail it.
            reindex_slice: crate::ingest::reindex_job::SLICE.min(self.ingest_job_timeout / 2),
            retry_base: self.job_retry_base,
            retry_max: self.job_retry_max,
        }
    }
}

impl Default for WorkspaceOptions {
    fn default() -> Self {
        WorkspaceOptions {
            max_upload_bytes: 25 << 20,
            ingest_concurrency: IngestWorker::default_concurrency(),
            prices: PriceTable::default(),
            usage_batch_idle: Duration::from_secs(2),
            ingest_job_timeout: crate::ingest::worker::DEFAULT_JOB_TIMEOUT,
            auto_reindex: true,
            job_retry_base: Duration::from_secs(5),
            job_retry_max: Duration::from_secs(300),
            trash_retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// Everything `App::open` can be told; defaults suit a small installation.
#[derive(Clone, Debug)]
pub struct AppOptions {
    pub registry: RegistryOptions,
    pub rate_limit: RateLimitOptions,
    /// The signing secret; generated into the data directory when None.
    pub jwt_secret: Option<String>,
    pub access_ttl: Duration,
    pub workspace: WorkspaceOptions,
    /// How long a loaded principal may be reused; changes made through this process apply
    /// at once regardless, changes made by another process within this time.
    pub principal_ttl: Duration,
    /// See [`App::body_read_timeout`].
    pub body_read_timeout: Duration,
    /// See [`App::min_free_bytes`].
    pub min_free_bytes: u64,
}

impl Default for AppOptions {
    fn default() -> Self {
        AppOptions {
            registry: RegistryOptions::default(),
            rate_limit: RateLimitOptions::default(),
            jwt_secret: None,
            access_ttl: Duration::from_secs(15 * 60),
            principal_ttl: Duration::from_secs(2),
            body_read_timeout: Duration::from_secs(30),
            min_free_bytes: 256 << 20,
            workspace: WorkspaceOptions::default(),
        }
    }
}

impl App {
    /// Opens (creating if needed) the data directory and primary database, applies the
    /// primary migrations, and cleans what an interrupted provisioning left. Blocking.
    pub fn open(data_dir: &Path, options: AppOptions) -> anyhow::Result<App> {
        create_private_dir(data_dir)?;
        let data_dir = data_dir
            .canonicalize()
            .with_context(|| format!("resolving data directory {}", data_dir.display()))?;
        create_private_dir(&data_dir.join(COMPANIES_DIR))?;
        let maintenance = pool::maintenance_pool();
        let primary_path = data_dir.join("primary.db");
        let primary = pool::open_pool(
            &primary_path,
            PoolOptions::PRIMARY,
            maintenance.clone(),
            true,
            None,
        )?;
        {
            let mut conn = primary.get().context("opening primary.db")?;
            match migrations::schema_state(&conn, MigrationSet::Primary)? {
                SchemaState::Newer { found, latest } => bail!(
                    "primary.db schema is at version {found}, newer than this binary supports \
                     ({latest}); upgrade silo"
                ),
                SchemaState::Behind { .. } => {
                    migrations::migrate(&mut conn, MigrationSet::Primary)
                        .context("migrating primary.db")?;
                }
                SchemaState::Current => {}
            }
        }
        let removed = provision::cleanup_leftovers(&primary, &data_dir, Duration::from_secs(600))?;
        if removed > 0 {
            tracing::info!(removed, "removed leftovers of interrupted provisioning");
        }
        let secret = secret::load_or_create(&data_dir, options.jwt_secret.as_deref())?;
        let registry = Arc::new(TenantRegistry::new(
            data_dir.clone(),
            primary.clone(),
            maintenance,
            options.registry,
        ));
        let ingest = IngestWorker::new(registry.clone(), None, options.workspace.worker());
        let cores = crate::machine::cores();
        Ok(App {
            data_dir,
            primary,
            registry,
            keys: JwtKeys::new(&secret, options.access_ttl),
            login_limiter: LoginLimiter::new(options.rate_limit),
            email_probes: LoginLimiter::new(crate::identity::ratelimit::RateLimitOptions {
                per_account_address: 0,
                per_address: 0,
                window: Duration::from_secs(3600),
                per_account: 20,
                account_window: Duration::from_secs(3600),
            }),
            principals: PrincipalCache::new(options.principal_ttl),
            hashing: crate::identity::hasher::Hasher::new((cores / 2).max(1)),
            ingest,
            usage_writer: UsageWriter::new(512, options.workspace.usage_batch_idle),
            query_embeddings: tokio::sync::Semaphore::new(cores),
            body_read_timeout: options.body_read_timeout,
            draining: std::sync::atomic::AtomicBool::new(false),
            scrub: Default::default(),
            min_free_bytes: options.min_free_bytes,
            metrics: metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder(),
            console_sessions: Default::default(),
            storage_bytes: Default::default(),
            embedder: None,
            workspace: options.workspace,
        })
    }
}

/// Creates a directory readable by its owner only (it holds every company's data).
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

impl App {
    /// Runs `f` with a primary-database connection on the blocking pool.
    pub async fn with_primary<T, F>(self: &Arc<Self>, f: F) -> Result<T, Error>
    where
        F: FnOnce(&mut Conn) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = app.primary.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await?
    }

    /// Like [`App::with_primary`] for short reads by key: inline when a connection is free
    /// right now (microseconds, cheaper than a thread hop), else on the blocking pool.
    pub async fn read_primary<T, F>(self: &Arc<Self>, f: F) -> Result<T, Error>
    where
        F: FnOnce(&mut Conn) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        match self.primary.try_get() {
            Some(mut conn) => f(&mut conn),
            None => self.with_primary(f).await,
        }
    }

    /// Records an administrative action in the audit log. A failure is logged, not returned:
    /// the action itself has already happened.
    pub async fn audit(
        self: &Arc<Self>,
        actor: &crate::identity::Actor,
        action: &'static str,
        target: String,
        detail: serde_json::Value,
    ) {
        let actor_id = actor.user_id;
        let written = self
            .with_primary(move |conn| {
                Ok(crate::store::primary::audit::record(
                    conn, actor_id, action, &target, &detail,
                )?)
            })
            .await;
        if let Err(err) = written {
            tracing::error!(error = %err, action, "could not write the audit log");
        }
    }

    /// Runs argon2 work on the low-priority hashing threads (cores/2 of them).
    pub async fn hash_work<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Error> {
        self.hashing
            .run(f)
            .await
            .ok_or_else(|| Error::internal(anyhow::anyhow!("password hashing failed")))
    }
}

impl App {
    /// Installs the embedder ingestion uses (and search will use). Call before serving:
    /// the worker is rebuilt around it.
    pub fn set_embedder(&mut self, embedder: Arc<dyn Embedder>) {
        self.ingest = IngestWorker::new(
            self.registry.clone(),
            Some(embedder.clone()),
            self.workspace.worker(),
        );
        self.embedder = Some(embedder);
    }
}
