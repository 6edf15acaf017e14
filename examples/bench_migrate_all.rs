//! Benchmark of `silo migrate-all-companies` on many small companies that are one schema
//! version behind.
//!
//! Setup is deliberately fast and not what provisioning does: one company database one
//! version behind (V1 is the name kept below) is
//! made (migrated by refinery to V1 only, with a few rows), then copied into place for every
//! company, and all the company rows go into primary.db in one transaction. Each measured
//! run re-copies the V1 file and removes the previous run's backups first.
//!
//! Usage (see scripts/bench_migrate_all.sh):
//!   bench_migrate_all [--companies N] [--dir DIR] [--concurrency 1,2] [--silo PATH]

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use rusqlite::{Connection, params};
use silo::app::App;
use silo::app::AppOptions;
use silo::store::db::migrations::MigrationSet;

struct Args {
    companies: usize,
    dir: PathBuf,
    concurrency: Vec<u32>,
    silo: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let exe = std::env::current_exe()?;
    // target/<profile>/examples/bench → target/<profile>/silo
    let default_silo = exe
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("silo"))
        .context("locating the silo binary")?;
    let mut args = Args {
        companies: 10_000,
        dir: std::env::temp_dir().join("silo-bench-migrate"),
        concurrency: vec![1, 2],
        silo: default_silo,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--companies" => args.companies = value.parse()?,
            "--dir" => args.dir = value.into(),
            "--silo" => args.silo = value.into(),
            "--concurrency" => {
                args.concurrency = value.split(',').map(str::parse).collect::<Result<_, _>>()?
            }
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    if !args.silo.is_file() {
        bail!(
            "{} not found: build it with cargo build --release",
            args.silo.display()
        );
    }
    let started = Instant::now();
    let data_dir = setup(&args)?;
    println!(
        "setup: {} companies at V1 in {:.1} s ({})",
        args.companies,
        started.elapsed().as_secs_f64(),
        data_dir.display()
    );
    for (i, &c) in args.concurrency.iter().enumerate() {
        if i > 0 {
            reset(&args, &data_dir)?;
        }
        run(&args, &data_dir, c, &[], "with backups")?;
    }
    // The same data again, everything current: the cost of a no-op run.
    run(&args, &data_dir, 2, &["--no-backup"], "all current")?;
    // What the backups cost: the same migration at concurrency 2 without them.
    reset(&args, &data_dir)?;
    run(&args, &data_dir, 2, &["--no-backup"], "without backups")?;
    Ok(())
}

fn template_path(args: &Args) -> PathBuf {
    args.dir.join("template-v1.db")
}

fn company_db(data_dir: &Path, i: usize) -> PathBuf {
    data_dir
        .join("companies")
        .join(format!("bench-{i:05}"))
        .join("company.db")
}

fn setup(args: &Args) -> anyhow::Result<PathBuf> {
    if args.dir.exists() {
        std::fs::remove_dir_all(&args.dir)?;
    }
    std::fs::create_dir_all(&args.dir)?;
    let app = App::open(&args.dir.join("data"), AppOptions::default())?;
    let data_dir = app.data_dir.clone();
    write_template(&template_path(args))?;
    let template = template_path(args);
    let mut conn = app.primary.get()?;
    let tx = silo::store::db::write_tx(&mut conn)?;
    for i in 0..args.companies {
        common::add_copied_company(&tx, &data_dir, i, &template)?;
    }
    tx.commit()?;
    drop(conn);
    flush_page_cache();
    Ok(data_dir)
}

/// Writes every dirty page out before a measured run. Setup and reset write gigabytes of
/// copies in seconds; left in the page cache, their writeback would land in the middle of
/// the run and every fsync the migration makes would queue behind it — measuring the
/// setup, not the migration. A real installation does not rewrite all its companies just
/// before migrating them.
fn flush_page_cache() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

/// A small company database one schema version behind this binary (so every run measures
/// one real upgrade, the latest migration): a document with chunks, a conversation, usage
/// rows.
fn write_template(path: &Path) -> anyhow::Result<()> {
    let mut conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA journal_mode = WAL;")?;
    let behind = (MigrationSet::Company.latest() - 1).max(1) as i32;
    MigrationSet::Company
        .runner()
        .set_target(refinery::Target::Version(behind))
        .run(&mut conn)?;
    conn.execute_batch(
        "INSERT INTO documents (id, uuid, filename, file_path, uploaded_by)
             VALUES (1, 'doc-1', 'a.txt', 'uploads/a.txt', 'user-1');
         INSERT INTO conversations (id, uuid, user_id) VALUES (1, 'conv-1', 'user-1');
         INSERT INTO messages (uuid, conversation_id, role, content)
             VALUES ('msg-1', 1, 'user', 'hello'), ('msg-2', 1, 'assistant', 'hi');",
    )?;
    for i in 0..20 {
        conn.execute(
            "INSERT INTO document_chunks (uuid, document_id, content, chunk_index, embedding)
             VALUES (?1, 1, ?2, ?3, zeroblob(1536))",
            params![
                format!("chunk-{i}"),
                format!("chunk {i} text about energy"),
                i
            ],
        )?;
        conn.execute(
            "INSERT INTO token_usage (uuid, user_id, provider, model, operation_type)
             VALUES (?1, 'user-1', 'openai', 'gpt', 'chat')",
            [format!("use-{i}")],
        )?;
    }
    Ok(())
}

/// Puts every company back at V1 and removes earlier backups.
fn reset(args: &Args, data_dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    for i in 0..args.companies {
        std::fs::copy(template_path(args), company_db(data_dir, i))?;
    }
    let backups = data_dir.join("backups");
    if backups.exists() {
        std::fs::remove_dir_all(backups)?;
    }
    flush_page_cache();
    println!("reset to V1 in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn run(
    args: &Args,
    data_dir: &Path,
    concurrency: u32,
    extra: &[&str],
    label: &str,
) -> anyhow::Result<()> {
    let log = args.dir.join(format!(
        "run-c{concurrency}-{}.log",
        label.replace(' ', "-")
    ));
    let started = Instant::now();
    let out = Command::new(&args.silo)
        .args(["migrate-all-companies", "--json", "--concurrency"])
        .arg(concurrency.to_string())
        .args(extra)
        .env("SILO_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::from(std::fs::File::create(&log)?))
        .output()?;
    let secs = started.elapsed().as_secs_f64();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("report of the run (stderr in {})", log.display()))?;
    let s = &report["summary"];
    let backup_bytes = dir_size(&data_dir.join("backups"));
    println!(
        "{label}, concurrency {concurrency}: {} companies ({} migrated, {} current, {} failed) \
         in {secs:.2} s = {:.0} companies/s, backups {:.0} MB, exit {}",
        s["total"],
        s["migrated"],
        s["current"],
        s["failed"],
        args.companies as f64 / secs,
        backup_bytes as f64 / 1e6,
        out.status.code().unwrap_or(-1)
    );
    Ok(())
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}
