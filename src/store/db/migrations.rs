//! The two embedded migration sets (primary and company), each with its own history table,
//! and the version checks made when a database is opened.

use std::sync::OnceLock;

use rusqlite::{Connection, OptionalExtension};

use super::DbError;

mod embedded {
    pub mod primary {
        refinery::embed_migrations!("migrations/primary");
    }
    pub mod company {
        refinery::embed_migrations!("migrations/company");
    }
}

/// Which database a migration set belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MigrationSet {
    Primary,
    Company,
}

impl MigrationSet {
    /// Separate history tables, so pointing a set at the wrong kind of file is detectable.
    pub fn table(self) -> &'static str {
        match self {
            MigrationSet::Primary => "silo_primary_migrations",
            MigrationSet::Company => "silo_company_migrations",
        }
    }

    /// A runner that applies every pending migration in one transaction: a failure leaves
    /// the database at its previous version with nothing recorded.
    pub fn runner(self) -> refinery::Runner {
        let runner = match self {
            MigrationSet::Primary => embedded::primary::migrations::runner(),
            MigrationSet::Company => embedded::company::migrations::runner(),
        };
        let mut runner = runner
            .set_grouped(true)
            .set_abort_divergent(true)
            .set_abort_missing(true);
        runner.set_migration_table_name(self.table());
        runner
    }

    /// The highest version this binary knows (computed once: building a runner hashes
    /// every migration's SQL, and this is asked on every company open).
    pub fn latest(self) -> i64 {
        static LATEST: OnceLock<[i64; 2]> = OnceLock::new();
        let [primary, company] = *LATEST.get_or_init(|| {
            let max = |set: MigrationSet| {
                set.runner()
                    .get_migrations()
                    .iter()
                    .map(|m| i64::from(m.version()))
                    .max()
            };
            [
                max(MigrationSet::Primary).unwrap_or(0),
                max(MigrationSet::Company).unwrap_or(0),
            ]
        });
        match self {
            MigrationSet::Primary => primary,
            MigrationSet::Company => company,
        }
    }

    /// Names of the embedded migrations above `version`, in order ("V2__add_x").
    pub fn pending_after(self, version: i64) -> Vec<String> {
        let mut pending: Vec<_> = self
            .runner()
            .get_migrations()
            .iter()
            .filter(|m| i64::from(m.version()) > version)
            .map(|m| (m.version(), format!("V{}__{}", m.version(), m.name())))
            .collect();
        pending.sort();
        pending.into_iter().map(|(_, name)| name).collect()
    }
}

/// The highest applied version recorded in `conn`, 0 for a database never migrated.
pub fn current_version(conn: &Connection, set: MigrationSet) -> Result<i64, DbError> {
    let has_table: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
        [set.table()],
        |r| r.get(0),
    )?;
    if !has_table {
        return Ok(0);
    }
    let sql = format!("SELECT MAX(version) FROM {}", set.table());
    let version: Option<i64> = conn.query_row(&sql, [], |r| r.get(0)).optional()?.flatten();
    Ok(version.unwrap_or(0))
}

/// Applies every pending migration of `set` in one transaction, with foreign keys off
/// during the run and checked before COMMIT (see [`super::apply`]); returns the version
/// reached. The history stays refinery-compatible.
pub fn migrate(conn: &mut Connection, set: MigrationSet) -> Result<i64, DbError> {
    Ok(migrate_reporting(conn, set)?.to)
}

/// [`migrate`], returning what was applied.
pub fn migrate_reporting(
    conn: &mut Connection,
    set: MigrationSet,
) -> Result<super::apply::Applied, DbError> {
    let runner = set.runner();
    Ok(super::apply::apply_pending(
        conn,
        runner.get_migrations(),
        set.table(),
    )?)
}

/// How a database's schema compares with this binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemaState {
    Current,
    Behind { found: i64, latest: i64 },
    Newer { found: i64, latest: i64 },
}

pub fn schema_state(conn: &Connection, set: MigrationSet) -> Result<SchemaState, DbError> {
    Ok(state_of(current_version(conn, set)?, set))
}

/// Where version `found` stands against this binary's `set`.
pub fn state_of(found: i64, set: MigrationSet) -> SchemaState {
    let latest = set.latest();
    match found.cmp(&latest) {
        std::cmp::Ordering::Equal => SchemaState::Current,
        std::cmp::Ordering::Less => SchemaState::Behind { found, latest },
        std::cmp::Ordering::Greater => SchemaState::Newer { found, latest },
    }
}

/// The applied version of a database file, read through a read-only connection (for
/// reports about companies that are not open).
pub fn file_version(path: &std::path::Path, set: MigrationSet) -> Result<i64, DbError> {
    use rusqlite::OpenFlags;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    current_version(&conn, set)
}
