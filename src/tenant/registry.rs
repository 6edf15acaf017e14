//! The tenant registry: company id → open [`TenantDb`].
//!
//! Companies are opened lazily, from their row in primary.db only, on first use. Opening is
//! single-flight: concurrent first requests share one open. The number of open companies is
//! capped; past the cap the least recently used *idle* companies are closed. A company is in
//! use while anyone holds its `Arc<TenantDb>` (a request's `TenantCtx` does), and an in-use
//! company is never evicted: the cap is exceeded rather than pulling a database from under a
//! request. Pool teardown (which may checkpoint the WAL) happens on the blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use scheduled_thread_pool::ScheduledThreadPool;

use super::names::resolve_inside;
use super::{TenantError, library};
use crate::index::VectorIndex;
use crate::store::db::migrations::{self, MigrationSet, SchemaState};
use crate::store::db::pool::{self, Conn, Pool, PoolOptions};
use crate::store::primary::companies::{self, Company};

/// What to do when a company's schema is behind this binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnSchemaBehind {
    /// Apply the pending migrations on open (grouped, in one transaction).
    Migrate,
    /// Answer 503 until an operator runs `silo migrate-all-companies`.
    Refuse,
}

#[derive(Clone, Copy, Debug)]
pub struct RegistryOptions {
    /// The most companies kept open at once.
    pub max_open: usize,
    /// Approximate memory the loaded vector indexes may hold together; past it, idle
    /// companies with an index are closed, least recently used first.
    pub max_index_bytes: usize,
    pub on_schema_behind: OnSchemaBehind,
    pub pool: PoolOptions,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            max_open: 1000,
            max_index_bytes: 2 << 30,
            on_schema_behind: OnSchemaBehind::Migrate,
            pool: PoolOptions::COMPANY,
        }
    }
}

/// One open company: its row, its connection pool and where its files live.
pub struct TenantDb {
    company: Company,
    pool: Pool,
    dir: PathBuf,
    schema_version: i64,
    /// The company's vector index, loaded on first use (search or ingestion), not on open:
    /// most requests never need it. Single-flight like the company itself.
    vectors: crate::index::Slot,
    /// Set when the company starts closing for maintenance: requests still reading their
    /// body are cut (see [`TenantDb::closing`]) instead of holding the close up.
    closing: tokio::sync::watch::Sender<bool>,
    /// The database failed an integrity check (or answered SQLITE_CORRUPT): writes are
    /// refused until it is restored. Read from the company's row on open.
    damaged: AtomicBool,
    /// A suspected corruption is being checked (see [`TenantDb::suspect_corruption`]).
    checking: AtomicBool,
    /// primary.db, where a damage finding is recorded.
    primary: Pool,
}

impl TenantDb {
    /// Whether the company's database is known to be damaged.
    pub fn is_damaged(&self) -> bool {
        self.damaged.load(Ordering::Acquire)
    }

    /// Marks the company damaged: writes are refused from now on, and the finding is
    /// recorded in primary.db with an audit row (on the blocking pool when called from a
    /// runtime). `found_by` says what noticed it.
    pub fn mark_damaged(&self, what: &str, found_by: &str) {
        if self.damaged.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::error!(company = %self.company.slug, damage = %what, found_by,
            "company database damaged: writes are refused until it is restored");
        let (primary, id, uuid) = (
            self.primary.clone(),
            self.company.id,
            self.company.uuid.clone(),
        );
        let (what, found_by) = (what.to_string(), found_by.to_string());
        if id == library::LIBRARY_ID {
            return; // Not a row of primary.db: the log line above is the record.
        }
        let record = move || {
            let recorded = primary
                .get()
                .map_err(crate::store::db::DbError::from)
                .and_then(|mut conn| {
                    companies::report_damage(&mut conn, id, &uuid, &what, &found_by)
                });
            if let Err(e) = recorded {
                tracing::error!(error = %e, "could not record the damage in primary.db");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(record)),
            Err(_) => record(),
        }
    }

    /// Work for this company met SQLITE_CORRUPT (or NOTADB). The error may have come from
    /// another database (primary.db), so the company is marked damaged only when its own
    /// file then fails `quick_check`; one check at a time, on the blocking pool.
    pub fn suspect_corruption(self: Arc<Self>, what: String, found_by: &'static str) {
        if self.is_damaged() || self.checking.swap(true, Ordering::AcqRel) {
            return;
        }
        let check = move || {
            let finding = match self.conn() {
                Ok(conn) => crate::store::db::integrity::check(
                    &conn,
                    crate::store::db::integrity::Depth::Quick,
                )
                .err(),
                Err(e) => Some(e.to_string()),
            };
            match finding {
                Some(damage) => self.mark_damaged(&format!("{damage} (met: {what})"), found_by),
                None => tracing::warn!(company = %self.company.slug, error = %what,
                    "a corruption error was met, but the company's database passes quick_check"),
            }
            self.checking.store(false, Ordering::Release);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(check)),
            Err(_) => check(),
        }
    }

    /// Resolves when this company starts closing (delete, migrate, restore). Never resolves
    /// otherwise.
    pub fn closing(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            if rx.wait_for(|closing| *closing).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    pub fn company(&self) -> &Company {
        &self.company
    }

    /// The company's directory (database, vector index, uploads).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn schema_version(&self) -> i64 {
        self.schema_version
    }

    /// A pooled connection. Crate-private: outside code reaches company data only through
    /// the task-local context (`tenant::context`).
    pub(crate) fn conn(&self) -> Result<Conn, TenantError> {
        Ok(self.pool.get()?)
    }

    /// The vector index, if it has been loaded.
    pub fn loaded_index(&self) -> Option<&VectorIndex> {
        self.vectors.get()
    }

    /// A pooled connection if one is free right now, without waiting.
    pub(crate) fn try_conn(&self) -> Option<Conn> {
        self.pool.try_get()
    }
}

impl crate::index::Home for TenantDb {
    type Error = TenantError;

    fn index_slot(&self) -> &crate::index::Slot {
        &self.vectors
    }

    fn home_dir(&self) -> PathBuf {
        self.dir.clone()
    }

    fn connect(&self) -> Result<Conn, TenantError> {
        self.conn()
    }

    fn label(&self) -> &str {
        &self.company.slug
    }
}

impl std::fmt::Debug for TenantDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantDb")
            .field("company", &self.company.slug)
            .finish()
    }
}

struct Slot {
    db: tokio::sync::OnceCell<Arc<TenantDb>>,
    last_used: AtomicU64,
}

/// Counters for /metrics and benchmarks.
#[derive(Default, Debug)]
pub struct RegistryStats {
    pub opens: AtomicU64,
    pub evictions: AtomicU64,
    /// Of the evictions, those made to bring index memory under its budget.
    pub index_evictions: AtomicU64,
}

pub struct TenantRegistry {
    data_dir: PathBuf,
    primary: Pool,
    options: RegistryOptions,
    maintenance: Arc<ScheduledThreadPool>,
    slots: DashMap<i64, Arc<Slot>>,
    /// Companies closed for maintenance (migration, restore, deletion) and why.
    closed: DashMap<i64, String>,
    clock: AtomicU64,
    evicting: AtomicBool,
    pub stats: RegistryStats,
}

impl TenantRegistry {
    pub fn new(
        data_dir: PathBuf,
        primary: Pool,
        maintenance: Arc<ScheduledThreadPool>,
        options: RegistryOptions,
    ) -> Self {
        TenantRegistry {
            data_dir,
            primary,
            options,
            maintenance,
            slots: DashMap::new(),
            closed: DashMap::new(),
            clock: AtomicU64::new(0),
            evicting: AtomicBool::new(false),
            stats: RegistryStats::default(),
        }
    }

    /// The data directory the companies live in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The open company `id`, opening it if needed.
    pub async fn get(&self, id: i64) -> Result<Arc<TenantDb>, TenantError> {
        if let Some(reason) = self.closed.get(&id) {
            return Err(TenantError::Unavailable(reason.clone()));
        }
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        // Hot path: the shard read lock is held while cloning, so eviction (which removes
        // under the write lock and only when no one else holds the Arc) cannot interleave.
        let slot = match self.slots.get(&id) {
            Some(slot) => {
                slot.last_used.store(tick, Ordering::Relaxed);
                if let Some(db) = slot.db.get() {
                    return Ok(db.clone());
                }
                slot.clone()
            }
            None => self
                .slots
                .entry(id)
                .or_insert_with(|| {
                    Arc::new(Slot {
                        db: tokio::sync::OnceCell::new(),
                        last_used: tick.into(),
                    })
                })
                .clone(),
        };
        let opened = slot
            .db
            .get_or_try_init(|| async {
                let (data_dir, primary) = (self.data_dir.clone(), self.primary.clone());
                let (options, maintenance) = (self.options, self.maintenance.clone());
                let db = tokio::task::spawn_blocking(move || {
                    open_company(&data_dir, &primary, id, options, maintenance)
                })
                .await??;
                self.stats.opens.fetch_add(1, Ordering::Relaxed);
                Ok::<_, TenantError>(Arc::new(db))
            })
            .await;
        let db = match opened {
            Ok(db) => db.clone(),
            Err(err) => {
                // Forget the empty slot so the next request tries again from scratch.
                self.slots
                    .remove_if(&id, |_, s| Arc::ptr_eq(s, &slot) && s.db.get().is_none());
                return Err(err);
            }
        };
        // Closed for maintenance while this request was opening it: the open went into a
        // slot `close` already removed, so it must not be used.
        if let Some(reason) = self.closed.get(&id) {
            let reason = reason.clone();
            tokio::task::spawn_blocking(move || drop(db));
            return Err(TenantError::Unavailable(reason));
        }
        if self.slots.len() > self.options.max_open {
            release(self.evict_idle());
        }
        Ok(db)
    }

    /// [`TenantRegistry::enforce_index_budget`], saving and closing what it evicts on the
    /// blocking pool. Call from async code after an index loads.
    pub fn trim_indexes(&self) {
        release(self.enforce_index_budget());
    }

    /// Removes least-recently-used idle companies until the registry is back under its cap
    /// (with a little slack, so a cycling workload does not scan on every open). Returns the
    /// evicted handles for the caller to drop off the async threads.
    fn evict_idle(&self) -> Vec<Arc<TenantDb>> {
        if self.evicting.swap(true, Ordering::Acquire) {
            return Vec::new(); // Someone else is already evicting.
        }
        let cap = self.options.max_open;
        let excess = self.slots.len().saturating_sub(cap);
        let mut evicted = Vec::new();
        if excess > 0 {
            let want = excess + cap / 64;
            let mut idle: Vec<(u64, i64)> = self
                .slots
                .iter()
                .filter(|e| e.db.get().is_some_and(|db| Arc::strong_count(db) == 1))
                .map(|e| (e.last_used.load(Ordering::Relaxed), *e.key()))
                .collect();
            if idle.len() > want {
                idle.select_nth_unstable(want);
                idle.truncate(want);
            }
            for (_, id) in idle {
                let removed = self.slots.remove_if(&id, |_, s| {
                    s.db.get().is_some_and(|db| Arc::strong_count(db) == 1)
                });
                if let Some((_, slot)) = removed {
                    if let Some(db) = slot.db.get() {
                        evicted.push(db.clone());
                    }
                    self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.evicting.store(false, Ordering::Release);
        evicted
    }

    /// Approximate memory of every loaded vector index.
    pub fn index_bytes(&self) -> usize {
        self.slots
            .iter()
            .filter_map(|s| {
                s.db.get()
                    .and_then(|db| db.loaded_index())
                    .map(|ix| ix.approx_bytes())
            })
            .sum()
    }

    /// Closes idle companies holding a loaded index, least recently used first, until the
    /// loaded indexes fit in `max_index_bytes` (companies in use are never closed, so the
    /// budget can be exceeded by them). Returns the closed handles for the caller to save
    /// and drop on the blocking pool. Call after an index loads or grows.
    pub fn enforce_index_budget(&self) -> Vec<Arc<TenantDb>> {
        let budget = self.options.max_index_bytes;
        let mut loaded: Vec<(u64, i64, usize)> = self
            .slots
            .iter()
            .filter_map(|e| {
                let bytes = e.db.get()?.loaded_index()?.approx_bytes();
                Some((e.last_used.load(Ordering::Relaxed), *e.key(), bytes))
            })
            .collect();
        let mut total: usize = loaded.iter().map(|l| l.2).sum();
        if total <= budget {
            return Vec::new();
        }
        loaded.sort_unstable();
        let mut evicted = Vec::new();
        for (_, id, bytes) in loaded {
            if total <= budget {
                break;
            }
            let removed = self.slots.remove_if(&id, |_, s| {
                s.db.get().is_some_and(|db| Arc::strong_count(db) == 1)
            });
            if let Some((_, slot)) = removed {
                if let Some(db) = slot.db.get() {
                    evicted.push(db.clone());
                }
                total -= bytes;
                self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                self.stats.index_evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        evicted
    }

    /// Handles to every open company (for maintenance passes; holding them keeps the
    /// companies from being evicted until they are dropped).
    /// Company `id`'s handle if it is open now (does not open it).
    pub fn if_open(&self, id: i64) -> Option<Arc<TenantDb>> {
        self.slots.get(&id).and_then(|s| s.db.get().cloned())
    }

    pub fn open_handles(&self) -> Vec<Arc<TenantDb>> {
        self.slots
            .iter()
            .filter_map(|s| s.db.get().cloned())
            .collect()
    }

    /// Number of companies currently open.
    pub fn open_count(&self) -> usize {
        self.slots.iter().filter(|s| s.db.get().is_some()).count()
    }

    pub fn is_open(&self, id: i64) -> bool {
        self.slots.get(&id).is_some_and(|s| s.db.get().is_some())
    }

    /// Closes company `id` for maintenance: new requests get 503 with `reason` until the
    /// guard is dropped; waits up to `wait` for requests in flight to finish.
    pub async fn close(
        self: &Arc<Self>,
        id: i64,
        reason: &str,
        wait: Duration,
    ) -> Result<ClosedGuard, TenantError> {
        use dashmap::mapref::entry::Entry;
        match self.closed.entry(id) {
            Entry::Occupied(e) => return Err(TenantError::Unavailable(e.get().clone())),
            Entry::Vacant(e) => {
                e.insert(reason.to_string());
            }
        }
        let guard = ClosedGuard {
            registry: self.clone(),
            id,
        };
        let removed = self
            .slots
            .remove(&id)
            .and_then(|(_, slot)| slot.db.get().cloned());
        if let Some(db) = removed {
            // Requests still reading their body end now; handlers already past it finish.
            db.closing.send_replace(true);
            let deadline = Instant::now() + wait;
            while Arc::strong_count(&db) > 1 {
                if Instant::now() >= deadline {
                    return Err(TenantError::Unavailable(format!(
                        "company is busy: requests still running after {} s",
                        wait.as_secs()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::task::spawn_blocking(move || crate::index::lifecycle::persist(&*db)).await?;
        }
        Ok(guard)
    }

    /// Marks every open company closed (for shutdown) and drops idle ones.
    pub fn clear_idle(&self) -> usize {
        let before = self.slots.len();
        self.slots
            .retain(|_, s| s.db.get().is_some_and(|db| Arc::strong_count(db) > 1));
        before - self.slots.len()
    }
}

/// Keeps a company closed while held; reopens it (lazily, on the next request) when dropped.
pub struct ClosedGuard {
    registry: Arc<TenantRegistry>,
    id: i64,
}

impl Drop for ClosedGuard {
    fn drop(&mut self) {
        self.registry.closed.remove(&self.id);
    }
}

/// Saves the indexes of evicted companies and drops them, on the blocking pool: closing
/// connections may checkpoint the WAL, and a dump writes files.
fn release(evicted: Vec<Arc<TenantDb>>) {
    if !evicted.is_empty() {
        tokio::task::spawn_blocking(move || {
            evicted
                .iter()
                .for_each(|db| crate::index::lifecycle::persist(&**db));
        });
    }
}

/// Opens company `id` from its row in primary.db: resolves and checks its path, builds its
/// pool, and checks the schema version (migrating or refusing as configured).
fn open_company(
    data_dir: &Path,
    primary: &Pool,
    id: i64,
    options: RegistryOptions,
    maintenance: Arc<ScheduledThreadPool>,
) -> Result<TenantDb, TenantError> {
    let company = if id == library::LIBRARY_ID {
        // The library is not a row of primary.db; until a super admin adds to it, it is absent.
        if !library::exists(data_dir) {
            return Err(TenantError::NotFound);
        }
        library::row()
    } else {
        companies::get(&*primary.get()?, id)?.ok_or(TenantError::NotFound)?
    };
    if !company.is_active {
        return Err(TenantError::Inactive);
    }
    let path = resolve_inside(data_dir, &company.db_path).map_err(TenantError::Path)?;
    if !path.is_file() {
        return Err(TenantError::Unavailable(format!(
            "the database file of company {} is missing",
            company.slug
        )));
    }
    // The first connection is opened here, not by the pool: a corrupt, locked or newer file
    // must fail fast (a pool retries until its checkout timeout), and this connection then
    // becomes the pool's first instead of being closed and reopened.
    let opened = pool::connect(&path, options.pool, false).and_then(|conn| {
        let state = migrations::schema_state(&conn, MigrationSet::Company)?;
        Ok((conn, state))
    });
    let (mut conn, state) = match opened {
        Ok(opened) => opened,
        Err(e) if crate::store::db::integrity::is_corrupt(&e) && id == library::LIBRARY_ID => {
            return Err(TenantError::Damaged(e.to_string()));
        }
        Err(e) if crate::store::db::integrity::is_corrupt(&e) => {
            let what = e.to_string();
            let mut primary_conn = primary.get()?;
            companies::report_damage(
                &mut primary_conn,
                company.id,
                &company.uuid,
                &what,
                "opening it",
            )?;
            return Err(TenantError::Damaged(what));
        }
        Err(e) => return Err(e.into()),
    };
    let schema_version = match state {
        SchemaState::Current => MigrationSet::Company.latest(),
        SchemaState::Newer { found, latest } => {
            return Err(TenantError::SchemaNewer { found, latest });
        }
        // The library is not one of the companies `migrate-all-companies` walks: it is
        // always migrated on open.
        SchemaState::Behind { found, latest } => match options.on_schema_behind {
            _ if id == library::LIBRARY_ID => {
                migrations::migrate(&mut conn, MigrationSet::Company)?
            }
            OnSchemaBehind::Migrate => {
                tracing::info!(company = %company.slug, found, latest, "migrating company on open");
                // `migrate` turns foreign keys off around the migration and checks them.
                migrations::migrate(&mut conn, MigrationSet::Company)?
            }
            OnSchemaBehind::Refuse => {
                return Err(TenantError::Unavailable(format!(
                    "company database schema is at version {found}, this binary needs {latest}; \
                     run `silo migrate-all-companies`"
                )));
            }
        },
    };
    let pool = pool::open_pool(&path, options.pool, maintenance, false, Some(conn))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(TenantDb {
        pool,
        dir,
        schema_version,
        vectors: tokio::sync::OnceCell::new(),
        closing: tokio::sync::watch::Sender::new(false),
        damaged: AtomicBool::new(company.damaged_at.is_some()),
        checking: AtomicBool::new(false),
        primary: primary.clone(),
        company,
    })
}
