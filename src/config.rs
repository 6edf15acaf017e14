//! Typed configuration, loaded once from flags and environment (clap with `env`).

use std::net::SocketAddr;
use std::path::PathBuf;

use std::time::Duration;

use crate::app::{AppOptions, WorkspaceOptions};
use crate::identity::ratelimit::RateLimitOptions;
use crate::ingest::IngestWorker;
use crate::pricing::PriceTable;
use crate::tenant::{OnSchemaBehind, RegistryOptions};

/// Where Silo keeps its files; shared by every subcommand.
#[derive(clap::Args, Clone, Debug)]
pub struct DataOpts {
    /// Data directory: primary.db, companies/<slug>/, backups/, the JWT secret.
    #[arg(long, env = "SILO_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
}

/// Settings of a running server.
#[derive(clap::Args, Clone, Debug)]
pub struct ServerOpts {
    /// Address and port to listen on.
    #[arg(long, env = "SILO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Most company databases kept open at once; idle ones past this are closed (LRU).
    #[arg(long, env = "SILO_MAX_OPEN_COMPANIES", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_open_companies: u32,

    /// Memory the loaded vector indexes may use together, in MiB; past it, idle companies
    /// with an index are closed, least recently used first (about 4.4 kB per chunk).
    #[arg(long, env = "SILO_MAX_INDEX_MEMORY_MB", default_value_t = 2048,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_index_memory_mb: u64,

    /// What to do when a company's schema is behind this binary on open.
    #[arg(
        long,
        env = "SILO_ON_SCHEMA_BEHIND",
        value_enum,
        default_value = "migrate"
    )]
    pub on_schema_behind: OnSchemaBehind,

    /// Email of the first super admin, created when the installation has none.
    #[arg(long, env = "SILO_ADMIN_EMAIL", default_value = "admin@localhost")]
    pub admin_email: String,

    /// Password of the first super admin; generated and printed once if unset.
    #[arg(long, env = "SILO_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// JWT signing secret (at least 32 bytes); generated into DATA_DIR/jwt_secret if unset.
    #[arg(long, env = "SILO_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Access-token lifetime in seconds.
    #[arg(long, env = "SILO_ACCESS_TOKEN_TTL", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(30..=86_400))]
    pub access_token_ttl: u64,

    /// How long (ms) a token's user, role and company state may be reused before being read
    /// again. Changes made through this server apply at once; changes by another process
    /// (the CLI) apply within this time. 0 reads them on every request.
    #[arg(long, env = "SILO_PRINCIPAL_CACHE_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub principal_cache_ms: u64,

    /// Failed logins allowed per account from one client address per window before that
    /// pair gets 429 (0 disables). The owner logging in from elsewhere is not affected.
    #[arg(long, env = "SILO_LOGIN_LIMIT_ACCOUNT_ADDRESS", default_value_t = 10)]
    pub login_limit_account_address: u32,

    /// Failed logins allowed per client address (any account) per window before 429
    /// (0 disables).
    #[arg(long, env = "SILO_LOGIN_LIMIT_ADDRESS", default_value_t = 50)]
    pub login_limit_address: u32,

    /// Length of the two limits above' window in seconds.
    #[arg(long, env = "SILO_LOGIN_WINDOW", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub login_window: u64,

    /// Failed logins allowed per account from all addresses per account window before 429
    /// (0 disables): slows guessing spread over many addresses.
    #[arg(long, env = "SILO_LOGIN_LIMIT_ACCOUNT", default_value_t = 100)]
    pub login_limit_account: u32,

    /// Length of the per-account window in seconds.
    #[arg(long, env = "SILO_LOGIN_ACCOUNT_WINDOW", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub login_account_window: u64,

    /// Seconds a request body may go without sending a byte before the request is refused
    /// (408). Slow uploads that keep sending are not cut.
    #[arg(long, env = "SILO_BODY_READ_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_read_timeout: u64,

    /// Free space (MiB) the data directory's file system must keep; below it /readyz
    /// answers 503 so a load balancer or operator notices before writes fail (507).
    #[arg(long, env = "SILO_MIN_FREE_DISK_MB", default_value_t = 256)]
    pub min_free_disk_mb: u64,

    /// Every company's database is integrity-checked (PRAGMA quick_check) once per this
    /// many hours, one at a time and spread over the period; a damaged one stops taking
    /// writes (503 company_damaged) until restored. 0 turns the scrub off.
    #[arg(long, env = "SILO_SCRUB_PERIOD_HOURS", default_value_t = 24,
          value_parser = clap::value_parser!(u64).range(0..=8760))]
    pub scrub_period_hours: u64,

    /// Seconds a shutdown (SIGTERM, Ctrl-C) waits for requests in flight to finish before
    /// closing their connections.
    #[arg(long, env = "SILO_SHUTDOWN_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(0..=600))]
    pub shutdown_timeout: u64,

    /// Largest document upload accepted, in bytes.
    #[arg(long, env = "SILO_MAX_UPLOAD_BYTES", default_value_t = 25 << 20,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_upload_bytes: u64,

    /// Documents processed at once across all companies (default: one per core).
    #[arg(long, env = "SILO_INGEST_CONCURRENCY",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub ingest_concurrency: Option<u32>,

    /// Longest a document processing job may run, in seconds, before it is failed.
    #[arg(long, env = "SILO_INGEST_JOB_TIMEOUT", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ingest_job_timeout: u64,

    /// Re-embed a company's chunks in the background when they were made by another
    /// embedder (after changing it). Never done with the lexical fallback standing in for a
    /// missing local model.
    #[arg(long, env = "SILO_AUTO_REINDEX", default_value_t = true,
          action = clap::ArgAction::Set, value_name = "BOOL")]
    pub auto_reindex: bool,

    /// Model price table as JSON, per 1M tokens:
    /// {"currency": "USD", "prices": [{"provider": "custom", "model": null, "prompt": 0.14,
    /// "completion": 0.28, "embedding": 0}]}. Default: custom 0.14/0.28, ollama free.
    #[arg(long, env = "SILO_PRICE_TABLE", value_parser = parse_price_table)]
    pub price_table: Option<PriceTable>,

    /// Days a deleted document, conversation or report stays in the trash, restorable,
    /// before it is purged (rows, chunks, index entries, stored file). Every company is
    /// swept for due items every hour.
    #[arg(long, env = "SILO_TRASH_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub trash_days: u64,
}

fn parse_price_table(raw: &str) -> Result<PriceTable, String> {
    PriceTable::from_json(raw).map_err(|e| e.to_string())
}

impl ServerOpts {
    /// The application options these flags describe.
    pub fn app_options(&self) -> AppOptions {
        AppOptions {
            registry: RegistryOptions {
                max_open: self.max_open_companies as usize,
                max_index_bytes: (self.max_index_memory_mb as usize) << 20,
                on_schema_behind: self.on_schema_behind,
                ..RegistryOptions::default()
            },
            rate_limit: RateLimitOptions {
                per_account_address: self.login_limit_account_address,
                per_address: self.login_limit_address,
                window: Duration::from_secs(self.login_window),
                per_account: self.login_limit_account,
                account_window: Duration::from_secs(self.login_account_window),
            },
            jwt_secret: self.jwt_secret.clone(),
            access_ttl: Duration::from_secs(self.access_token_ttl),
            workspace: WorkspaceOptions {
                max_upload_bytes: self.max_upload_bytes,
                ingest_concurrency: self
                    .ingest_concurrency
                    .map_or_else(IngestWorker::default_concurrency, |n| n as usize),
                prices: self.price_table.clone().unwrap_or_default(),
                ingest_job_timeout: Duration::from_secs(self.ingest_job_timeout),
                auto_reindex: self.auto_reindex,
                trash_retention: Duration::from_secs(self.trash_days * 24 * 3600),
                ..WorkspaceOptions::default()
            },
            principal_ttl: Duration::from_millis(self.principal_cache_ms),
            body_read_timeout: Duration::from_secs(self.body_read_timeout),
            min_free_bytes: self.min_free_disk_mb << 20,
        }
    }
}
