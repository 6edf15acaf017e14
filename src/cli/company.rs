//! `silo company create | list | delete | export | import`: manage companies from the
//! command line.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::app::{App, AppOptions};
use crate::config::DataOpts;
use crate::http::views::companies::Company as CompanyView;
use crate::ops::archive::import::{ImportError, ImportLimits, ImportOptions};
use crate::ops::archive::{export, import};
use crate::store::primary::companies;
use crate::tenant::provision::{self, NewCompany, ProvisionError};

#[derive(clap::Subcommand, Debug)]
pub enum CompanyCommand {
    /// Create a company: its row in primary.db, its database and its index directory.
    Create {
        /// Display name, e.g. "Acme, Inc.".
        #[arg(long)]
        name: String,
        /// Directory-safe identifier (a-z, 0-9, '-', '_'); derived from the name if omitted.
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        industry: Option<String>,
        /// Print the created company as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List companies.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Delete a company and all its files (database, index, uploads). Irreversible.
    Delete {
        /// The company's id (UUID) or slug.
        id: String,
    },
    /// Write a company as one archive (tar + zstd): a consistent copy of its database, its
    /// stored files and a manifest of versions, row counts and sha256s. Safe while a server
    /// runs.
    Export {
        /// The company's id (UUID) or slug.
        id: String,
        /// The archive to write (it must not exist yet; `-` for stdout).
        #[arg(long)]
        out: PathBuf,
    },
    /// Create a company from an archive made by `export`, after checking all of it
    /// (manifest, sha256s, paths, sizes, integrity_check, schema not newer than this binary);
    /// nothing is created if any check fails. Its vector index is rebuilt from the stored
    /// embeddings.
    Import {
        /// The archive (`-` for stdin).
        file: PathBuf,
        /// The new company's name (default: the archived company's).
        #[arg(long)]
        name: Option<String>,
        /// Its slug (default: the archived one, or derived from --name when given).
        #[arg(long)]
        slug: Option<String>,
        /// Do not create the archived users (by default they come with the company, keeping
        /// their ids, roles and passwords; an email already used here is refused).
        #[arg(long)]
        without_users: bool,
        /// Refuse an archive that unpacks to more bytes than this.
        #[arg(long, default_value_t = ImportLimits::default().max_bytes)]
        max_bytes: u64,
        /// Print a JSON report.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(data: &DataOpts, cmd: CompanyCommand) -> anyhow::Result<()> {
    let app = App::open(&data.data_dir, AppOptions::default())?;
    match cmd {
        CompanyCommand::Create {
            name,
            slug,
            industry,
            json,
        } => {
            let input = NewCompany {
                name,
                slug,
                industry,
            };
            let company = match provision::create_company(&app.primary, &app.data_dir, &input) {
                Ok(company) => company,
                Err(ProvisionError::Invalid(e)) => bail!("invalid {}: {}", e.field, e.message),
                Err(e) => return Err(e.into()),
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&CompanyView::from(company))?
                );
            } else {
                println!(
                    "created company {} ({}) id {}",
                    company.name, company.slug, company.uuid
                );
            }
        }
        CompanyCommand::List { json } => {
            let conn = app.primary.get()?;
            let all = companies::all(&conn)?;
            if json {
                let all: Vec<CompanyView> = all.into_iter().map(CompanyView::from).collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                println!("{:<36}  {:<24}  {:<6}  NAME", "ID", "SLUG", "ACTIVE");
                for c in &all {
                    println!(
                        "{:<36}  {:<24}  {:<6}  {}",
                        c.uuid, c.slug, c.is_active, c.name
                    );
                }
            }
        }
        CompanyCommand::Delete { id } => {
            let conn = app.primary.get()?;
            let company = super::find_company(&conn, &id)?;
            super::runtime()?.block_on(provision::delete_company(
                &app.registry,
                &app.primary,
                &app.data_dir,
                &company,
            ))?;
            println!("deleted company {} ({})", company.name, company.slug);
        }
        CompanyCommand::Export { id, out } => {
            let company = super::find_company(&*app.primary.get()?, &id)?;
            let manifest = write_export(&out, |w| {
                export::export_company(
                    &app.primary,
                    &app.data_dir,
                    &company,
                    crate::ops::DEFAULT_BUSY_TIMEOUT,
                    w,
                )
            })?;
            eprintln!(
                "exported company {} ({}): schema version {}, {} documents, {} chunks, {} \
                 conversations, {} files{}",
                company.name,
                company.slug,
                manifest.schema_version,
                manifest.rows("documents"),
                manifest.rows("document_chunks"),
                manifest.rows("conversations"),
                manifest.files.len() - 1,
                if manifest.missing_uploads.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} missing from the data directory)",
                        manifest.missing_uploads.len()
                    )
                }
            );
        }
        CompanyCommand::Import {
            file,
            name,
            slug,
            without_users,
            max_bytes,
            json,
        } => {
            let opts = ImportOptions {
                name,
                slug,
                without_users,
                limits: ImportLimits {
                    max_bytes,
                    ..ImportLimits::default()
                },
            };
            let mut input: Box<dyn std::io::Read> = if file == Path::new("-") {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&file)
                        .with_context(|| format!("opening {}", file.display()))?,
                ))
            };
            let (_, report) =
                match import::import_company(&app.primary, &app.data_dir, &mut input, &opts) {
                    Ok(done) => done,
                    Err(ImportError::Provision(ProvisionError::Invalid(e))) => {
                        bail!("invalid {}: {}", e.field, e.message)
                    }
                    Err(ImportError::Provision(ProvisionError::Conflict(m))) => {
                        bail!("{m}; choose another with --name and --slug")
                    }
                    Err(e) => bail!("{} was not imported: {e}", file.display()),
                };
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "imported company {} ({}) id {}: {} users, {} documents, {} chunks, {} \
                     conversations, {} files, {} chunks indexed, schema {} → {}",
                    report.name,
                    report.slug,
                    report.id,
                    report.users,
                    report.documents,
                    report.chunks,
                    report.conversations,
                    report.files,
                    report.indexed,
                    report.archived_schema_version,
                    report.schema_version
                );
            }
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
        }
    }
    Ok(())
}

/// Runs `write` into `out` (`-`: stdout). A file is written under a temporary name, synced
/// and renamed, so a failed export never leaves a file that looks complete.
fn write_export<T>(
    out: &Path,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    if out == Path::new("-") {
        let mut stdout = std::io::stdout().lock();
        let done = write(&mut stdout)?;
        stdout.flush()?;
        return Ok(done);
    }
    if out.exists() {
        bail!(
            "{} exists; remove it or choose another --out",
            out.display()
        );
    }
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    let outcome = (|| {
        // The archive holds the company's data and its users' password hashes: owner-only,
        // like the data directory and its backups.
        let mut file = std::io::BufWriter::new(
            std::os::unix::fs::OpenOptionsExt::mode(
                std::fs::OpenOptions::new().write(true).create_new(true),
                0o600,
            )
            .open(&partial)
            .with_context(|| format!("creating {}", partial.display()))?,
        );
        let done = write(&mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&partial, out)?;
        anyhow::Ok(done)
    })();
    if outcome.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    outcome
}
