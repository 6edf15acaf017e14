//! Connection pools: every SQLite connection Silo opens is made here, with the same PRAGMAs.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use r2d2::ManageConnection;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use scheduled_thread_pool::ScheduledThreadPool;

use super::DbError;

pub type Pool = r2d2::Pool<Manager>;
pub type Conn = r2d2::PooledConnection<Manager>;

/// How long a request waits for a pooled connection before giving up. Short, because an
/// exhausted pool means overload, and an init failure would otherwise stall for 30 s.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// Sizing and cache settings of one pool.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    pub max_size: u32,
    /// Page cache per connection in KiB. Company pools keep it small: a thousand open
    /// companies times a few connections add up.
    pub cache_kib: u32,
    /// Memory-mapped I/O per connection in bytes (reads skip a copy through the page cache).
    pub mmap_bytes: u64,
}

impl PoolOptions {
    pub const PRIMARY: PoolOptions = PoolOptions {
        max_size: 8,
        cache_kib: 8 * 1024,
        mmap_bytes: 256 << 20,
    };
    pub const COMPANY: PoolOptions = PoolOptions {
        max_size: 4,
        cache_kib: 1024,
        mmap_bytes: 64 << 20,
    };
}

/// The PRAGMAs every connection gets. `synchronous` and `foreign_keys` are per connection,
/// so they cannot be set once per file.
fn init_sql(opts: PoolOptions) -> String {
    format!(
        "PRAGMA busy_timeout = 5000;
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{};
         PRAGMA mmap_size = {};",
        opts.cache_kib, opts.mmap_bytes
    )
}

/// The connection manager of every pool: r2d2_sqlite's, plus an optional first connection
/// opened (and checked) by the caller, handed out before any new one is made. This saves a
/// second open on a company's cold start, where r2d2 would otherwise open one more
/// connection on its maintenance thread.
pub struct Manager {
    inner: SqliteConnectionManager,
    seed: Mutex<Option<Connection>>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let seeded = self.seed.lock().unwrap_or_else(|p| p.into_inner()).take();
        seeded.map_or_else(|| self.inner.connect(), Ok)
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<(), rusqlite::Error> {
        self.inner.is_valid(conn)
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        self.inner.has_broken(conn)
    }
}

/// Opens one connection to `path` with the PRAGMAs every connection gets. Errors at once
/// (a missing, corrupt or locked file) instead of after a pool's checkout timeout.
pub fn connect(path: &Path, opts: PoolOptions, create: bool) -> Result<Connection, DbError> {
    Ok(manager(path, opts, create).connect()?)
}

fn manager(path: &Path, opts: PoolOptions, create: bool) -> SqliteConnectionManager {
    use rusqlite::OpenFlags;
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let sql = init_sql(opts);
    SqliteConnectionManager::file(path)
        .with_flags(flags)
        .with_init(move |c| c.execute_batch(&sql))
}

/// Builds a lazily filled pool over `path`; `first`, when given, is its first connection.
///
/// `maintenance` is the thread pool shared by all pools (r2d2 opens connections and reaps
/// idle ones there) instead of three threads per pool, which would be thousands of threads
/// with a thousand companies open.
pub fn open_pool(
    path: &Path,
    opts: PoolOptions,
    maintenance: Arc<ScheduledThreadPool>,
    create: bool,
    first: Option<Connection>,
) -> Result<Pool, DbError> {
    let manager = Manager {
        inner: manager(path, opts, create),
        seed: Mutex::new(first),
    };
    let pool = r2d2::Pool::builder()
        .max_size(opts.max_size)
        // Connections are opened on demand; an idle company holds at most what it last used.
        .min_idle(Some(0))
        .idle_timeout(Some(Duration::from_secs(300)))
        .connection_timeout(CHECKOUT_TIMEOUT)
        // A local file connection does not go stale; skip the round trip on every checkout.
        .test_on_check_out(false)
        .thread_pool(maintenance)
        .build_unchecked(manager);
    Ok(pool)
}

/// The shared r2d2 maintenance pool. r2d2 opens every new connection on it, so it has a
/// thread per core (at least two): one thread would serialise the cold starts of all
/// companies behind each other.
pub fn maintenance_pool() -> Arc<ScheduledThreadPool> {
    let threads = crate::machine::cores().max(2);
    Arc::new(
        ScheduledThreadPool::builder()
            .num_threads(threads)
            .thread_name_pattern("silo-r2d2-{}")
            .build(),
    )
}
