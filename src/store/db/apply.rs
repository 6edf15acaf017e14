//! Applying pending migrations ourselves, in one SQLite transaction, with foreign keys off
//! during the run and `PRAGMA foreign_key_check` before COMMIT.
//!
//! Why not `refinery::Runner::run`: its grouped run opens and commits its own transaction,
//! so nothing can be checked between the last statement and COMMIT. Here the history rows
//! are written exactly as refinery writes them (same table DDL, same columns, version as
//! an integer, checksum as the decimal `u64` text, `applied_on` in RFC 3339), so a later
//! `Runner::run` on the same database sees nothing pending and no divergence.
//!
//! Foreign keys are switched off on the connection *before* the transaction (inside one the
//! PRAGMA is a no-op): a table-rebuild migration (create new, copy, drop old, rename) would
//! otherwise cascade-delete or fail on child rows. The check afterwards catches what the
//! migration broke; violations that were already there before it ran are reported as
//! warnings rather than blocking the upgrade forever.

use std::collections::HashSet;

use refinery::Migration;
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

/// What one successful run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub from: i64,
    pub to: i64,
    /// Names of the migrations applied, in order ("V2__add_x").
    pub applied: Vec<String>,
    /// Foreign key violations that existed before the run and still exist after it.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("schema version {found} is newer than this binary supports ({latest}); upgrade silo")]
    Newer { found: i64, latest: i64 },
    /// `before_change` refused (e.g. the backup could not be written).
    #[error("{0}")]
    Aborted(String),
    #[error("migration history does not match this binary: {0}")]
    Divergent(String),
    #[error("migration {name} failed: {source}")]
    Failed {
        name: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("foreign key check failed after migrating ({count} new violations): {sample}")]
    ForeignKeys { count: usize, sample: String },
}

/// The history table, created exactly as refinery 0.10 creates it (int4 versions).
fn history_ddl(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {table}(
             version int4 PRIMARY KEY,
             name VARCHAR(255),
             applied_on VARCHAR(255),
             checksum VARCHAR(255));"
    )
}

/// The migration's display name, as refinery prints it and as reports list it.
pub fn display_name(m: &Migration) -> String {
    format!("V{}__{}", m.version(), m.name())
}

/// Applies every migration of `migrations` newer than the database's history, in one
/// IMMEDIATE transaction (it waits on busy_timeout for other writers instead of failing
/// half-way). On any error nothing is changed and nothing is recorded.
pub fn apply_pending(
    conn: &mut Connection,
    migrations: &[Migration],
    table: &str,
) -> Result<Applied, ApplyError> {
    apply_pending_with(conn, migrations, table, &mut NoHooks)
}

/// What a caller of [`apply_pending_with`] does at two moments of the run. Both see the
/// database through the migrating transaction; nobody else can write in between.
pub trait Hooks {
    /// Once the write lock is held and there is something to apply, before the first
    /// statement runs: a backup taken here (on another connection) is exactly the state
    /// being migrated. An error aborts the run with nothing changed.
    fn before_change(&mut self, _tx: &Connection) -> Result<(), String> {
        Ok(())
    }
    /// After the last migration and the foreign key check, before COMMIT: the state read
    /// here is exactly the one committed. An error aborts the run with nothing changed.
    fn before_commit(&mut self, _tx: &Connection) -> Result<(), String> {
        Ok(())
    }
}

/// No hooks.
pub struct NoHooks;

impl Hooks for NoHooks {}

/// [`apply_pending`] with [`Hooks`].
pub fn apply_pending_with(
    conn: &mut Connection,
    migrations: &[Migration],
    table: &str,
    hooks: &mut dyn Hooks,
) -> Result<Applied, ApplyError> {
    let fk_on: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA foreign_keys = OFF;")?;
    let outcome = apply_in_tx(conn, migrations, table, hooks);
    if fk_on {
        // Restore what the caller had; the transaction is over either way.
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    }
    outcome
}

fn apply_in_tx(
    conn: &mut Connection,
    migrations: &[Migration],
    table: &str,
    hooks: &mut dyn Hooks,
) -> Result<Applied, ApplyError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(&history_ddl(table))?;
    let mut embedded: Vec<&Migration> = migrations.iter().collect();
    embedded.sort_by_key(|m| m.version());
    let pending = verify_history(&tx, &embedded, table)?;
    let from = recorded_max(&tx, table)?;
    let mut outcome = Applied {
        from,
        to: from,
        ..Applied::default()
    };
    if pending.is_empty() {
        tx.commit()?;
        return Ok(outcome);
    }
    hooks.before_change(&tx).map_err(ApplyError::Aborted)?;
    // A savepoint lets us look at the pre-migration state again, inside the same
    // transaction, if the check afterwards finds violations.
    tx.execute_batch("SAVEPOINT silo_before_migrations;")?;
    run_all(&tx, &pending, table)?;
    let after = foreign_key_violations(&tx)?;
    if !after.is_empty() {
        tx.execute_batch("ROLLBACK TO silo_before_migrations;")?;
        let before: HashSet<_> = foreign_key_violations(&tx)?.into_iter().collect();
        let new: Vec<_> = after.iter().filter(|v| !before.contains(*v)).collect();
        if !new.is_empty() {
            let sample: Vec<String> = new.iter().take(5).map(|v| v.to_string()).collect();
            return Err(ApplyError::ForeignKeys {
                count: new.len(),
                sample: sample.join("; "),
            });
        }
        // Only violations the data already had: apply again and keep them as warnings.
        run_all(&tx, &pending, table)?;
        outcome.warnings = after
            .iter()
            .take(20)
            .map(|v| format!("pre-existing foreign key violation: {v}"))
            .collect();
    }
    tx.execute_batch("RELEASE silo_before_migrations;")?;
    outcome.to = recorded_max(&tx, table)?;
    outcome.applied = pending.iter().map(|m| display_name(m)).collect();
    hooks.before_commit(&tx).map_err(ApplyError::Aborted)?;
    tx.commit()?;
    Ok(outcome)
}

/// Runs each pending migration's SQL and records it the way refinery does.
fn run_all(tx: &Transaction<'_>, pending: &[&Migration], table: &str) -> Result<(), ApplyError> {
    let insert = format!(
        "INSERT INTO {table} (version, name, applied_on, checksum) VALUES (?1, ?2, ?3, ?4)"
    );
    for m in pending {
        let sql = m.sql().unwrap_or_default();
        tx.execute_batch(sql).map_err(|source| ApplyError::Failed {
            name: display_name(m),
            source,
        })?;
        // refinery parses applied_on with `time`'s RFC 3339 parser and the checksum as u64.
        let applied_on = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        tx.execute(
            &insert,
            params![m.version(), m.name(), applied_on, m.checksum().to_string()],
        )?;
    }
    Ok(())
}

fn recorded_max(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<i64> {
    let sql = format!("SELECT COALESCE(MAX(version), 0) FROM {table}");
    tx.query_row(&sql, [], |r| r.get(0))
}

/// Compares the recorded history with the embedded migrations (the same rules as refinery
/// with abort_divergent and abort_missing) and returns the migrations still to apply.
fn verify_history<'m>(
    tx: &Transaction<'_>,
    embedded: &[&'m Migration],
    table: &str,
) -> Result<Vec<&'m Migration>, ApplyError> {
    let sql = format!("SELECT version, name, checksum FROM {table} ORDER BY version");
    let recorded: Vec<(i64, String, String)> = tx
        .prepare(&sql)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let latest = embedded.last().map_or(0, |m| i64::from(m.version()));
    let found = recorded.last().map_or(0, |r| r.0);
    if found > latest {
        return Err(ApplyError::Newer { found, latest });
    }
    for (version, name, checksum) in &recorded {
        let Some(m) = embedded.iter().find(|m| i64::from(m.version()) == *version) else {
            return Err(ApplyError::Divergent(format!(
                "applied migration V{version}__{name} is not known to this binary"
            )));
        };
        if m.name() != name || m.checksum().to_string() != *checksum {
            return Err(ApplyError::Divergent(format!(
                "applied migration V{version}__{name} differs from this binary's {}",
                display_name(m)
            )));
        }
    }
    let done: HashSet<i64> = recorded.iter().map(|r| r.0).collect();
    let mut pending = Vec::new();
    for m in embedded {
        let v = i64::from(m.version());
        if done.contains(&v) {
            continue;
        }
        if v < found {
            return Err(ApplyError::Divergent(format!(
                "{} was never applied but later versions were",
                display_name(m)
            )));
        }
        pending.push(*m);
    }
    Ok(pending)
}

/// One row of `PRAGMA foreign_key_check`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Violation {
    pub table: String,
    pub rowid: Option<i64>,
    pub parent: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rowid {
            Some(id) => write!(f, "{} row {} → missing {}", self.table, id, self.parent),
            None => write!(f, "{} → missing {}", self.table, self.parent),
        }
    }
}

/// Every foreign key violation in the database.
pub fn foreign_key_violations(conn: &Connection) -> rusqlite::Result<Vec<Violation>> {
    conn.prepare("PRAGMA foreign_key_check")?
        .query_map([], |r| {
            Ok(Violation {
                table: r.get(0)?,
                rowid: r.get(1)?,
                parent: r.get(2)?,
            })
        })?
        .collect()
}
